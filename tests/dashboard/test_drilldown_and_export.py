"""Drill-down, map metrics, timeline, table and export, against plain pandas tallies of the raw files."""

import io
import json

import pandas as pd
import pytest

from dashboard.analysis import coverage_by_region, filter_forms, station_visits, tally_by_hour
from dashboard.app import create_app
from dashboard.figures import DISTRICTS, REGIONS, STATIONS, UNOBSERVED, map_view, trace_index
from dashboard.filters import Filters
from dashboard.summary import mission_summary
from dashboard.tables import table_rows
from dashboard.views import initial_map, map_fit, map_patch, timeline
from geo.schema import FORM_COLUMNS
from tests.conftest import DEMO, build_tiny, chosen, components


@pytest.fixture(scope="module")
def raw():
    df = pd.read_csv(DEMO / "forms.csv", dtype=str)
    df["at"] = pd.to_datetime(df.observed_at)
    df["hour"] = (df["at"] - pd.Timestamp("2005-12-04")) / pd.Timedelta(hours=1)
    return df


@pytest.fixture(scope="module")
def client(demo):
    return create_app(demo).server.test_client()


def _csv(response) -> pd.DataFrame:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return pd.read_csv(io.StringIO(response.get_data(as_text=True)), dtype=str)


# ------------------------------------------------------------------------------------------ filters
def test_organisation_team_assessment_and_hour_filters_match_pandas(demo, raw):
    f = Filters("voting", orgs=("OSCE PA", "PACE"), overall=("bad", "very bad"), hours=(8, 14))
    got = filter_forms(demo.forms, f)
    want = raw[
        (raw.form_type == "voting")
        & raw.observer_org.isin(["OSCE PA", "PACE"])
        & raw.overall.isin(["bad", "very bad"])
        & (raw.hour >= 8)
        & (raw.hour < 14)
    ]
    assert sorted(got.form_id) == sorted(want.form_id) and len(want) > 0
    team = raw.team_id.iloc[0]
    assert sorted(filter_forms(demo.forms, Filters("voting", teams=(team,))).form_id) == sorted(
        raw[(raw.team_id == team) & (raw.form_type == "voting")].form_id
    )


def test_problem_filter_keeps_forms_that_reported_it(demo, raw):
    got = filter_forms(demo.forms, Filters("counting", problem="protocol_tampering"))
    want = raw[(raw.form_type == "counting") & (raw.protocol_tampering == "yes")]
    assert sorted(got.form_id) == sorted(want.form_id)


# ------------------------------------------------------------------------------------ drill-down
def test_station_visits_take_the_worst_visit(tmp_path):
    mission = build_tiny(
        tmp_path,
        [
            {"form_type": "voting", "ps_id": "P1", "latitude": 0.5, "longitude": 0.5, "overall": "good", "observed_at": "2005-12-04T09:00"},
            {
                "form_type": "voting",
                "ps_id": "P1",
                "latitude": 0.5,
                "longitude": 0.5,
                "overall": "very bad",
                "observed_at": "2005-12-04T15:00",
            },
            {
                "form_type": "counting",
                "ps_id": "P1",
                "latitude": 0.5,
                "longitude": 0.5,
                "observed_at": "2005-12-04T20:00",
                "overcrowding": "yes",
            },
            {"form_type": "voting", "ps_id": "P2", "latitude": 0.5, "longitude": 1.5, "observed_at": "2005-12-04T10:00"},
        ],
    )
    v = station_visits(mission.forms).set_index("ps_id")
    assert v.loc["P1", "visits"] == 3 and v.loc["P1", "worst"] == "very bad"
    assert v.loc["P1", "times"] == "09:00, 15:00, 20:00" and v.loc["P1", "phases"] == "voting, counting"
    assert v.loc["P1", "problems"] == "Overcrowding"
    assert pd.isna(v.loc["P2", "worst"])


def test_drilled_map_shows_the_regions_stations_and_zooms_in(demo, raw):
    patch, title, _, _ = map_patch(demo, *chosen(demo, {"form_type": "voting", "drill": "KZ-MAN", "regions": ["KZ-MAN"]}))
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    observed = sum(len(ops[("data", i, "lat")]) for i in map(trace_index, STATIONS))
    voting = raw[(raw.form_type == "voting") & (raw.region_code == "KZ-MAN")]
    assert observed == voting.ps_id.nunique()
    stations = pd.read_csv(DEMO / "stations.csv", dtype=str)
    assert len(ops[("data", trace_index(UNOBSERVED), "lat")]) == (stations.region_code == "KZ-MAN").sum() - voting.ps_id.nunique()
    assert not any(loc[0] == "layout" for loc in ops)  # centre and zoom are fitted in the browser, to the map's size
    fit = map_fit(demo, chosen(demo, {"form_type": "voting", "drill": "KZ-MAN"})[1])
    assert fit["key"] == "KZ-MAN-analysis" and map_view(fit["bounds"], 820, 560)["zoom"] > 5
    assert title.startswith("Mangystau: polling stations")
    country, *_ = map_patch(demo, *chosen(demo, {"form_type": "voting"}))
    ops = {tuple(op["location"]): op["params"]["value"] for op in country.to_plotly_json()["operations"]}
    assert ops[("data", trace_index(UNOBSERVED), "visible")] is False
    assert map_fit(demo, chosen(demo, {"form_type": "voting"})[1])["key"] == "country-analysis"


# ---------------------------------------------------------------------------------------- metrics
def test_coverage_is_observed_of_registered_stations(demo, raw):
    stations = pd.read_csv(DEMO / "stations.csv", dtype=str)
    forms = filter_forms(demo.forms, Filters("voting"))
    t = coverage_by_region(forms, demo.stations, list(demo.regions.code))
    voted = set(raw[raw.form_type == "voting"].ps_id)
    for code in ("KZ-ALA", "KZ-MAN"):
        here = stations[stations.region_code == code]
        assert t.loc[code, "whole"] == len(here)
        assert t.loc[code, "part"] == here.ps_id.isin(voted).sum()


@pytest.mark.parametrize("metric", ["problem", "coverage", "forms"])
def test_each_metric_names_itself_and_its_unit_in_the_legend(demo, metric):
    patch, title, _, notices = map_patch(demo, *chosen(demo, {"form_type": "voting", "metric": metric, "problem": "overcrowding"}))
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    legend = ops[("data", trace_index(REGIONS), "colorbar", "title", "text")]
    assert {"problem": "% of forms that answered", "coverage": "% of registered stations", "forms": "forms per region"}[metric] in legend
    assert notices == []


def test_coverage_without_a_registry_falls_back_with_a_notice(tmp_path):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "overall": "bad"}])
    _, title, _, notices = map_patch(mission, *chosen(mission, {"form_type": "voting", "metric": "coverage"}))
    assert "bad or very bad" in title and "registry" in notices[0]


def test_timeline_counts_forms_and_negatives_per_hour(demo, raw):
    t = tally_by_hour(filter_forms(demo.forms, Filters("voting")))
    v = raw[raw.form_type == "voting"]
    hours = v.hour.floordiv(1).astype(int)
    assert t["n"].to_dict() == v.groupby(hours).size().to_dict()
    assert t.loc[14, "negative"] == v[hours == 14].overall.isin(["bad", "very bad"]).sum()
    fig = timeline(*chosen(demo, {"form_type": "voting"}))
    assert sum(fig.data[0].y) == len(v)


# ------------------------------------------------------------------------------------ table, export
def test_table_rows_are_the_filtered_forms_with_plain_text_comments(tmp_path):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "comments": "<script>alert(1)</script>"}])
    rows = table_rows(mission, chosen(mission, {"form_type": "voting"})[0].rows())
    assert len(rows) == 1 and rows[0]["comments"] == "<script>alert(1)</script>" and rows[0]["region"] == "Alpha"
    assert json.dumps(rows)  # JSON-ready: no NaN or NA left


def test_export_without_parameters_returns_every_form_once(client, raw):
    out = _csv(client.get("/export.csv"))
    assert len(out) == len(raw) and out.form_id.is_unique and set(out.form_id) == set(raw.form_id)
    assert list(out.columns) == list(FORM_COLUMNS)


def test_export_of_one_cell_matches_the_summary(client, demo):
    out = _csv(client.get("/export.csv?form=counting&region=KZ-YUZ"))
    cell = mission_summary(demo)["by_region"]["KZ-YUZ"]["counting"]
    assert len(out) == cell["n"] and set(out.region_code) == {"KZ-YUZ"} and set(out.form_type) == {"counting"}
    assert out.overall.isin(["bad", "very bad"]).sum() == cell["negative"]


def test_export_follows_every_filter_and_reports_what_it_ignored(client, raw):
    response = client.get("/export.csv?form=voting&setting=rural&evoting=no&hours=8-12&bogus=1")
    out = _csv(response)
    want = raw[(raw.form_type == "voting") & (raw.urban_rural == "rural") & (raw.evoting == "no") & (raw.hour >= 8) & (raw.hour < 12)]
    assert sorted(out.form_id) == sorted(want.form_id)
    assert "bogus" in response.headers["X-Obsmap-Notices"]


def test_export_survives_hostile_parameter_names(client):
    response = client.get("/export.csv?form=counting&a%0ab=1&%E2%80%AE=2")
    assert response.status_code == 200
    assert "\n" not in response.headers["X-Obsmap-Notices"] and response.headers["X-Obsmap-Notices"].isascii()


def test_user_text_in_hovers_is_escaped(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from geo.mission import build_mission
    from tests.conftest import form_rows

    regions = gpd.GeoDataFrame({"code": ["AA"], "name": ["<i>Alpha</i>"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    rows = form_rows([{"form_type": "voting", "ps_id": "<b>P1</b>", "latitude": 0.5, "longitude": 0.5, "overall": "bad"}])
    mission = build_mission(tmp_path / "m", regions, rows, {"name": "x"})
    patch, *_ = map_patch(mission, *chosen(mission, {"form_type": "voting", "drill": "AA"}))
    text = json.dumps(patch.to_plotly_json())
    assert "&lt;b&gt;P1&lt;/b&gt;" in text and "<b>P1</b>" not in text
    # The region's name travels once, in the first figure (the trace's text the hover shows), not with each view
    names = initial_map(mission, Filters(form_type="voting")).data[0].text
    assert list(names) == ["&lt;i&gt;Alpha&lt;/i&gt;"] and "Alpha" not in text


def test_drilled_region_shows_its_districts(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from geo.importer import import_mission

    bounds = tmp_path / "adm1.geojson"
    gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["a", "b"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326).to_file(bounds)
    districts = tmp_path / "adm2.geojson"
    gpd.GeoDataFrame(
        {"ADM2_PCODE": ["A1", "A2", "B1"], "ADM2_EN": ["a1", "a2", "b1"]},
        geometry=[box(0, 0, 0.5, 1), box(0.5, 0, 1, 1), box(1, 0, 2, 1)],
        crs=4326,
    ).to_file(districts)
    forms = tmp_path / "f.csv"
    forms.write_text("form_id,form_type,latitude,longitude,overall\n1,voting,0.5,0.2,good\n", encoding="utf-8")
    mission = import_mission(bounds, [forms], tmp_path / "m", districts=districts).mission
    app = create_app(mission)
    page = components(app.layout())  # the page names the districts' outlines (a file of their own), hidden until a drill
    districts_trace = page["region-map"]["props"]["figure"]["data"][trace_index(DISTRICTS)]
    assert districts_trace["geojson"].endswith("/districts.json") and districts_trace["visible"] is False
    outlines = app.server.test_client().get(districts_trace["geojson"]).get_json()
    assert [f["id"] for f in outlines["features"]] == ["A1", "A2", "B1"]
    assert districts_trace["locations"] == ["A1", "A2", "B1"]
    patch, *_ = map_patch(mission, *chosen(mission, {"form_type": "voting", "drill": "AA"}))
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    districts = trace_index(DISTRICTS)
    assert ops[("data", districts, "locations")] == ["A1", "A2"] and ops[("data", districts, "visible")] is True


def test_a_click_on_a_real_bar_selects_its_problem(demo):
    from dashboard.filters import Known, controls_from_filters
    from dashboard.state import next_view
    from dashboard.views import problems

    fig, _ = problems(*chosen(demo, {"form_type": "counting"}))
    i = [c[2] for c in fig.data[0].customdata].index("protocol_tampering")
    click = {"points": [{"y": fig.data[0].y[i], "x": fig.data[0].x[i], "customdata": list(fig.data[0].customdata[i])}]}
    f, _ = next_view(
        "problem-chart",
        search=None,
        controls=controls_from_filters(Filters()),
        current=Filters().to_dict(),
        map_click=None,
        bar_click=click,
        known=Known(regions=frozenset(demo.regions.code)),
    )
    assert f.problem == "protocol_tampering"


def _station_visits_one_by_one(forms):
    """The plain reading of station_visits' docstring, station by station (its first, slow implementation)."""
    from dashboard.analysis import reported_problems

    located = forms[forms["ps_id"].notna()]
    g = located.assign(_reported=reported_problems(located)).groupby("ps_id", sort=True)
    out = pd.DataFrame(
        {
            "visits": g.size(),
            "worst": g["overall"].max(),
            "phases": g["form_type"].agg(lambda s: ", ".join(dict.fromkeys(str(v) for v in s))),
            "times": g["observed_at"].agg(lambda s: ", ".join(t.strftime("%H:%M") for t in s.dropna().sort_values())),
            "problems": g["_reported"].agg(lambda lists: ", ".join(dict.fromkeys(p for lst in lists for p in lst))),
            "latitude": g["latitude"].mean(),
            "longitude": g["longitude"].mean(),
            "region_code": g["region_code"].first(),
        }
    )
    return out.reset_index()


@pytest.mark.parametrize("region", [None, "KZ-YUZ", "KZ-AST"])
def test_station_visits_agree_with_counting_station_by_station(demo, region):
    forms = demo.forms if region is None else demo.forms[demo.forms["region_code"] == region]
    forms = forms.copy()
    forms.loc[forms.index[::7], "observed_at"] = pd.NaT  # some forms without a time
    got, expected = station_visits(forms), _station_visits_one_by_one(forms)
    assert len(got) > 10
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected[got.columns], check_dtype=False)


def test_a_drilled_layer_of_thousands_of_stations_is_clustered_in_the_page_not_in_pictures(demo, monkeypatch):
    from dashboard import exports, views
    from dashboard.figures import STATIONS, plotly_text, trace_index
    from dashboard.filters import Filters, with_drill
    from dashboard.selection import select

    filters = with_drill(Filters(form_type="voting"), "KZ-YUZ")
    chosen = select(demo, filters)

    def clusters(patch) -> dict[str, bool]:
        ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
        return {name: ops[("data", trace_index(name), "cluster")]["enabled"] for name in STATIONS}

    layers = views.drill_layers(demo, chosen, filters)
    sizes = {name: len(layers[name]["lat"]) for name in STATIONS}
    assert not any(clusters(views.map_patch(demo, chosen, filters)[0]).values())  # the demo's few stations: each drawn
    monkeypatch.setattr(views, "CLUSTER_FROM", max(sizes.values()))
    patch = views.map_patch(demo, chosen, filters)[0]
    assert clusters(patch) == {n: size >= max(sizes.values()) for n, size in sizes.items()}
    # The clustered class's hovers say each station's id and class only; the others keep their whole hover.
    ops = {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    big = max(sizes, key=sizes.get)
    visits = station_visits(chosen.phase_forms)
    assert sorted(ops[("data", trace_index(big), "customdata")]) == sorted(
        visits.loc[visits["worst"].astype("string") == big.split(": ")[1], "ps_id"].map(plotly_text)
    )
    assert "Worst assessment" in ops[("data", trace_index(big), "hovertemplate")]
    small = min(sizes, key=sizes.get)
    assert all(c.startswith("<b>") and "visit" in c for c in ops[("data", trace_index(small), "customdata")])
    picture = exports.figure_for(demo, filters, "map").to_plotly_json()
    assert not any((picture["data"][trace_index(n)].get("cluster") or {}).get("enabled") for n in STATIONS)
