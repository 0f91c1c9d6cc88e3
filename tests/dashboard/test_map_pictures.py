"""Map pictures drawn in the renderer's map tab (one live plot, redrawn) are the pictures kaleido's own path draws,
byte for byte, whatever came before them: views in turn, a drill-down, back, and the first view again."""

from __future__ import annotations

import pytest

from dashboard import exports
from dashboard.filters import Filters, with_drill

pytestmark = [pytest.mark.export, pytest.mark.xdist_group("export"), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

OPTS = {"format": "png", "width": 1600, "height": 900}


def test_the_map_tab_draws_what_kaleido_draws(demo, monkeypatch):
    # Byte for byte, without the one step kaleido's own pictures lack: the names' halo (tested below, drawn).
    monkeypatch.setattr(exports, "MAP_PICTURE_JS", exports.MAP_PICTURE_PLAIN_JS)
    views = [
        Filters(),
        with_drill(Filters(form_type="voting"), "KZ-YUZ"),
        Filters(form_type="opening", metric="problem"),
        with_drill(Filters(), "KZ-KAR"),
        Filters(setting="urban"),
        Filters(),  # again, after a drill-down: nothing of the last picture left in it
    ]
    renderer = exports.Renderer()
    try:
        for filters in views:
            fig = exports.figure_for(demo, filters, "map")
            assert exports._is_map(fig)
            # Without text: kaleido's own pictures catch MapLibre's names while they fade in (the tab turns fading off).
            fig.layout.meta = None
            by_tab = renderer.render(fig, OPTS)
            assert renderer._kaleido._map_tab is not None  # drawn in the map tab, not by the fallback
            assert by_tab == renderer.render_by_kaleido(fig, OPTS), filters
    finally:
        renderer.stop()


def test_charts_are_not_drawn_as_maps(demo):
    assert not exports._is_map(exports.figure_for(demo, Filters(), "problems"))
    assert not exports._is_map(exports.figure_for(demo, Filters(), "timeline"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_map_picture_writes_the_names_from_its_inline_font(demo):
    """The picture's page has no app to fetch the font from: the figure carries it inline, and the names are drawn.
    (Were the font not loaded, MapLibre would draw no letter and the two pictures below would be the same.)"""
    import plotly.graph_objects as go

    fig = exports.figure_for(demo, Filters(), "map")
    assert fig.layout.map.style["font-faces"]["Open Sans Regular"].startswith("data:font/woff2;base64,")
    unnamed = go.Figure(fig)
    unnamed.layout.meta = None
    renderer = exports.Renderer()
    try:
        named_png, unnamed_png = renderer.render(fig, OPTS), renderer.render(unnamed, OPTS)
    finally:
        renderer.stop()
    assert named_png != unnamed_png, "no name was drawn"
