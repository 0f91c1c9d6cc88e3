"""Pictures and briefs of the current view, made offline: figures with their caption and legend inside.

Images are rendered by kaleido with the system chromium (plotly.js from the plotly package, no
MathJax, no CDN); the brief is an HTML page printed to PDF by the same chromium: one long-lived
browser per process, a bounded line of jobs in front of it (:class:`Renderer`), and what it made kept
by what it was made from (:func:`_made_once`).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import json
import logging
import math
import re
import shutil
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from fractions import Fraction
from pathlib import Path
from typing import Any

import kaleido
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape

from dashboard import cache as shared_cache
from dashboard import text, theme
from dashboard.analysis import problem_rates, tally_by_phase
from dashboard.errors import ExportUnavailable
from dashboard.figures import (
    LABEL_STYLE_JS,
    MAP_NOTES,
    REGIONS,
    SMALL_REGIONS,
    font_data_url,
    label_points,
    make_region_map,
    map_view,
    plotly_text,
    trace_index,
)
from dashboard.filters import URL_ORDER, Filters
from dashboard.metrics import metric_table
from dashboard.selection import select
from dashboard.tables import region_table
from dashboard.views import drill_layers, problems, region_values, timeline, view_of
from geo import i18n
from geo.i18n import _, current, number
from geo.i18n import percent as percent_text
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS

log = logging.getLogger(__name__)
IMAGE_SIZE = (1600, 900)
# Offline: plotly.js from the plotly package, no MathJax (a CDN), no extensions, and every http(s) request
# sent to a closed local port, so chromium's background chatter (account and update checks) goes nowhere.
KALEIDO_OPTIONS = {"mathjax": False, "enable_extensions": False, "proxy_server": "http://127.0.0.1:9"}


FIGURES = ("map", "problems", "timeline")
RENDER_TIMEOUT_S = 60  # a map picture is 1.5-2 s of chromium's CPU warm, a brief's printing under 1 s; a stuck one is given up on
MAX_JOBS = 16  # pictures and briefs admitted per process at once (one drawn, the rest in line); more: 503 + Retry-After
TEMPLATES = Environment(
    loader=PackageLoader("dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# The templates' words in the language of the moment ({{ _("...") }}, {% trans %}); newstyle: "%(name)s" placeholders,
# filled and escaped by jinja, so a template's own strings avoid a bare "%" (a per-cent sign comes from ``percent``).
TEMPLATES.install_gettext_callables(i18n._, i18n.ngettext, newstyle=True)
TEMPLATES.policies["ext.i18n.trimmed"] = True  # as scripts.i18n extracts them: a {% trans %} block's lines joined by one space
TEMPLATES.filters["number"] = number
TEMPLATES.globals["percent"] = percent_text


def caption(mission: MissionDataset, filters: Filters, private: bool = False) -> str:
    """What a picture of ``filters`` shows, in one line (see :func:`dashboard.text.picture_caption`)."""
    return text.picture_caption(mission, metric_table(mission, select(mission, filters), filters), filters, private)


def _frame(fig: go.Figure, title: str, text: str, width: int, height: int, heading: str | None = None) -> go.Figure:
    """Title, the mission's line (election and organisation), then the caption (what is shown, the N, the time
    stamp), at the top, inside the image.

    The caption is the title's subtitle, placed against the whole image, so long y-axis labels
    cannot push it off the edge; the caption and the mission's line are wrapped to the image's width.
    """
    lines = textwrap.wrap(text, width=max(40, width // 9))
    heads = textwrap.wrap(heading, width=max(40, width // 10)) if heading else []
    # The mission's lines open the subtitle, in the title's colour: a multi-line title is placed badly by plotly.
    sub = [f"<span style='font-size:17px;color:{theme.TEXT}'>{plotly_text(line)}</span>" for line in heads]
    fig.update_layout(
        width=width,
        height=height,
        title=dict(
            text=plotly_text(title),
            x=0.012,
            xanchor="left",
            xref="container",
            y=0.985,
            yanchor="top",
            yref="container",
            font=dict(size=24),
            subtitle=dict(text="<br>".join([*sub, *(plotly_text(line) for line in lines)]), font=dict(size=15, color=theme.MUTED)),
        ),
        font=dict(size=17),
        margin=dict(
            l=20,
            r=max(fig.layout.margin.r or 0, 20),
            t=_top_margin(len(lines), len(heads)),
            b=max(fig.layout.margin.b or 0, 20),
        ),
    )
    return fig


def _top_margin(caption_lines: int, heading_lines: int) -> int:
    """Pixels above the plot for the title (24 px), the mission's lines (17 px) and the caption's lines (15 px)."""
    return 78 + 23 * heading_lines + 21 * caption_lines


# ------------------------------------------------------------------------------------------ figures
# The colour bar of a picture: along the top (a tall area) or down the right (a wide one), whichever leaves the
# map larger; these are the pixels it takes from the map's frame.
LEGEND_RIGHT_PX = 250
LEGEND_TOP_PX = 130


def map_figure(
    mission: MissionDataset, filters: Filters, width: int, height: int, private: bool = False, heading: bool = True
) -> go.Figure:
    """The map as the page shows it for ``filters`` (drill-down layers included), fitted to ``width`` x ``height``.

    The country (or the drilled region) fills the frame below the title: the colour bar goes where it costs the
    map least (down the right for a wide country, along the top for a tall one), and the map is fitted to what is left.
    """
    chosen = select(mission, filters)
    metric = metric_table(mission, chosen, filters)
    values = region_values(mission, metric, filters, private)
    # The names' font inline: the picture's page has no app to fetch it from.
    view = view_of(mission, filters.drill, (width, height))
    notes = mission.map_notes
    fig = make_region_map(mission.geojson, mission.region_names, values, view, mission.districts, font_url=font_data_url(), notes=notes)
    for name, layer in drill_layers(mission, chosen, filters).items():
        fig.data[trace_index(name)].update(layer)
    regions = fig.data[trace_index(REGIONS)]
    title = text.map_title(mission, metric, filters)
    caption_text = text.picture_caption(mission, metric, filters, private)
    fig = _frame(fig, title, caption_text, width, height, text.picture_heading(mission) if heading else None)
    margin = fig.layout.margin
    plot_w, plot_h = width - margin.l - margin.r, height - margin.t - margin.b
    bounds = mission.bounds.get(filters.drill or "*", mission.bounds["*"])
    beside = map_view(bounds, width_px=plot_w - LEGEND_RIGHT_PX, height_px=plot_h, legend_px=0)
    above = map_view(bounds, width_px=plot_w, height_px=plot_h, legend_px=LEGEND_TOP_PX)
    bar = dict(thickness=24, tickfont=dict(size=17), bgcolor="rgba(255,255,255,0.9)")
    if regions.showscale is False:  # a drilled-down map has no colour bar (its stations have their legend): all frame
        fig.update_layout(map=map_view(bounds, width_px=plot_w, height_px=plot_h, legend_px=0))
    elif beside["zoom"] >= above["zoom"]:
        legend_title = "<br>".join(textwrap.wrap(regions.colorbar.title.text or "", width=22))
        regions.colorbar.update(
            orientation="v",
            x=1,
            xanchor="right",
            y=1,
            yanchor="top",
            len=0.8,
            title=dict(text=legend_title, side="top", font=dict(size=17)),
            **bar,
        )
        fig.update_layout(map=dict(domain=dict(x=[0, 1 - LEGEND_RIGHT_PX / plot_w], y=[0, 1]), **beside))
    else:
        regions.colorbar.update(len=0.6, y=0.99, title=dict(font=dict(size=18)), **bar)
        fig.update_layout(map=above)
    fig.update_layout(legend=dict(y=0.02, font=dict(size=16)))
    return fig


def chart_figure(
    mission: MissionDataset, filters: Filters, which: str, width: int, height: int, private: bool = False, heading: bool = True
) -> go.Figure:
    """The problem chart or the timeline of ``filters``, with title and caption inside, at ``width`` x ``height``."""
    chosen = select(mission, filters)
    if which == "problems":
        fig, title = problems(chosen, filters, private)
    else:
        fig, title = timeline(chosen, filters, private), text.timeline_title(filters)
    fig.update_layout(height=None)
    fig = _frame(fig, title, caption(mission, filters, private), width, height, text.picture_heading(mission) if heading else None)
    if which == "timeline":  # the chart's legend sits above the plot, where the caption goes in a picture
        fig.update_layout(legend=dict(orientation="h", x=0, y=-0.12, yanchor="top"), margin=dict(b=90))
    return fig


def figure_for(
    mission: MissionDataset, filters: Filters, which: str, size: tuple[int, int] = IMAGE_SIZE, private: bool = False
) -> go.Figure:
    """The captioned ``which`` figure; ``private`` (aggregates-only accounts): no count behind fewer than ``min_n`` forms."""
    if which == "map":
        return map_figure(mission, filters, *size, private=private)
    return chart_figure(mission, filters, which, *size, private=private)


# ------------------------------------------------------------------------------------- the map as vectors
# The page's map is MapLibre (WebGL): its SVG would hold the map as one raster <image>. The SVG of the map is drawn
# instead on plotly's "geo" subplot (d3, SVG paths): the same traces as choropleth/scattergeo, the same frame, colours
# and colour bar, base layers hidden. plotly.js asks for a world topojson (https://cdn.plot.ly/un/...) whenever a trace
# has a ``locationmode`` (a GeoJSON choropleth has "geojson-id"), even with every base layer hidden; it is handed an
# empty topology as a data: URL instead (the file name plotly appends falls into the URL's #fragment), so nothing
# is fetched: offline, the default URL fails the picture ("unexpected error while fetching topojson file").
EMPTY_TOPOJSON = 'data:application/json,{"type":"Topology","objects":{},"arcs":[]}#'
REGION_NAMES = "Region names"  # the vector map's trace of names (the page's map draws them as a MapLibre layer)
_DARK_FROM_Z = theme.TOP - 2 * theme.CLASS_WIDTH  # the two darkest classes: names written in white on them


def vector_map(fig: go.Figure) -> go.Figure:
    """The MapLibre picture ``fig`` (:func:`map_figure`) as the same map on a geo subplot: SVG paths, no raster.

    Same frame (the longitudes and latitudes the map's centre and zoom show), same traces (regions, district
    borders, stations), title, caption and colour bar; each region's name is written inside it, as text.
    """
    js = fig.to_plotly_json()
    layout = dict(js["layout"])
    view = layout.pop("map", {})
    margin = layout.get("margin", {})
    domain = view.get("domain") or {"x": [0, 1], "y": [0, 1]}
    dx, dy = domain.get("x", [0, 1]), domain.get("y", [0, 1])
    plot_w = (layout["width"] - margin.get("l", 0) - margin.get("r", 0)) * (dx[1] - dx[0])
    plot_h = (layout["height"] - margin.get("t", 0) - margin.get("b", 0)) * (dy[1] - dy[0])
    lon_range, lat_range = _view_box(view["center"], view["zoom"], plot_w, plot_h)
    traces: list[go.BaseTraceType] = []
    for trace in js["data"]:
        kind = trace.get("type")
        props = {k: v for k, v in trace.items() if k not in ("type", "below", "subplot", "cluster")}
        if trace.get("name") in (SMALL_REGIONS, MAP_NOTES):  # on the page their names are the map's own layer
            props["mode"] = "markers+text"
        if kind == "choroplethmap":
            traces.append(go.Choropleth(props, skip_invalid=True))
        elif kind == "scattermap":
            traces.append(go.Scattergeo(props, skip_invalid=True))
    regions = js["data"][trace_index(REGIONS)]
    traces.append(_name_labels(regions, lon_range, lat_range))
    layout["geo"] = dict(
        domain=domain,
        projection=dict(type="mercator"),
        lonaxis=dict(range=lon_range),
        lataxis=dict(range=lat_range),
        visible=False,  # no coastlines, land, countries...: only the mission's own boundaries
        showframe=False,
        bgcolor="rgba(0,0,0,0)",
    )
    out = go.Figure(data=traces, layout=layout)
    return out


def _view_box(center: dict[str, float], zoom: float, width: float, height: float) -> tuple[list[float], list[float]]:
    """The longitudes and latitudes a web-Mercator map of ``width`` x ``height`` px shows at ``center`` and ``zoom``."""
    per_px = 360 / (512 * 2**zoom)  # degrees of longitude (and of Mercator y) per pixel
    merc = math.degrees(math.log(math.tan(math.pi / 4 + math.radians(center["lat"]) / 2)))

    def lat(y: float) -> float:
        return math.degrees(2 * math.atan(math.exp(math.radians(y))) - math.pi / 2)

    lon = [center["lon"] - per_px * width / 2, center["lon"] + per_px * width / 2]
    return lon, [lat(merc - per_px * height / 2), lat(merc + per_px * height / 2)]


def _name_labels(regions: dict[str, Any], lon_range: list[float], lat_range: list[float]) -> go.Scattergeo:
    """Each region's name (already escaped: the map trace's text) at a point inside it, within the frame; a small region
    is named beside its dot by the map's "Small regions" trace instead."""
    geojson = regions.get("geojson")
    points = {code: p for code, p in label_points(geojson).items() if not p[2]} if isinstance(geojson, dict) else {}
    lon, lat, names, colours = [], [], [], []
    for code, name, z in zip(regions.get("locations", []), regions.get("text", []), regions.get("z", []), strict=False):
        point = points.get(str(code))
        if point is None or not (lon_range[0] <= point[0] <= lon_range[1] and lat_range[0] <= point[1] <= lat_range[1]):
            continue
        lon.append(point[0])
        lat.append(point[1])
        names.append(_two_lines(name))
        colours.append("white" if z is not None and z >= _DARK_FROM_Z else theme.TEXT)
    return go.Scattergeo(
        lon=lon, lat=lat, text=names, mode="text", textfont=dict(size=14, color=colours), hoverinfo="skip",
        name=REGION_NAMES, showlegend=False,
    )  # fmt: skip


def _two_lines(name: str) -> str:
    """A long name in two lines, at the space nearest its middle (the name is already plotly text)."""
    if len(name) < 14 or " " not in name:
        return name
    middle = len(name) // 2
    cut = min((i for i, ch in enumerate(name) if ch == " "), key=lambda i: abs(i - middle))
    return name[:cut] + "<br>" + name[cut + 1 :]


def _failed(what: str) -> str:
    """What a person reads when chromium failed to ``what`` (the log keeps the English ``what``)."""
    if what == "draw the map":
        return _("chromium could not draw the map; try again (the server log has the detail).")
    if what == "print the brief":
        return _("chromium could not print the brief; try again (the server log has the detail).")
    return _("chromium could not draw the picture; try again (the server log has the detail).")


class ExportBusy(ExportUnavailable):
    """Too many pictures and briefs in hand on this process: come back in ``retry_after`` seconds (a 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# A map picture in a tab kept for maps: one live plot, redrawn with Plotly.react, then plotly's own snapshot (what
# Plotly.toImage does inside, without its new plot: a new MapLibre map and WebGL context cost ~1.2 s a picture). The
# fixes found against kaleido's own pictures, byte for byte: no symbol fade and no paint transition from the last
# picture, the trace layers re-added in plotly's order, and the map's snapshot images cleared (they pile up otherwise).
MAP_PICTURE_JS = r"""
async function(figd, opts) {
  const scale = opts.scale || 1;
  const cfg = Object.assign({plotGlPixelRatio: 2 * scale}, figd.config || {}, {staticPlot: true});  // as kaleido_scopes
  let gd = window.__obsmapGd;
  if (!gd) {
    gd = window.__obsmapGd = document.createElement('div');
    gd.style.position = 'absolute'; gd.style.left = '-5000px';  // as Plotly.toImage's clone
    document.body.appendChild(gd); window.__obsmapRev = 0;
  }
  const lay = Object.assign({}, figd.layout, {width: opts.width, height: opts.height, datarevision: ++window.__obsmapRev});
  const subplots = () => (gd._fullLayout ? gd._fullLayout._subplots.map || [] : [])
    .map((id) => gd._fullLayout[id]._subplot).filter((s) => s && s.map);
  for (const s of subplots()) {
    s.map._fadeDuration = 0;                                      // no symbol fade-in (MapLibre fades once the map was idle)
    s.map.style.stylesheet.transition = {duration: 0, delay: 0};  // no 300 ms paint transitions from the last picture
    for (const id in s.traceHash) s.traceHash[id].dispose();      // trace layers re-added in plotly's order, as in a new plot
    s.traceHash = {};
  }
  await Plotly.react(gd, figd.data, lay, cfg);                    // resolves once the map has rendered and loaded
  STYLE_LABELS
  gd._fullLayout._glimages.selectAll('*').remove();               // map toSVG appends its image here; only purge clears it
  const svg = Plotly.Snapshot.toSVG(gd, opts.format, scale);      // map canvas -> toDataURL -> <image> in the SVG
  gd._fullLayout._glimages.selectAll('*').remove();
  const url = await Plotly.Snapshot.svgToImg({format: opts.format, width: gd._fullLayout.width,
    height: gd._fullLayout.height, scale, canvas: document.createElement('canvas'), svg, promise: true});
  return url.replace(/^data:image\/\w+;base64,/, '');
}
"""
# The names' halo and the dots' outline, as on the page (kaleido's own pictures have neither: the test that compares
# the two draws without this step, MAP_PICTURE_PLAIN_JS).
_STYLE_LABELS = """for (const s of subplots()) {
    (LABEL_STYLE_JS)(gd);
    await new Promise((done) => { s.map.once('idle', done); s.map.triggerRepaint(); });
  }""".replace("LABEL_STYLE_JS", LABEL_STYLE_JS)
MAP_PICTURE_PLAIN_JS = MAP_PICTURE_JS.replace("STYLE_LABELS", "")
MAP_PICTURE_JS = MAP_PICTURE_JS.replace("STYLE_LABELS", _STYLE_LABELS)
MAP_TAB_PICTURES = 200  # the map tab is made anew after this many pictures (a long-lived page is not trusted for ever)
MAP_FORMATS = ("png", "jpeg", "webp")


def _is_map(fig: go.Figure) -> bool:
    return any(trace.type in ("choroplethmap", "scattermap") for trace in fig.data)


def _is_geo(fig: go.Figure) -> bool:
    return any(trace.type in ("choropleth", "scattergeo") for trace in fig.data)


class _Kaleido(kaleido.Kaleido):
    """kaleido's browser, whose tab is made clean again (kaleido reloads it) after a picture is handed over, not before:
    the reload (0.2-0.3 s) overlaps the reply instead of delaying it; the next picture waits for the tab if it must.

    Map pictures go to a tab of kaleido's page kept for them (:meth:`calc_map`); if that fails in any way, the picture
    is made by kaleido's own path and the map tab is made anew next time."""

    _returning: set[asyncio.Task] | None = None
    _map_tab: Any = None
    _map_pictures = 0

    async def calc_map(self, fig: go.Figure, opts: dict[str, Any]) -> bytes:
        try:
            return await self._calc_map(fig, opts)
        except Exception as exc:  # kaleido's internals moved, the page broke: kaleido's own path, which always works
            log.warning("the map tab could not draw the picture (%r); drawn by kaleido's own path", exc)
            self._map_tab = None
            return await self.calc_fig(fig, opts=opts)

    async def _calc_map(self, fig: go.Figure, opts: dict[str, Any]) -> bytes:
        from kaleido._kaleido_tab import _devtools_utils as devtools
        from kaleido._kaleido_tab._tab import _KaleidoTab

        if self._map_tab is None or self._map_pictures >= MAP_TAB_PICTURES:
            old, self._map_tab = self._map_tab, None
            if old is not None:
                with contextlib.suppress(Exception):
                    await self.close_tab(old.tab.target_id)
            tab = _KaleidoTab(await self.create_tab(url="", window=True))
            await tab.navigate(self._index)
            self._map_tab, self._map_pictures = tab, 0
        self._map_pictures += 1
        tab = self._map_tab
        reply = await asyncio.wait_for(
            devtools.exec_js_fn(tab.tab, tab._current_js_id, MAP_PICTURE_JS, json.loads(fig.to_json()), opts), 60
        )
        result = reply.get("result", {})
        if "error" in reply or "exceptionDetails" in result:
            raise RuntimeError(f"map picture failed: {str(reply)[:300]}")
        return base64.b64decode(result["result"]["value"])

    async def _return_kaleido_tab(self, tab: Any) -> None:
        if self._returning is None:
            self._returning = set()
        task = asyncio.create_task(super()._return_kaleido_tab(tab))
        self._returning.add(task)  # held, so the task is not collected half-way
        task.add_done_callback(self._returned)

    def _returned(self, task: asyncio.Task) -> None:
        if self._returning is not None:
            self._returning.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the browser closed meanwhile: the next step starts anew
            log.debug("kaleido's tab was not made ready again: %r", task.exception())


class Renderer:
    """One long-lived chromium for the process (kaleido's), started on first use, drawing pictures and printing briefs.

    Starting chromium costs seconds and a few hundred MB; a picture in a warm tab about one second of CPU, a brief's
    printing a fraction of one. So each process keeps one browser, and everything goes through it one step at a time
    (a lock, waited for at most :data:`RENDER_TIMEOUT_S`): ten briefs asked for at once are ten jobs in line, not ten
    browsers. At most :data:`MAX_JOBS` jobs (a picture, or a brief with its two pictures) are admitted per process;
    beyond that the request is told at once to come back (:class:`ExportBusy`: a 503 with Retry-After) instead of
    holding a thread for minutes. A failed start or step closes the browser, so the next one starts a fresh one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the browser: one step at a time
        self._admitting = threading.Lock()
        self._jobs = 0
        self._step_s = 1.5  # a step's usual length (moving average), for Retry-After
        self._in_job = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        atexit.register(self.stop)  # no chromium left behind by a server, a worker or `obsmap brief`

    @contextlib.contextmanager
    def job(self) -> Iterator[None]:
        """A picture or a brief (its pictures are part of it): admitted while fewer than MAX_JOBS are in hand."""
        if getattr(self._in_job, "active", False):
            yield
            return
        with self._admitting:
            if self._jobs >= MAX_JOBS:
                wait = max(2, math.ceil(self._jobs * self._step_s))
                raise ExportBusy(
                    _("{jobs} pictures and briefs are being made on this server; try again in {wait} s.").format(
                        jobs=number(self._jobs), wait=number(wait)
                    ),
                    wait,
                )
            self._jobs += 1
        self._in_job.active = True
        try:
            yield
        finally:
            self._in_job.active = False
            with self._admitting:
                self._jobs -= 1

    def _run(self, coroutine: Any, timeout: float) -> Any:
        if self._loop is None:
            raise RuntimeError("the renderer's event loop is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="obsmap-kaleido", daemon=True)
        self._thread.start()
        # Kept before it opens, so a start that times out still has its chromium closed by stop().
        self._kaleido = _Kaleido(path=chromium(), **KALEIDO_OPTIONS)
        self._run(self._kaleido.open(), RENDER_TIMEOUT_S)

    def stop(self) -> None:
        """Close the browser and its event loop (the next render starts new ones)."""
        loop, browser, self._loop, self._kaleido = self._loop, self._kaleido, None, None
        alive = self._thread is not None and self._thread.is_alive()
        if loop is None:
            return
        if browser is not None and alive:
            with contextlib.suppress(Exception):  # already failing; the browser process is gone or going
                asyncio.run_coroutine_threadsafe(browser.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        if alive and self._thread is not threading.current_thread():
            self._thread.join(10)
            if not self._thread.is_alive():
                loop.close()  # its sockets with it

    def _step(self, work: Callable[[Any], Any], what: str) -> Any:
        """``work(browser)`` (a coroutine) in the browser, once it is free; bounded in waiting and in time."""
        # Waiting in line is bounded too: a request never hangs behind a stuck picture.
        if not self._lock.acquire(timeout=RENDER_TIMEOUT_S):
            raise ExportBusy(
                _("the picture renderer is busy for more than {seconds} s; try again.").format(seconds=number(RENDER_TIMEOUT_S)),
                RENDER_TIMEOUT_S,
            )
        try:
            if self._kaleido is not None and not (self._thread and self._thread.is_alive()):
                self.stop()  # its event loop's thread is gone (killed from outside): start afresh rather than wait
            if self._kaleido is None:
                self._start()
            started = time.monotonic()
            result = self._run(work(self._kaleido), RENDER_TIMEOUT_S)
            self._step_s = 0.8 * self._step_s + 0.2 * (time.monotonic() - started)
            return result
        except Exception as exc:
            log.warning("chromium failed to %s: %r", what, exc)
            self.stop()
            raise ExportUnavailable(_failed(what)) from exc
        finally:
            self._lock.release()

    def render(self, fig: go.Figure, opts: dict[str, Any]) -> bytes:
        with self.job():
            if _is_map(fig) and opts.get("format") in MAP_FORMATS:
                return self._step(lambda browser: browser.calc_map(fig, opts), "draw the map")
            topojson = EMPTY_TOPOJSON if _is_geo(fig) else None
            return self._step(lambda browser: browser.calc_fig(fig, opts=opts, topojson=topojson), "draw the picture")

    def render_by_kaleido(self, fig: go.Figure, opts: dict[str, Any]) -> bytes:
        """The picture by kaleido's own path (a new plot each time): what the map tab's pictures are checked against."""
        with self.job():
            return self._step(lambda browser: browser.calc_fig(fig, opts=opts), "draw the picture")

    def print_pdf(self, html: str) -> bytes:
        """``html`` printed to PDF by the same browser, in a tab of its own that runs no script and is closed after."""
        with self.job(), tempfile.TemporaryDirectory(prefix="obsmap-brief-") as tmp:
            page = Path(tmp) / "brief.html"
            page.write_text(html, encoding="utf-8")
            return self._step(lambda browser: _print(browser, page.as_uri()), "print the brief")


async def _print(browser: Any, url: str) -> bytes:
    """Open ``url`` in a new tab of ``browser`` (scripts off), wait for it to load (its images too), print it, close it."""
    tab = await browser.create_tab("")
    try:
        _answer(await tab.send_command("Emulation.setScriptExecutionDisabled", params={"value": True}))
        _answer(await tab.send_command("Page.enable"))
        loaded = tab.subscribe_once("Page.loadEventFired")
        while loaded.done():  # an event of the blank page, from before: not this one
            loaded = tab.subscribe_once("Page.loadEventFired")
        navigated = _answer(await tab.send_command("Page.navigate", params={"url": url}))
        if navigated.get("errorText"):
            raise RuntimeError(f"chromium could not open the brief: {navigated['errorText']}")
        await loaded
        # The page's own @page rule (A4 landscape, margins) decides the paper; no header or footer, as --no-pdf-header-footer.
        printed = _answer(
            await tab.send_command(
                "Page.printToPDF", params={"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}
            )
        )
        return base64.b64decode(printed["data"])
    finally:
        with contextlib.suppress(Exception):
            await browser.close_tab(tab.target_id)


def _answer(response: dict[str, Any]) -> dict[str, Any]:
    if "error" in response:
        raise RuntimeError(f"chromium answered {response['error']}")
    return response.get("result", {})


_renderer = Renderer()  # a resource like a connection pool, not state: every call gives the same bytes
_making: dict[str, Future] = {}  # what is being made now, by the digest of what it is made from
_making_lock = threading.Lock()


def _made_once(kind: str, source: str, make: Callable[[], bytes]) -> bytes:
    """Bytes made from ``source`` alone (a figure's JSON, a page's HTML): made once, whoever asks.

    The same source gives the same bytes, so they are kept in the app's shared cache (:func:`dashboard.cache.remember_made`:
    every worker, and every server on the same Redis), and requests for the same bytes while they are being made wait
    for them instead of making them again: ten people downloading the brief a briefing is looking at cost one brief.
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()

    def once() -> bytes:
        with _making_lock:
            pending = _making.get(digest)
            mine = pending is None
            if mine:
                pending = _making[digest] = Future()
        if not mine:
            return pending.result(timeout=3 * RENDER_TIMEOUT_S)
        try:
            made = make()
            pending.set_result(made)
            return made
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            with _making_lock:
                _making.pop(digest, None)

    return shared_cache.remember_made(kind, digest, once)


def render(fig: go.Figure, fmt: str) -> bytes:
    """PNG or SVG bytes, offline (local plotly.js, no MathJax), with the system chromium kept open between calls.

    The SVG of a map is drawn as vectors (:func:`vector_map`), not as MapLibre's raster."""
    chromium()  # kaleido would otherwise offer to download a browser, which an offline mission cannot
    if fmt == "svg" and _is_map(fig):
        fig = vector_map(fig)
    opts = {"format": fmt, "width": fig.layout.width, "height": fig.layout.height}
    return _made_once(fmt, fig.to_json() + json.dumps(opts, sort_keys=True), lambda: _renderer.render(fig, opts))


# --------------------------------------------------------------------------------------------- brief
def brief_html(mission: MissionDataset, filters: Filters, private: bool = False) -> str:
    """A one-page A4 landscape brief: sentences with N, the map, the problem chart, the table by region, caveats.

    ``private`` (aggregates-only accounts): no count behind fewer than ``min_n`` forms (regions with so few are
    named without numbers in any case).
    """
    chosen = select(mission, filters)
    # Pixel sizes chosen so that the figures' 16-18 px type prints at about 7-8 pt.
    # The page's own heading names the election and the organisation: its pictures do not repeat them.
    map_png = render(map_figure(mission, filters, 1100, 640, private, heading=False), "png")
    bars = int((problem_rates(chosen.phase_any_problem)["answered"] > 0).sum())
    chart_png = render(chart_figure(mission, filters, "problems", 900, 160 + 46 * max(bars, 3), private, heading=False), "png")
    sentences = [
        {
            "phase": PHASE_LABELS[ft],
            "sentence": _brief_statement(ft, t, filters, private),
            "n_line": text.n_line(t, filters.min_n if private else None).replace(" · ", "; "),
            "few": 0 < t["assessed"] < filters.min_n,
        }
        for ft, t in tally_by_phase(chosen.all_phases).items()
    ]
    regions = region_table(mission, chosen, filters)
    listed = [r for r in regions if r["assessed"] and r["assessed"] >= filters.min_n]
    if len(listed) > BRIEF_MAX_REGIONS:  # keep the page: the regions with the most assessed forms
        listed = sorted(listed, key=lambda r: (-r["assessed"], r["region"]))[:BRIEF_MAX_REGIONS]
    listed = sorted(listed, key=by_share)
    rest = sorted((r for r in regions if r not in listed), key=lambda r: (r["region"].casefold(), r["region"]))
    meta = mission.meta
    return TEMPLATES.get_template("brief.html").render(
        lang=current(),
        name=mission.text("name") or _("mission"),
        title=mission.text("name") or _("Election observation mission"),
        mission_line=mission.text("mission") or "",
        phase=PHASE_LABELS[filters.form_type],
        selection=filters.describe(mission.region_names),
        as_of=text.as_of(mission) or _("not given"),
        synthetic=(mission.text("notice") or _("The forms are synthetic.")) if meta.get("synthetic") else None,
        map_png=_data_url(map_png),
        chart_png=_data_url(chart_png),
        sentences=sentences,
        table_rows=_side_by_side([{**r, "rank": i} for i, r in enumerate(listed, 1)]),
        blocks=1 if len(listed) <= BRIEF_ONE_COLUMN else 2,
        few=[r for r in rest if not r["assessed"] or r["assessed"] < filters.min_n],
        more=[r for r in rest if r["assessed"] and r["assessed"] >= filters.min_n],
        min_n=filters.min_n,
        sources=mission.sources,
        ci_head=_("95 % CI"),
        ci_level=percent_text(95),
    )


BRIEF_MAX_REGIONS = 24
BRIEF_ONE_COLUMN = 10  # up to this many regions, one block of rows; more: two blocks side by side, in one table


def by_share(row: dict[str, Any]) -> tuple[Fraction, str, str]:
    """The brief's order of regions: the share bad or very bad, highest first (exactly, not as rounded), then the name."""
    return (-Fraction(row["negative"], row["assessed"]), row["region"].casefold(), row["region"])


def _side_by_side(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Rows of the brief's one region table: the regions in order down the left block, then down the right one."""
    if len(rows) <= BRIEF_ONE_COLUMN:
        return [(r, None) for r in rows]
    half = (len(rows) + 1) // 2
    return [(left, rows[half + i] if half + i < len(rows) else None) for i, left in enumerate(rows[:half])]


def _brief_statement(form_type: str, tally: dict[str, int], filters: Filters, private: bool) -> str:
    """The phase's statement as a printed page says it: a reason where there is no figure, never an instruction."""
    if form_type == "tabulation" and tally["n"] == 0 and (filters.setting or filters.evoting):
        return _("Not shown: urban/rural and voting-method filters do not apply to territorial commissions.")
    return text.statement_for(form_type, tally, filters, private=private)


# The words of each filter in a file name, in the URL's order (dashboard.filters.URL_ORDER), short and file-safe.
_NAME_LIMIT = 200  # characters of a file name before its extension (file systems allow 255 bytes)
_NAMED_VALUES = 3  # a list filter with more values is named by their number
# Named already (the phase in ``what``, the regions first), or how the page looks and where "Back" goes, not what is counted.
_NOT_NAMED = ("form_type", "regions", "mode", "back_to")


def download_name(filters: Filters, what: str, fmt: str) -> str:
    """``obsmap-<what>-<regions or all>[-<every other filter set>].<fmt>``: the file says which view it holds.

    Every filter that differs from the default view is named, as in the view's URL (``to_query``): the metric,
    problem, setting, voting method, organisations, teams, overall assessment, hours, review, conflicts, drill-down
    and small-sample threshold; a path separator or a control character becomes ``_``, spaces and commas ``_``.
    A name longer than a file system allows is cut, with a short digest of the whole so two views never share a name.

    >>> download_name(Filters("voting", regions=("KZ-KAR",), setting="urban", hours=(8, 20), min_n=5), "map-voting", "png")
    'obsmap-map-voting-KZ-KAR-urban-hours_8-20-min_n_5.png'
    """
    where = "-".join(filters.regions) if len(filters.regions) <= _NAMED_VALUES else f"{len(filters.regions)}regions"
    parts = [f"obsmap-{what}-{where or 'all'}", *_filter_words(filters)]
    name = "-".join(parts)
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name)
    if len(name) > _NAME_LIMIT:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
        name = name[: _NAME_LIMIT - 9] + "~" + digest
    return f"{name}.{fmt}"


def _filter_words(filters: Filters) -> list[str]:
    """Each filter set in ``filters`` (besides the phase and the regions, named already) as a short token."""
    words = []
    for spec in URL_ORDER:
        value = getattr(filters, spec.name)
        if spec.name in _NOT_NAMED or value == spec.default:
            continue
        if spec.name == "drill":
            words.append(f"drill_{value}")
        elif spec.kind == "hours":
            words.append(f"hours_{value[0]}-{value[1]}")
        elif spec.kind == "many":
            many = len(value) > _NAMED_VALUES  # "5orgs": the filter is named, its values are in the brief's selection line
            words.append(f"{len(value)}{spec.param}s" if many else f"{spec.param}_" + "+".join(_safe(spec.to_url(v)) for v in value))
        elif spec.name in ("setting", "metric"):
            words.append(_safe(str(value)))
        else:
            words.append(f"{spec.param}_{_safe(spec.to_url(str(value)))}")
    return words


def _safe(value: str) -> str:
    """A value in a file name: spaces, commas and the characters file systems refuse become ``_``."""
    return re.sub(r'[\s,;:*?"<>|/\\\x00-\x1f\x7f]+', "_", value).strip("_")[:24] or "_"


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ExportUnavailable(_("Images and briefs need a chromium on PATH: install Debian's chromium (make test does)."))


def html_to_pdf(html: str) -> bytes:
    """Print an HTML page to PDF with the process's chromium (:class:`Renderer`), offline (http and https go nowhere)."""
    chromium()
    return _made_once("pdf", html, lambda: _renderer.print_pdf(html))


def brief(mission: MissionDataset, filters: Filters, fmt: str, private: bool = False) -> bytes:
    """The brief of a view as PDF or HTML: one job in the renderer's line (its two pictures and its printing)."""
    if fmt == "html":
        return brief_html(mission, filters, private).encode("utf-8")
    with _renderer.job():
        return html_to_pdf(brief_html(mission, filters, private))
