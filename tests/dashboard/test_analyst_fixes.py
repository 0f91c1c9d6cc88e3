"""The analysts' fixes (issue 14): Back to the previous selection, the table's CSV, one form in a side panel, empty
views said of the filters, a tautological map said, plurals, clock times. Each against an independent computation."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dashboard import form_detail, selection, table_pages
from dashboard.app import create_app
from dashboard.figures import MAP_TRACES, REGIONS, STATIONS, trace_index
from dashboard.filters import Filters, Known, parse_query, to_query, with_drill
from dashboard.layout import TABLE_COLUMN_DEFS, page
from dashboard.state import filter_to_clear, next_view, tautology, without
from dashboard.text import plural
from geo.schema import NEGATIVE_LEVELS, PROBLEMS
from scripts.dash_client import DashClient, sign_in
from tests.conftest import build_tiny, components
from tests.dashboard.table_client import ask, listed

ROOT = Path(__file__).resolve().parents[2]
KNOWN = Known(regions=frozenset({"AA", "BB", "CC"}))


@pytest.fixture(autouse=True)
def fresh():
    selection._cache.clear()
    table_pages.clear_caches()


@pytest.fixture()
def client(demo):
    page_ = DashClient(create_app(demo))
    page_.fire("url", "search", "")
    return page_


def texts(node) -> str:
    """Every string in a reply (components as JSON), joined: what the page would show."""
    return " ".join(re.findall(r'"((?:[^"\\]|\\.)*)"', json.dumps(node, default=str)))


# ------------------------------------------------------------------------------ 1. Back returns to the selection
def step(trigger, current: Filters, **kw):
    args = {"search": None, "controls": {}, "map_click": None, "bar_click": None} | kw
    return next_view(trigger, current=current.to_dict(), known=KNOWN, **args)[0]


def test_back_after_a_drill_restores_the_multi_region_selection():
    before = Filters("voting", regions=("AA", "BB"), metric="forms")
    click = {"points": [{"curveNumber": trace_index(REGIONS), "location": "BB"}]}
    into = step("region-map", before, map_click=click)
    assert into.drill == "BB" and into.regions == ("BB",)
    # The URL is the single truth: the selection before the drill travels in it, and comes back from it.
    again, notices = parse_query(to_query(into), KNOWN)
    assert again == into and not notices and "back=AA,BB" in to_query(into)
    back = step("back", again)
    assert back == before  # the two regions, undrilled, the rest unchanged


def test_back_from_a_drill_with_no_selection_is_the_country_and_a_second_drill_keeps_the_first_selection():
    into = with_drill(Filters(), "AA")
    assert with_drill(into, None) == Filters()
    hop = with_drill(with_drill(Filters(regions=("AA", "CC")), "AA"), "BB")  # from one drilled region into another
    assert with_drill(hop, None).regions == ("AA", "CC")
    assert parse_query("?back=AA,BB", KNOWN)[0] == Filters()  # without a drill-down, nothing to go back to


def test_back_through_the_page_restores_the_selection_and_the_controls(client):
    client.fire("regions", "value", ["KZ-KAR", "KZ-PAV"])
    drilled = client.fire("region-map", "clickData", {"points": [{"curveNumber": trace_index(REGIONS), "location": "KZ-PAV"}]})
    assert client.props[("filters", "data")]["drill"] == "KZ-PAV"
    assert drilled["back"]["children"] == "← Back to Karaganda, Pavlodar"
    reply = client.fire("back", "n_clicks", 1)
    assert reply["regions"]["value"] == ["KZ-KAR", "KZ-PAV"]
    assert parse_query(client.props[("url", "search")], Known(regions=frozenset({"KZ-KAR", "KZ-PAV"})))[0].regions == ("KZ-KAR", "KZ-PAV")


# ------------------------------------------------------------------------------ 2. the table's CSV is what it lists
def independent_search(forms: pd.DataFrame, mission, text: str) -> pd.DataFrame:
    """The search as an analyst would check it: the phrase, case-insensitive, in any shown text column."""
    low = text.lower()
    shown = pd.DataFrame(
        {
            c: forms[c].astype("string")
            for c in ("form_id", "form_type", "ps_id", "team_id", "observer_org", "urban_rural", "evoting", "overall", "review", "comments")
        }
    )
    shown["region"] = forms["region_code"].map(mission.region_names).astype("string")
    shown["conflict"] = forms["conflict"].map({True: "conflict", False: ""}).astype("string")
    hit = pd.Series(False, index=forms.index)
    for col in shown:
        hit |= shown[col].str.lower().str.contains(low, regex=False).fillna(False)
    for key, label in PROBLEMS.items():
        if low in label.lower():
            hit |= forms[key].fillna(False).astype(bool)
    return forms[hit]


def test_the_csv_link_stays_the_tables_after_a_change_that_keeps_its_list(client, demo):
    client.fire("phase", "value", "voting")
    client.fire("table-toggle", "n_clicks", 1)
    client.props[("table-search", "value")] = "ballot"
    rows, count = listed(client)
    ask(client)  # the first block sets the link
    client.fire("metric", "value", "forms")  # the list is the same: the table keeps showing it
    client.fire("mode-toggle", "n_clicks", 1)
    href = client.props[("export-link", "href")]
    csv = pd.read_csv(io.StringIO(client.client.get(href).get_data(as_text=True)), dtype=str)
    voting = demo.forms[(demo.forms["form_type"] == "voting") & (demo.forms["review"] != "rejected")]
    expected = independent_search(voting, demo, "ballot")
    assert 0 < len(expected) < len(voting)
    assert len(csv) == count == len(rows) == len(expected)
    assert set(csv["form_id"]) == set(expected["form_id"])
    client.fire("table-toggle", "n_clicks", 2)  # closed: every form of the view again, as the hint says
    closed = pd.read_csv(io.StringIO(client.client.get(client.props[("export-link", "href")]).get_data(as_text=True)), dtype=str)
    assert len(closed) == len(voting)


# ------------------------------------------------------------------------------ 3. one form, whole
def answers_in(body_json) -> dict[str, str]:
    """The problem table of the panel: label -> answer, read back from the components."""
    table = next(c for c in body_json if c["type"] == "Table")
    rows = table["props"]["children"][1]["props"]["children"]
    return {r["props"]["children"][0]["props"]["children"]: r["props"]["children"][1]["props"]["children"] for r in rows}


def expected_answer(value) -> str:
    return "Not answered" if pd.isna(value) else ("Yes" if value else "No")


def test_a_table_row_opens_its_form_with_every_answer(client, demo):
    form = demo.forms.iloc[1]  # a voting form with one question not answered
    reply = client.fire("forms-table", "cellClicked", {"rowId": form["form_id"], "colId": "comments", "rowIndex": 3})
    assert reply["form-detail"]["is_open"] is True and reply["form-detail"]["title"] == f"Form {form['form_id']}"
    body = reply["form-detail-body"]["children"]
    got = answers_in(body)
    assert got == {label: expected_answer(form[key]) for key, label in PROBLEMS.items()}
    assert "Not answered" in got.values() and "No" in got.values()
    shown = texts(body)
    for value in (form["ps_id"], form["team_id"], form["observer_org"], demo.region_names[form["region_code"]], str(form["overall"])):
        assert value in shown
    assert form["observed_at"].strftime("%H:%M") in shown  # the time as HH:MM
    assert reply["form-visits-box"]["style"] == {"display": "none"}  # one form: no list of visits


def test_a_comment_is_shown_whole_and_as_text(client, demo):
    commented = demo.forms[demo.forms["comments"].str.len() > 40].iloc[0]
    body = client.fire("forms-table", "cellClicked", {"rowId": commented["form_id"]})["form-detail-body"]["children"]
    comment = next(c for c in body if c["type"] == "P")
    assert comment["props"]["children"] == commented["comments"]


def test_a_station_click_lists_its_visits_newest_first_and_opens_the_newest(client, demo):
    voting = demo.forms[(demo.forms["form_type"] == "voting") & (demo.forms["review"] != "rejected")]
    visits = voting.groupby("ps_id").size()
    station = visits.idxmax()  # the station visited most often
    region = voting.loc[voting["ps_id"] == station, "region_code"].iloc[0]
    client.fire("url", "search", f"?form=voting&drill={region}")
    # The station's point as the map draws it: its layer by name, its number within the layer.
    chosen = selection.select(demo, parse_query(f"?form=voting&drill={region}", client_known(demo))[0])
    from dashboard.analysis import station_visits

    table = station_visits(chosen.phase_forms)
    table = table[table["latitude"].notna()].set_index("ps_id", drop=False)
    worst = table["worst"].astype("string").fillna("not assessed")
    layer = next(name for name in STATIONS if name == f"Observed: {worst[station]}")
    here = table[worst == worst[station]]
    number = list(here.index).index(station)
    click = {
        "points": [
            {
                "curveNumber": MAP_TRACES.index(layer),
                "pointNumber": number,
                "lat": round(float(here.loc[station, "latitude"]), 4),
                "lon": round(float(here.loc[station, "longitude"]), 4),
            }
        ]
    }
    before = len(client.log)
    reply = client.fire("region-map", "clickData", click)
    assert "form-visits" in reply, [(e.output[:50], e.status) for e in client.log[before:]]
    assert [e.status for e in client.log[before:] if e.output.startswith("..url")] == [204]  # the view does not move
    mine = voting[voting["ps_id"] == station].sort_values("observed_at", ascending=False)
    assert [o["value"] for o in reply["form-visits"]["options"]] == list(mine["form_id"])
    assert reply["form-visits"]["value"] == mine["form_id"].iloc[0] and reply["form-visits-box"]["style"] is None
    assert reply["form-detail"]["title"] == f"Form {mine['form_id'].iloc[0]}"
    assert f"{len(mine)} visits, newest first" in reply["form-visits-title"]["children"]
    older = client.fire("form-visits", "value", mine["form_id"].iloc[-1])
    assert older["form-detail"]["title"] == f"Form {mine['form_id'].iloc[-1]}"


def client_known(mission) -> Known:
    from dashboard.views import known_values

    return known_values(mission)


def test_a_click_on_a_region_or_outside_a_station_opens_nothing(demo):
    chosen = selection.select(demo, Filters("voting", drill="KZ-KAR", regions=("KZ-KAR",)))
    assert form_detail.clicked_station(chosen, {"points": [{"curveNumber": trace_index(REGIONS), "location": "KZ-KAR"}]}) is None
    layer = MAP_TRACES.index(STATIONS[0])
    assert form_detail.clicked_station(chosen, {"points": [{"curveNumber": layer, "pointNumber": 0, "lat": 0.0, "lon": 0.0}]}) is None
    assert form_detail.clicked_station(chosen, {"points": "<script>"}) is None


PASSWORD = "Zq7-correct-horse-4417"


@pytest.fixture(scope="module")
def role_app(demo, tmp_path_factory):
    from dashboard.accounts import Accounts

    accounts = Accounts(tmp_path_factory.mktemp("detail-roles") / "accounts.sqlite", create=True)
    for name, role in {"ana": "analyst", "carl": "coordinator", "vera": "viewer"}.items():
        accounts.add(name, PASSWORD, role, ("KZ-KAR",) if role == "coordinator" else (), by="test", address="local")
    return create_app(demo, accounts=accounts), accounts


def signed_in(app, user: str) -> DashClient:
    client = app.server.test_client()
    reply = sign_in(client, user, PASSWORD)
    client.get(reply.headers["Location"])
    page_ = DashClient(app, client=client)
    page_.fire("url", "search", "?form=voting")
    return page_


def test_only_those_who_see_forms_open_one_and_each_opening_is_audited(role_app, demo):
    app, accounts = role_app
    voting = demo.forms[demo.forms["form_type"] == "voting"]
    theirs = voting[voting["region_code"] == "KZ-KAR"].iloc[0]["form_id"]
    other = voting[voting["region_code"] != "KZ-KAR"].iloc[0]["form_id"]
    viewer = signed_in(app, "vera").fire("forms-table", "cellClicked", {"rowId": theirs})
    assert viewer["form-detail"]["is_open"] is False and viewer["form-detail-body"]["children"] is None
    carl = signed_in(app, "carl")
    assert carl.fire("forms-table", "cellClicked", {"rowId": other}) == {}  # not in their regions: nothing
    assert carl.fire("forms-table", "cellClicked", {"rowId": theirs})["form-detail"]["is_open"] is True
    opened = [e for e in accounts.audit_rows() if e["event"] == "form_opened"]
    assert opened[-1]["detail"]["form"] == theirs and opened[-1]["user"] == "carl"


def test_hostile_strings_in_a_form_are_text(tmp_path):
    hostile = '<img src=x onerror=alert(1)>{n}"'
    mission = build_tiny(
        tmp_path,
        [
            {
                "form_id": "F<1>",
                "form_type": "voting",
                "observed_at": "2024-03-10 09:05",
                "region_code": "AA",
                "ps_id": hostile,
                "team_id": hostile,
                "observer_org": hostile,
                "latitude": 0.5,
                "longitude": 0.5,
                "overall": "bad",
                "comments": hostile,
            }
        ],
    )
    form = form_detail.form_by_id(mission, "F<1>")
    body = json.dumps([c.to_plotly_json() for c in form_detail.body(mission, form)], default=lambda o: o.to_plotly_json())
    assert "dangerouslySetInnerHTML" not in body and json.dumps(hostile)[1:-1] in body and "09:05" in body


# ------------------------------------------------------------------------------ 4. an empty view
def test_an_empty_view_says_so_of_the_filters_and_clears_the_filter_just_changed(client, demo):
    client.fire("url", "search", "?form=opening&org=ODIHR")
    teams = demo.forms[demo.forms["observer_org"] != "ODIHR"]["team_id"].unique()
    assert len(teams)
    reply = client.fire("teams", "value", [teams[0]])  # a team of another organisation: no form
    notice = json.dumps(reply["notices"]["children"], default=str)
    assert "No opening forms match these filters" in notice
    assert '"field": "teams"' in notice and f"Clear team ({teams[0]})" in notice
    shown = texts([reply["headlines"]["children"], reply["n-shown"]["children"]])
    assert "No opening forms match these filters" in shown
    assert not re.search(r"no (openings|counts|polling station visits) observed", shown, re.I)  # never a finding
    # The button's filter, cleared: the URL without it, which brings the forms back.
    after = without(Filters("opening", orgs=("ODIHR",), teams=(teams[0],)), "teams")
    assert after == Filters("opening", orgs=("ODIHR",))
    reply = client.fire("url", "search", to_query(after))
    n = int(reply["n-shown"]["children"][0]["props"]["data-n"])
    expected = demo.forms[(demo.forms["form_type"] == "opening") & (demo.forms["observer_org"] == "ODIHR")]
    assert n == int((expected["review"] != "rejected").sum()) > 0
    assert "No opening forms" not in json.dumps(reply.get("notices", {}), default=str)


def post_clear(page_: DashClient, field: str) -> dict:
    """A click on the empty view's clear button, posted as dash-renderer posts a pattern-matching input."""
    dependency = next(d for d in page_.dependencies if any(i["id"].startswith('{"field"') for i in d["inputs"]))
    button = {"type": "clear-filter", "field": field}
    body = {
        "output": dependency["output"],
        "outputs": {"id": "url", "property": "search"},
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
        "state": [{**st, "value": page_.props.get((st["id"], st["property"]))} for st in dependency["state"]],
    }
    from scripts.dash_client import csrf_token

    reply = page_.client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": csrf_token(page_.client)}
    )
    return reply.json["response"] if reply.status_code == 200 else {}


def test_the_clear_button_writes_the_url_without_that_filter(client, demo):
    known = client_known(demo)
    view = parse_query("?form=voting&drill=KZ-KAR&back=KZ-KAR,KZ-PAV&overall=bad&setting=rural", known)[0]
    client.fire("url", "search", to_query(view))
    assert parse_query(post_clear(client, "overall")["url"]["search"], known)[0] == replace(view, overall=())
    undrilled = parse_query(post_clear(client, "regions")["url"]["search"], known)[0]
    assert undrilled == replace(view, drill=None, back_to=(), regions=("KZ-KAR", "KZ-PAV"))
    assert post_clear(client, "all")["url"]["search"] == "?"
    assert post_clear(client, "min_n") == {}  # not a filter one clears: nothing


def test_the_filter_to_clear_is_the_one_changed_or_the_most_specific():
    view = Filters(orgs=("ODIHR",), setting="rural", overall=("bad",))
    assert filter_to_clear(view, Filters(orgs=("ODIHR",), overall=("bad",)).to_dict()) == "setting"
    assert filter_to_clear(view, None) == "overall"  # opened from a URL: the most specific one set
    assert filter_to_clear(Filters(), None) is None
    drilled = with_drill(Filters(regions=("AA", "BB")), "AA")
    assert without(drilled, "regions").regions == ("AA", "BB")


# ------------------------------------------------------------------------------ 5. a tautological map
@pytest.mark.parametrize(
    ("overall", "reads"), [(("bad",), "100 %"), (("bad", "very bad"), "100 %"), (("good",), "0 %"), (("good", "bad"), None)]
)
def test_a_map_filtered_to_its_own_classes_says_so(client, demo, overall, reads):
    reply = client.fire("overall", "value", list(overall))
    notice = json.dumps(reply["map-notices"]["children"], default=str) if reply["map-notices"]["children"] else ""
    # Independently: the share of bad or very bad per region among the forms left.
    forms = demo.forms[(demo.forms["form_type"] == "counting") & (demo.forms["review"] != "rejected") & demo.forms["overall"].isin(overall)]
    shares = forms.groupby("region_code", observed=True)["overall"].apply(lambda s: round(100 * s.isin(NEGATIVE_LEVELS).mean()))
    if reads is None:
        assert shares.nunique() > 1 and "every region reads" not in notice
    else:
        assert set(shares) == {int(reads.split()[0])} and f"every region reads {reads}" in notice
        assert f"filtered to {' or '.join(overall)}" in notice


def test_no_tautology_for_other_metrics():
    assert tautology(Filters(overall=("bad",), metric="forms")) is None
    assert tautology(Filters(overall=("very bad", "bad"))).count("very bad or bad") == 0  # levels in their own order


# ------------------------------------------------------------------------------ 6. plurals
COUNTED = r"\b1 (forms|teams|stations|visits|regions|counts|openings|registered stations|voting forms|opening forms|counting forms)\b"


def test_plural_is_whole_phrases():
    assert plural(1, "{n} team", "{n} teams") == "1 team" and plural(0, "{n} team", "{n} teams") == "0 teams"
    assert plural(12345, "{n} form", "{n} forms") == "12,345 forms"


def test_one_form_one_team_is_said_in_the_singular(tmp_path):
    mission = build_tiny(
        tmp_path,
        [{"form_type": "voting", "observed_at": "2024-03-10 09:05", "region_code": "AA", "ps_id": "P1", "team_id": "T1",
          "observer_org": "ODIHR", "latitude": 0.5, "longitude": 0.5, "overall": "bad", "overcrowding": True}],
    )  # fmt: skip
    page_ = DashClient(create_app(mission))
    reply = page_.fire("url", "search", "?form=voting&min_n=1")
    shown = texts(reply)
    assert "1 voting form" in shown and "1 team" in shown and "1 polling station visit" in shown
    assert not re.search(COUNTED, shown), re.search(COUNTED, shown)
    drilled = texts(page_.fire("url", "search", "?form=voting&min_n=1&drill=AA"))
    assert "1 visit:" in drilled and not re.search(COUNTED, drilled)


def test_no_count_is_pluralised_by_hand_in_the_page_s_words():
    """Every "{n} things" of the page's words goes through text.plural (or forms_count): no "form(s)", no "'s' if"."""
    for name in ("text.py", "views.py", "table_pages.py", "state.py", "form_detail.py", "callbacks.py"):
        source = (ROOT / "dashboard" / name).read_text(encoding="utf-8")
        assert "(s) " not in source and "'s' if" not in source and '"s" if' not in source, name


# ------------------------------------------------------------------------------ 7. clock times on the slider
def test_the_time_slider_says_clock_times(demo):
    layout = components(page(demo, {}, Filters()))
    slider = layout["hours"]["props"]
    assert slider["tooltip"]["transform"] == "obsmapHour"
    assert all(re.fullmatch(r"\d\d:00( \+1)?", label) for label in slider["marks"].values())
    script = (ROOT / "dashboard" / "assets" / "30-obsmap-hours.js").read_text(encoding="utf-8")
    assert "dccFunctions.obsmapHour" in script


def test_the_table_columns_are_not_cut_short():
    by = {c["field"]: c for c in TABLE_COLUMN_DEFS}
    for field in ("observed_at", "team_id", "observer_org", "problems", "comments"):
        assert by[field].get("tooltipField") == field
    assert by["observed_at"]["width"] >= 150 and by["observer_org"]["width"] >= 140
