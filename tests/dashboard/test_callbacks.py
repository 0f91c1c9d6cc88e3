"""Every callback, posted through Dash's own endpoint as dash-renderer would post it: no browser needed.

Each user action is one request that parses the filters once and filters the forms once; every
callback the page registers answers 200; crafted payloads get the default view, not an error.
"""

import io
import json

import pandas as pd
import pytest

from dashboard import selection
from dashboard.app import create_app
from scripts.dash_client import DashClient
from tests.conftest import DEMO
from tests.dashboard.table_client import ask, listed

VIEW = "..url.search..."  # update_view's output key starts so


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test counts its own filter passes: nothing cached by an earlier test in this worker."""
    selection._cache.clear()
    selection.work.clear()


@pytest.fixture()
def page(demo):
    client = DashClient(create_app(demo))
    client.fire("url", "search", "")  # the first load
    return client


def _one_view_request(page: DashClient, start: int) -> dict:
    # A map click also reaches the form panel's callback, which answers a click on a region with nothing (204) and
    # without reading the view (no parse, no filter pass: counted by the caller).
    sent = [e for e in page.log[start:] if not (e.output.startswith("..form-detail.") and e.status == 204)]
    assert [e.output[: len(VIEW)] for e in sent] == [VIEW], [e.output[:60] for e in sent]
    return sent[0].reply


ACTIONS = [
    ("phase", "value", "voting"),
    ("regions", "value", ["KZ-KAR", "KZ-PAV"]),
    ("metric", "value", "problem"),
    ("problem", "value", "overcrowding"),
    ("setting", "value", "rural"),
    ("evoting", "value", "no"),
    ("orgs", "value", ["ODIHR"]),
    ("overall", "value", ["bad", "very bad"]),
    ("hours", "value", [8, 20]),
    ("region-map", "clickData", {"points": [{"curveNumber": 0, "location": "KZ-YUZ"}]}),
    ("back", "n_clicks", 1),
    ("reset", "n_clicks", 1),
    ("mode-toggle", "n_clicks", 1),
]


@pytest.mark.parametrize(("component", "prop", "value"), ACTIONS)
def test_each_user_action_is_one_request_one_parse_one_filter_pass(page, component, prop, value):
    selection._cache.clear()
    selection.work.clear()
    start = len(page.log)
    page.fire(component, prop, value)
    reply = _one_view_request(page, start)
    assert selection.work["filters_parsed"] == 1 and selection.work["rows_filtered"] == 1, dict(selection.work)
    assert "geojson" not in json.dumps(reply["region-map"])  # values travel, shapes stay in the browser
    findings = {"headlines", "n-shown", "region-table-next", "problem-chart-next", "timeline-next"}
    assert "export-link" in reply
    # The same forms, problem and threshold (Back on a page that was not drilled into changes nothing): the findings stay.
    if component in ("metric", "mode-toggle", "back"):
        assert not findings & set(reply), sorted(findings & set(reply))
    else:
        assert findings <= set(reply)


def test_findings_left_unsent_are_those_a_fresh_page_shows(page, demo):
    """A change of metric or mode sends the map, not the findings: the page then shows what a fresh page would."""
    page.fire("phase", "value", "voting")
    page.fire("overall", "value", ["bad", "very bad"])
    page.fire("metric", "value", "coverage")
    page.fire("mode-toggle", "n_clicks", 1)
    fresh = DashClient(create_app(demo))
    fresh.fire("url", "search", page.props[("url", "search")])
    for part in [("headlines", "children"), ("n-shown", "children"), ("region-table-next", "data"), ("problem-chart-next", "data"),
                 ("timeline-next", "data"), ("problem-title", "children"), ("region-table-title", "children")]:  # fmt: skip
        assert page.props[part] == fresh.props[part], part


def test_findings_are_sent_again_when_the_data_moved_under_the_page(page):
    """The figures were made from other data (a new version not yet announced by the poll): a metric change redraws all."""
    page.props[("filters", "data")] = {**page.props[("filters", "data")], "shown": "an older version"}
    start = len(page.log)
    page.fire("metric", "value", "forms")
    assert {"headlines", "n-shown", "region-table-next", "problem-chart-next", "timeline-next"} <= set(_one_view_request(page, start))


def test_the_same_view_again_filters_nothing(page):
    page.fire("phase", "value", "opening")
    selection.work.clear()
    page.fire("phase", "value", "voting")
    page.fire("phase", "value", "opening")
    assert selection.work["rows_filtered"] == 1 and selection.work["cache_hits"] == 1


def test_a_view_seen_before_is_not_drawn_again_and_reads_the_same(page, monkeypatch):
    from dashboard import views

    page.fire("phase", "value", "opening")
    first = page.log[-1].reply
    drawn = []
    real = views.map_patch
    monkeypatch.setattr(views, "map_patch", lambda *a, **k: drawn.append(a) or real(*a, **k))
    page.fire("phase", "value", "voting")
    page.fire("phase", "value", "opening")
    assert len(drawn) == 1  # voting drawn; opening remembered
    again = page.log[-1].reply
    for part in ("region-map", "headlines", "region-table-next", "problem-chart-next", "timeline-next", "n-shown", "map-caption"):
        assert again[part] == first[part], part


def test_every_callback_answers(page):
    page.fire("phase", "value", "tabulation")
    page.fire("as-fraction", "value", True)
    page.fire("viewport", "data", [700, 500])
    page.fire("table-toggle", "n_clicks", 1)
    page.fire("table-search", "value", "KZ")  # read by the server with the grid's next request (table-ask)
    ask(page)
    page.fire("more-toggle", "n_clicks", 1)
    page.fire("teams", "search_value", "T0")
    page.fire("poll", "n_intervals", 1)  # the page's check for new data (nothing new here: an empty reply)
    page.fire("problem-chart", "clickData", {"points": [{"customdata": [1, 2, "protocol_tampering"]}]})
    page.fire("forms-table", "cellClicked", {"rowId": "T001-02", "colId": "form_id"})  # one form in the side panel
    posted = {e.output for e in page.log}
    # The empty view's clear button is made by the view callback (a pattern-matching id): test_analyst_fixes posts it.
    server_side = {d["output"] for d in page.dependencies if d.get("clientside_function") is None and not _pattern_matching(d)}
    assert posted == server_side
    assert all(e.status == 200 for e in page.log)
    page.fire("table-search", "value", "")
    rows, _ = listed(page)
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    tab = raw[(raw.form_type == "tabulation") & (raw.protocol_tampering == "yes")]
    assert sorted(r["form_id"] for r in rows) == sorted(tab.form_id)


def test_the_csv_link_gives_the_forms_the_page_counts(page):
    reply = page.fire("phase", "value", "voting")
    page.fire("regions", "value", ["KZ-KAR"])
    href = page.props[("export-link", "href")]
    n = int(next(c for c in _strong(page.props[("n-shown", "children")]) if c is not None))
    csv = pd.read_csv(io.StringIO(page.client.get(href).get_data(as_text=True)), dtype=str)
    assert len(csv) == n and set(csv.region_code) == {"KZ-KAR"} and set(csv.form_type) == {"voting"}
    assert reply["url"]["search"] == "?form=voting"


def test_teams_are_found_as_one_types_not_all_sent_with_the_page(page, demo):
    from tests.conftest import components

    layout = components(page.client.get("/_dash-layout").json)
    assert layout["teams"]["props"]["options"] == []  # 230 teams here; 83,000 in a national network
    teams = sorted(demo.forms["team_id"].dropna().unique())
    found = page.fire("teams", "search_value", teams[0][-3:].lower())["teams"]["options"]
    assert teams[0] in found and all(teams[0][-3:].lower() in t.lower() for t in found) and len(found) <= 50
    page.props[("teams", "value")] = [teams[1]]
    assert page.fire("teams", "search_value", "")["teams"]["options"] == [teams[1]]  # the chosen ones stay


def test_the_csv_streams_a_slice_at_a_time_and_reads_as_one_file(page, demo, monkeypatch):
    from dashboard.selection import Selection

    real = Selection.row_chunks
    monkeypatch.setattr(Selection, "row_chunks", lambda self, every_phase=False, size=0: real(self, every_phase, size=100))
    reply = page.client.get("/export.csv", buffered=False)
    assert reply.is_streamed
    text = b"".join(reply.response).decode("utf-8")
    assert text.count("form_id,") == 1  # one header, whatever the slices
    csv = pd.read_csv(io.StringIO(text), dtype=str)
    assert len(csv) == len(demo.forms) and csv["form_id"].is_unique


def _strong(children) -> list:
    return [c["props"].get("data-n") for c in children if isinstance(c, dict) and c.get("type") == "Strong"]


@pytest.mark.parametrize(
    "store",
    [
        {"form_type": "<img src=x onerror=alert(1)>", "regions": ["KZ-XXX", 7], "hours": [25, 3], "min_n": -4},
        {"regions": "KZ-KAR", "orgs": [{"$ne": 1}], "drill": ["KZ-KAR"]},
        None,
    ],
)
def test_a_crafted_store_gets_a_checked_view(page, store):
    page.props[("filters", "data")] = store
    reply = page.fire("as-fraction", "value", True)
    assert page.log[-1].status == 200 and "headlines" in reply
    reply = page.fire("phase", "value", "voting")
    assert page.log[-1].status == 200
    kept = reply["filters"]["data"]
    assert kept["form_type"] == "voting" and kept["drill"] is None and "KZ-XXX" not in kept["regions"]


# ------------------------------------------------------------------------------- odd names, end to end
def test_an_odd_region_code_and_organisation_survive_url_csv_and_download_names(tmp_path, monkeypatch):
    """A region code with non-ASCII letters and a quote, an organisation with a comma: the page's URL,
    the CSV it links to and the download names all keep them."""
    from urllib.parse import unquote

    import geopandas as gpd
    from shapely.geometry import box

    from geo.mission import build_mission
    from tests.conftest import form_rows

    code, org = 'KZ-ÄÖ"1', "OSCE PA, Delegation"
    regions = gpd.GeoDataFrame({"code": [code, "BB"], "name": ["Ä-land", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)
    rows = [
        {"form_type": "voting", "region_code": code, "observer_org": org, "overall": "bad"},
        {"form_type": "voting", "region_code": code, "observer_org": "ODIHR", "overall": "good"},
        {"form_type": "voting", "region_code": "BB", "observer_org": org, "overall": "good"},
    ]
    mission = build_mission(tmp_path / "m", regions, form_rows(rows), {"name": "Odd"}, join=False)
    page = DashClient(create_app(mission))
    page.fire("url", "search", "")
    page.fire("phase", "value", "voting")
    page.fire("regions", "value", [code])
    reply = page.fire("orgs", "value", [org])
    search = reply["url"]["search"]
    fresh = DashClient(create_app(mission))
    restored = fresh.fire("url", "search", search)
    assert restored["regions"]["value"] == [code] and restored["orgs"]["value"] == [org] and not restored["notices"]["children"]

    response = page.client.get(page.props[("export-link", "href")])
    csv = pd.read_csv(io.StringIO(response.get_data(as_text=True)), dtype=str)
    assert list(csv.form_id) == ["F000"] and set(csv.observer_org) == {org} and set(csv.region_code) == {code}
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    # Every filter is named: the organisation's comma and spaces become "_"
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"obsmap-voting-{code}-org_OSCE_PA_Delegation.csv"
    assert disposition.encode("latin-1").isascii()  # a header is ASCII; the name travels percent-encoded

    from dashboard import exports

    monkeypatch.setattr(exports, "render", lambda fig, fmt: b"<svg/>")  # the name is the point here, not the drawing
    image = page.client.get(page.props[("map-svg", "href")])
    assert image.status_code == 200 and image.data == b"<svg/>"
    named = unquote(image.headers["Content-Disposition"].split("filename*=UTF-8''")[1])
    assert named == f"obsmap-map-voting-{code}-org_OSCE_PA_Delegation.svg"


def test_the_cache_follows_the_data_version(tmp_path):
    """Same filters, two versions of a mission's data: each gets its own forms, never the other's."""
    from dashboard.filters import Filters
    from tests.conftest import build_tiny

    rows = [{"form_type": "voting", "region_code": "AA", "overall": "bad"}]
    first = build_tiny(tmp_path / "one", rows)
    second = build_tiny(tmp_path / "two", [*rows, {"form_type": "voting", "region_code": "BB", "overall": "good"}])
    assert first.version != second.version
    voting = Filters("voting")
    assert len(selection.select(first, voting).phase) == 1 and len(selection.select(second, voting).phase) == 2
    assert selection.work["rows_filtered"] == 2 and selection.work["cache_hits"] == 0
    again = build_tiny(tmp_path / "three", rows)  # the same data, written again: the same version
    assert again.version == first.version and len(selection.select(again, voting).phase) == 1
    assert selection.work["cache_hits"] == 1


def _pattern_matching(dependency: dict) -> bool:
    """A callback on components made by another callback (ids like {"type": ..., "field": ALL})."""
    return any(i["id"].startswith("{") for i in dependency["inputs"] + dependency["state"])


def test_every_callback_names_components_of_the_page(page):
    """A callback on an id the layout lacks fails in the browser only; here it fails at once."""
    ids = page.component_ids()
    for dependency in page.dependencies:
        if _pattern_matching(dependency):
            continue  # its components come and go with the view (the empty view's clear button)
        named = [i["id"] for i in dependency["inputs"] + dependency["state"]]
        named += [o.split(".")[0] for o in dependency["output"].strip(".").split("...")]
        assert set(named) <= ids, set(named) - ids


def test_new_data_reaches_the_page_only_when_the_version_moves(tmp_path):
    """The page's check costs one tiny request while nothing changes; a commit to the store brings one view
    update with the new figures, the same filters and drill-down, and the URL untouched."""
    from tests.conftest import deliver, live_demo

    out = tmp_path / "live"
    events = live_demo(out)
    deliver(out, events[:1000])
    page = DashClient(create_app(out))
    page.fire("url", "search", "?form=voting&drill=KZ-KAR")
    shown = page.props[("n-shown", "children")]
    start = len(page.log)
    page.fire("poll", "n_intervals", 1)
    quiet = page.log[start:]
    assert len(quiet) == 1 and quiet[0].reply == {} and quiet[0].bytes < 200  # nothing new: nothing computed, nothing sent
    listed_before = page.props[("table-view", "data")]
    deliver(out, events[1000:])
    start = len(page.log)
    page.fire("poll", "n_intervals", 2)
    sent = page.log[start:]
    assert [e.output[:14] for e in sent] == ["data-version.d", "..url.search.."]
    reply = sent[1].reply
    assert "url" not in reply and reply["filters"]["data"]["drill"] == "KZ-KAR" and page.props[("n-shown", "children")] != shown
    assert "value" not in reply.get("phase", {})  # the controls stay as the user has them
    # The open table's list is the same (it is refreshed where the reader is, not sent back to its top); its data is new.
    listed_after = reply["table-view"]["data"]
    assert listed_after["list"] == listed_before["list"] and listed_after["data"] != listed_before["data"]
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    last = raw.team_id.dropna().iloc[-1]  # a team of the forms that came last is found
    assert last in page.fire("teams", "search_value", last)["teams"]["options"]
    assert page.props[("n-shown", "children")][0]["props"]["data-n"] == len(raw.query("form_type == 'voting' and region_code == 'KZ-KAR'"))
    new = len(raw) - len({e.form_id for e in events[:1000]})
    assert reply["live-status"]["children"].endswith(f"{len(raw):,} forms · +{new:,} since you opened")
    page.fire("table-toggle", "n_clicks", 1)
    page.fire("new-only", "value", True)
    first = {e.form_id for e in events[:1000]}
    rows, _ = listed(page)
    voting_kar = raw.query("form_type == 'voting' and region_code == 'KZ-KAR'")
    assert sorted(r["form_id"] for r in rows) == sorted(set(voting_kar.form_id) - first) and rows


def test_only_the_controls_that_must_move_are_sent(page):
    """A click sends back no control value the page already shows; a URL (Back, a link) moves the controls it changes."""
    start = len(page.log)
    page.fire("phase", "value", "voting")
    reply = _one_view_request(page, start)
    assert not {c for c in ("phase", "regions", "metric", "hours", "orgs", "setting") if "value" in reply.get(c, {})}
    start = len(page.log)
    page.fire("url", "search", "?form=opening&region=KZ-KAR")
    reply = _one_view_request(page, start)
    assert reply["phase"]["value"] == "opening" and reply["regions"]["value"] == ["KZ-KAR"] and "value" not in reply.get("metric", {})
    assert page.props[("phase", "value")] == "opening"


def _patched_traces(reply: dict) -> set[int]:
    """The trace indexes a reply's map patch touches."""
    return {op["location"][1] for op in reply["region-map"]["figure"]["operations"] if op["location"][:1] == ["data"]}


def test_a_country_map_is_patched_in_its_regions_only_and_a_drill_down_sets_and_clears_its_layers(page):
    from dashboard.figures import REGIONS, SMALL_REGIONS, STATIONS, trace_index

    # The regions and the city regions' dots, which take their regions' colours.
    regions, stations = {trace_index(REGIONS), trace_index(SMALL_REGIONS)}, {trace_index(name) for name in STATIONS}
    page.fire("phase", "value", "voting")
    assert _patched_traces(page.log[-1].reply) == regions  # the empty station layers are left as they are
    page.fire("region-map", "clickData", {"points": [{"curveNumber": 0, "location": "KZ-YUZ"}]})
    assert stations <= _patched_traces(next(e.reply for e in reversed(page.log) if e.output.startswith(VIEW)))
    page.fire("back", "n_clicks", 1)
    cleared = page.log[-1].reply
    assert stations <= _patched_traces(cleared)  # Back empties the stations
    lats = [
        op["params"]["value"]
        for op in cleared["region-map"]["figure"]["operations"]
        if op["location"][1] in stations and op["location"][2:] == ["lat"]
    ]
    assert lats and all(v == [] for v in lats)
    page.fire("phase", "value", "opening")
    assert _patched_traces(page.log[-1].reply) == regions


def test_a_new_import_that_changes_the_regions_makes_an_open_page_load_again(tmp_path):
    """The map's values are patched in the order of the regions the page drew: after an import with other regions
    (one renamed, one added), an open page's poll gets no map values for the old shapes, but the signal to load again;
    a new page shows the new regions."""
    import geopandas as gpd
    from shapely.geometry import box

    from geo.importer import import_mission

    def mission(codes: tuple[str, ...]) -> None:
        squares = [box(i, 0, i + 1, 1) for i in range(len(codes))]
        shapes = gpd.GeoDataFrame({"code": list(codes), "name": list(codes)}, geometry=squares, crs=4326)
        shapes.to_file(tmp_path / "regions.geojson", driver="GeoJSON")
        rows = "\n".join(f"f{i},voting,{code},good" for i, code in enumerate(codes))
        (tmp_path / "forms.csv").write_text(f"form_id,form_type,region_code,overall\n{rows}\n", encoding="utf-8")
        import_mission(tmp_path / "regions.geojson", [tmp_path / "forms.csv"], tmp_path / "out", force=True)

    mission(("AA", "BB"))
    page = DashClient(create_app(tmp_path / "out"))
    page.fire("url", "search", "?form=voting")
    assert page.props[("filters", "data")]["map_regions"]
    quiet = page.fire("poll", "n_intervals", 1)
    assert "reload" not in quiet  # nothing new: nothing said
    page.fire("region-map", "clickData", None)  # an ordinary action: the page is not told to load again
    assert page.props.get(("reload", "data")) is None

    mission(("AA", "CC", "DD"))
    page.fire("poll", "n_intervals", 2)
    assert page.props[("reload", "data")]  # the page loads again
    stale = page.log[-1].reply
    assert set(stale) == {"reload"}  # no map values, findings or table for the old map
    fresh = DashClient(create_app(tmp_path / "out"))
    fresh.fire("url", "search", "?form=voting")
    layout = fresh.client.get("/_dash-layout").get_json()
    from tests.conftest import components

    assert components(layout)["region-map"]["props"]["figure"]["data"][0]["locations"] == ["AA", "CC", "DD"]
