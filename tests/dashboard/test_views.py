"""The callbacks' logic, called as plain functions."""

import json
import math
from fractions import Fraction

import pandas as pd
from dash import Patch

from dashboard import theme, views
from dashboard.analysis import interval_text
from dashboard.figures import REGIONS, trace_index
from dashboard.filters import Filters
from dashboard.views import headlines, initial_map, n_shown, problems
from tests.conftest import DEMO, chosen


def map_patch(mission, data) -> Patch:
    return views.map_patch(mission, *chosen(mission, data))[0]


def _patch_values(patch: Patch, trace: int = trace_index(REGIONS)) -> dict:
    """The values a Patch would set on one map trace, keyed by dotted property path."""
    out = {}
    for op in patch.to_plotly_json()["operations"]:
        assert op["operation"] == "Assign"
        location = op["location"]
        if location[:2] == ["data", trace]:
            out[".".join(str(p) for p in location[2:])] = op["params"]["value"]
    return out


def test_map_patch_sends_values_not_shapes(demo):
    patch = map_patch(demo, Filters("voting").to_dict())
    values = _patch_values(patch)
    assert set(values) == {
        "z",
        "customdata",
        "colorbar.title.text",
        "colorbar.ticktext",
        "colorbar.tickfont.size",
        "colorbar.title.font.size",
        "colorbar.len",
        "colorscale",
        "showscale",
    }
    assert "geojson" not in json.dumps(patch.to_plotly_json())
    shapes = len(json.dumps(demo.geojson))
    assert len(json.dumps(patch.to_plotly_json())) < shapes / 5


def test_map_patch_values_follow_the_phase(demo):
    counting = _patch_values(map_patch(demo, {"form_type": "counting"}))
    voting = _patch_values(map_patch(demo, {"form_type": "voting"}))
    assert counting["z"] != voting["z"]
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    counts = raw[raw.form_type == "counting"]
    for i, code in enumerate(demo.regions["code"]):
        here = counts[(counts.region_code == code) & counts.overall.notna()]
        k = int(here.overall.isin(["bad", "very bad"]).sum())
        expected = math.floor(Fraction(100 * k, len(here)) + Fraction(1, 2)) if len(here) else 0
        assert counting["z"][i] == (theme.TOO_FEW_Z if len(here) < 10 else theme.value_to_z(expected))
        assert f"of {len(here)} counts observed" in counting["customdata"][i]


def test_region_filter_greys_out_the_other_regions(demo):
    values = _patch_values(map_patch(demo, {"form_type": "counting", "regions": ["KZ-YUZ", "KZ-ZHA"]}))
    coloured = {code for code, z in zip(demo.regions["code"], values["z"], strict=True) if z != theme.NOT_SELECTED_Z}
    assert coloured == {"KZ-YUZ", "KZ-ZHA"}
    assert values["customdata"][0] == "Not in the selected regions"


def test_initial_map_carries_geometry_once_on_a_white_bg_map(demo):
    fig = initial_map(demo, Filters())
    trace = fig.data[trace_index(REGIONS)]
    assert list(trace.locations) == list(demo.regions["code"])
    assert len(trace.geojson["features"]) == 16
    # A white background and the labels' font from the app: no tiles, no glyph server, nothing from another host.
    style = fig.layout.map.style
    assert [layer["type"] for layer in style["layers"]] == ["background"] and "glyphs" not in style
    assert style["font-faces"] == {"Open Sans Regular": "/assets/fonts/map-sans.woff2"}
    assert "://" not in json.dumps(style)
    colours = [c for _, c in trace.colorscale]
    # The three greys are classes of their own in the legend, each with its name.
    assert colours[:6] == [theme.NOT_SELECTED, theme.NOT_SELECTED, theme.NO_DATA, theme.NO_DATA, theme.TOO_FEW, theme.TOO_FEW]
    assert len({theme.NOT_SELECTED, theme.NO_DATA, theme.TOO_FEW}) == 3
    assert trace.colorbar.ticktext[:3] == ("not<br>selected", "no data", "too few<br>(N < 10)")
    assert "%" in fig.data[trace_index(REGIONS)].colorbar.title.text


def test_headlines_state_every_phase_with_its_n(demo):
    blocks = headlines(demo, *chosen(demo, {"form_type": "counting", "setting": "urban"}))
    text = json.dumps([b.to_plotly_json() for b in blocks], default=str)
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    urban = raw[raw.urban_rural == "urban"]
    for ft in ("opening", "voting", "counting"):
        f = urban[urban.form_type == ft]
        assert f"N = {f.overall.notna().sum():,} assessed of {len(f):,} forms" in text, ft
    counts = urban[(urban.form_type == "counting") & urban.overall.notna()]
    pct = math.floor(Fraction(100 * counts.overall.isin(["bad", "very bad"]).sum(), len(counts)) + Fraction(1, 2))
    assert f"The count was assessed as bad or very bad in {pct} per cent of {len(counts)} counts observed." in text
    assert "do not apply to territorial commissions" in text  # tabulation under a station filter


def test_titles_captions_and_counts_name_the_selection(demo):
    data = {"form_type": "tabulation", "regions": ["KZ-KAR"]}
    _, title, caption, _ = views.map_patch(demo, *chosen(demo, data))
    assert title.startswith("Tabulation")
    caption = json.dumps(caption, default=str)
    assert "Karaganda" in caption and "Synthetic" in caption
    n = json.dumps(n_shown(demo, *chosen(demo, data)), default=str)
    assert "tabulation forms" in n
    fig, title = problems(*chosen(demo, {"form_type": "counting"}))
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    counts = raw[raw.form_type == "counting"]
    assert title == f"Problems reported in counting forms (N = {len(counts):,} forms)"
    answered = counts.protocol_tampering.notna().sum()
    yes = (counts.protocol_tampering == "yes").sum()
    pct = math.floor(Fraction(100 * yes, answered) + Fraction(1, 2))
    bar = [c[2] for c in fig.data[0].customdata].index("protocol_tampering")
    assert fig.data[0].text[bar] == f"{pct} %"
    assert fig.data[0].customdata[bar][1] == interval_text(yes, answered)
    assert fig.data[0].y[bar].startswith("Tampering with result protocols<br>") and f">{yes} of {answered}<" in fig.data[0].y[bar]
    assert not any(y.startswith("Multiple voting") for y in fig.data[0].y)  # not on the count checklist


def test_filters_without_data_are_hidden(tmp_path):
    from dashboard.layout import filter_bar
    from tests.conftest import build_tiny, components

    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "urban_rural": "rural"}])
    fields = {cid: c for cid, c in components(filter_bar(mission, Filters())).items() if cid.startswith("field-")}
    hidden = {cid for cid, c in fields.items() if c["props"].get("style") == {"display": "none"}}
    # No e-voting answers, no review states, no conflicting stations: those filters are hidden; urban/rural stays.
    assert hidden == {"field-evoting", "field-review", "field-conflict"}
    assert {"field-setting", "field-phase", "field-regions", "field-overall"} <= set(fields)
