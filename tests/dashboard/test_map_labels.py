"""Names on the map: every region's name inside it, small regions as dots in their colour, holes explained; the
labels' font served by the app (no glyph server); the legend's grey classes distinct; coverage on its own scale."""

import json

import pytest
import shapely
from shapely.geometry import shape

from dashboard import theme
from dashboard.figures import (
    FONT_FILE,
    LABELS_META,
    MAP_NOTES,
    REGIONS,
    SMALL_REGIONS,
    label_points,
    map_style,
    trace_index,
)
from dashboard.filters import Filters
from dashboard.metrics import metric_table
from dashboard.selection import select
from dashboard.views import initial_map, map_patch, small_regions
from tests.conftest import chosen


def _shapes(mission):
    return {f["id"]: shape(f["geometry"]) for f in mission.geojson["features"]}


def test_every_label_lies_inside_its_region_and_only_city_regions_are_dots(demo):
    shapes = _shapes(demo)
    places = label_points(demo.geojson)
    assert set(places) == set(demo.region_codes)
    for code, (lon, lat, _small) in places.items():
        assert shapes[code].contains(shapely.Point(lon, lat)), code
    total = sum(g.area for g in shapes.values())
    tiny = {code for code, g in shapes.items() if g.area / total < 0.004}
    assert tiny == {"KZ-ALA", "KZ-AST"}  # Almaty (city), Astana (city): a few pixels at country zoom
    assert {code for code, p in places.items() if p[2]} == tiny
    assert small_regions(demo) == [c for c in demo.region_codes if c in tiny]


def test_the_map_names_every_region_once_and_explains_baikonur(demo):
    fig = initial_map(demo, Filters())
    labels = [f["properties"] for f in fig.layout.meta[LABELS_META]["features"]]
    names = [label["name"] for label in labels if not label["note"]]
    assert sorted(names) == sorted(demo.region_names.values())
    small = {demo.region_names[c] for c in small_regions(demo)}
    assert {label["name"] for label in labels if label["anchor"] == "left"} == small  # beside their dots
    assert list(fig.data[trace_index(SMALL_REGIONS)].text) == [demo.region_names[c] for c in small_regions(demo)]
    assert [label["name"] for label in labels if label["note"]] == ["Baikonur"]
    notes = fig.data[trace_index(MAP_NOTES)]
    assert list(notes.text) == ["Baikonur"] and "Leased to Russia" in notes.customdata[0]
    # Baikonur's point is in a hole of Kyzylorda region, not in any region.
    point = shapely.Point(notes.lon[0], notes.lat[0])
    assert not any(g.contains(point) for g in _shapes(demo).values())
    kyzylorda = _shapes(demo)["KZ-KZY"]
    holes = [shapely.Polygon(r) for part in getattr(kyzylorda, "geoms", [kyzylorda]) for r in part.interiors]
    assert any(h.contains(point) for h in holes)


def test_small_regions_dots_take_their_regions_class_colour(demo):
    filters = Filters(form_type="counting")
    values = map_patch(demo, chosen(demo, filters.to_dict())[0], filters)[0].to_plotly_json()["operations"]
    ops = {tuple(op["location"]): op["params"]["value"] for op in values}
    z = ops[("data", trace_index(REGIONS), "z")]
    colours = ops[("data", trace_index(SMALL_REGIONS), "marker", "color")]
    scale = theme.class_colorscale("negative")
    codes = list(demo.region_codes)
    for code, colour in zip(small_regions(demo), colours, strict=True):
        # The colour the choropleth's stepped scale gives this z, read off the scale itself.
        at = (z[codes.index(code)] - theme.BOTTOM) / (theme.TOP - theme.BOTTOM)
        expected = [c for edge, c in scale if edge <= at][-1]
        assert colour == expected, code


def test_the_map_style_fetches_nothing_from_another_host_and_the_font_has_every_letter(demo):
    from fontTools.ttLib import TTFont

    style = map_style()
    assert "glyphs" not in style and "sprite" not in style and "://" not in json.dumps(style)
    cmap = TTFont(FONT_FILE).getBestCmap()
    letters = set("".join(demo.region_names.values())) | set("Baikonur")
    letters |= set("Алматы Астана Қарағанды Шымкент Өскемен Үштөбе Ұлытау")  # Russian and Kazakh names, for later
    assert {c for c in letters if ord(c) not in cmap} == set()


def test_the_grey_classes_are_distinct_and_named(demo):
    assert len({theme.NOT_SELECTED, theme.NO_DATA, theme.TOO_FEW}) == 3
    labels = theme.class_labels(theme.BREAKS, 10)
    assert labels[:3] == ["not<br>selected", "no data", "too few<br>(N < 10)"]


@pytest.mark.parametrize("metric", ["coverage", "forms"])
def test_coverage_and_forms_have_a_calm_scale_whose_breaks_separate_the_regions(demo, metric):
    filters = Filters(form_type="counting", metric=metric)
    table = metric_table(demo, select(demo, filters), filters)
    scale = [c for _, c in theme.class_colorscale(metric)]
    assert set(scale) & set(theme.CLASS_COLOURS) == set()  # not the alarm scale
    values = table.table["value"].dropna()
    breaks = table.legend.breaks
    classes = {sum(v >= b for b in breaks) for v in values}
    assert len(classes) >= 3, (breaks, sorted(values))  # counting coverage was one class (0-10 %) for every region


LABELS_DRAWN = """
const gd = document.querySelector('#region-map .js-plotly-plot');
const map = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot && gd._fullLayout.map._subplot.map;
if (!map || !map.loaded() || !map.getLayer('obsmap-names')) return null;
const drawn = map.queryRenderedFeatures({layers: ['obsmap-names']}).map(f => f.properties);
return {names: drawn.filter(p => !p.note).map(p => p.name), small: drawn.filter(p => p.anchor === 'left').map(p => p.name),
        notes: drawn.filter(p => p.note).map(p => p.name), halo: map.getPaintProperty('obsmap-names', 'text-halo-width')};
"""


@pytest.mark.browser
@pytest.mark.xdist_group("browser")
def test_the_page_draws_every_name_with_a_halo_from_the_apps_own_font(dash_duo, demo):
    """In chromium (no network but this machine): MapLibre draws each region's name (the city regions' beside their
    dots) and Baikonur's note, with the white halo, from the font the app serves; no glyph is fetched from elsewhere."""
    import time

    from dashboard.app import create_app

    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.start_server(create_app(demo))
    deadline, drawn = time.time() + 30, None
    while time.time() < deadline:
        drawn = dash_duo.driver.execute_script(LABELS_DRAWN)
        if drawn and drawn["halo"] and len(set(drawn["names"])) == len(demo.region_names) and drawn["notes"]:
            break
        time.sleep(0.3)
    assert drawn, "the map's labels were not drawn"
    assert sorted(drawn["names"]) == sorted(demo.region_names.values())
    assert set(drawn["small"]) == {demo.region_names[c] for c in small_regions(demo)}
    assert drawn["notes"] == ["Baikonur"] and drawn["halo"] > 0
    urls = dash_duo.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert any(u.endswith("/assets/fonts/map-sans.woff2") for u in urls)
    assert [u for u in urls if not u.startswith(dash_duo.server_url) and not u.startswith(("data:", "blob:"))] == []
    assert dash_duo.get_logs() == []
