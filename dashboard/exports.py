"""Pictures and briefs of the current view, made offline: figures with their caption and legend inside.

Images are rendered by kaleido with the system chromium (plotly.js from the plotly package, no
MathJax, no CDN); the brief is an HTML page printed to PDF by the same chromium.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
from pathlib import Path
from typing import Any

import kaleido
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape

from dashboard import text, theme
from dashboard.analysis import problem_rates, tally_by_phase
from dashboard.errors import ExportUnavailable
from dashboard.figures import REGIONS, make_region_map, plotly_text, trace_index
from dashboard.filters import Filters
from dashboard.metrics import metric_table
from dashboard.selection import select
from dashboard.tables import region_table
from dashboard.views import DRILLED_OPACITY, drill_layers, problems, region_values, timeline, view_of
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS

log = logging.getLogger(__name__)
IMAGE_SIZE = (1600, 900)
# Offline: plotly.js from the plotly package, no MathJax (a CDN), no extensions, and every http(s) request
# sent to a closed local port, so chromium's background chatter (account and update checks) goes nowhere.
KALEIDO_OPTIONS = {"mathjax": False, "enable_extensions": False, "proxy_server": "http://127.0.0.1:9"}


FIGURES = ("map", "problems", "timeline")
RENDER_TIMEOUT_S = 60  # a picture takes about 1 s warm, a brief 5-8 s; a stuck chromium is given up on
TEMPLATES = Environment(loader=PackageLoader("dashboard", "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True)


def caption(mission: MissionDataset, filters: Filters, private: bool = False) -> str:
    """What a picture of ``filters`` shows, in one line (see :func:`dashboard.text.picture_caption`)."""
    return text.picture_caption(mission, metric_table(mission, select(mission, filters), filters), filters, private)


def _frame(fig: go.Figure, title: str, text: str, width: int, height: int) -> go.Figure:
    """Title and caption (what is shown, the N, the time stamp) at the top, inside the image.

    The caption is the title's subtitle, placed against the whole image, so long y-axis labels
    cannot push it off the edge; it is wrapped to the image's width.
    """
    lines = textwrap.wrap(text, width=max(40, width // 9))
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
            subtitle=dict(text="<br>".join(plotly_text(line) for line in lines), font=dict(size=15, color=theme.MUTED)),
        ),
        font=dict(size=17),
        margin=dict(l=20, r=max(fig.layout.margin.r or 0, 20), t=78 + 21 * len(lines), b=max(fig.layout.margin.b or 0, 20)),
    )
    return fig


# ------------------------------------------------------------------------------------------ figures
def map_figure(mission: MissionDataset, filters: Filters, width: int, height: int, private: bool = False) -> go.Figure:
    """The map as the page shows it for ``filters`` (drill-down layers included), fitted to ``width`` x ``height``."""
    chosen = select(mission, filters)
    metric = metric_table(mission, chosen, filters)
    view = view_of(mission, filters.drill, (width, height - 150))
    values = region_values(mission, metric, filters, private)
    fig = make_region_map(mission.geojson, mission.region_names, values, view, mission.districts)
    for name, layer in drill_layers(mission, chosen, filters).items():
        fig.data[trace_index(name)].update(layer)
    regions = fig.data[trace_index(REGIONS)]
    if filters.drill:
        regions.marker.opacity = DRILLED_OPACITY
    regions.colorbar.update(len=0.55, thickness=22, tickfont=dict(size=18), title=dict(font=dict(size=19)), y=0.99)
    fig = _frame(fig, text.map_title(mission, metric, filters), text.picture_caption(mission, metric, filters, private), width, height)
    fig.update_layout(legend=dict(y=0.06, font=dict(size=16)))
    return fig


def chart_figure(mission: MissionDataset, filters: Filters, which: str, width: int, height: int, private: bool = False) -> go.Figure:
    """The problem chart or the timeline of ``filters``, with title and caption inside, at ``width`` x ``height``."""
    chosen = select(mission, filters)
    if which == "problems":
        fig, title = problems(chosen, filters, private)
    else:
        fig, title = timeline(chosen, filters, private), text.timeline_title(filters)
    fig.update_layout(height=None)
    fig = _frame(fig, title, caption(mission, filters, private), width, height)
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


class Renderer:
    """One long-lived kaleido (a chromium tab) for the process, started on first use.

    Starting chromium costs seconds; a picture in a warm tab well under one. Calls are serialised
    (one tab; a briefing server gets a few requests a minute, not a farm) and bounded in time; a
    failed start or render closes the browser, so the next call starts a fresh one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido: Any = None
        atexit.register(self.stop)  # no chromium left behind by a server, a worker or `obsmap brief`

    def _run(self, coroutine: Any, timeout: float) -> Any:
        if self._loop is None:
            raise RuntimeError("the renderer's event loop is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="obsmap-kaleido", daemon=True)
        self._thread.start()
        # Kept before it opens, so a start that times out still has its chromium closed by stop().
        self._kaleido = kaleido.Kaleido(path=chromium(), **KALEIDO_OPTIONS)
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

    def render(self, fig: go.Figure, opts: dict[str, Any]) -> bytes:
        # Waiting in line is bounded too: a request never hangs behind a stuck picture.
        if not self._lock.acquire(timeout=RENDER_TIMEOUT_S):
            raise ExportUnavailable(f"the picture renderer is busy for more than {RENDER_TIMEOUT_S} s; try again.")
        try:
            if self._kaleido is not None and not (self._thread and self._thread.is_alive()):
                self.stop()  # its event loop's thread is gone (killed from outside): start afresh rather than wait
            if self._kaleido is None:
                self._start()
            return self._run(self._kaleido.calc_fig(fig, opts=opts), RENDER_TIMEOUT_S)
        except Exception as exc:
            log.warning("chromium failed to draw a picture: %r", exc)
            self.stop()
            raise ExportUnavailable("chromium could not draw the picture; try again (the server log has the detail).") from exc
        finally:
            self._lock.release()


_renderer = Renderer()  # a resource like a connection pool, not state: every call gives the same bytes


def render(fig: go.Figure, fmt: str) -> bytes:
    """PNG or SVG bytes, offline (local plotly.js, no MathJax), with the system chromium kept open between calls."""
    chromium()  # kaleido would otherwise offer to download a browser, which an offline mission cannot
    return _renderer.render(fig, {"format": fmt, "width": fig.layout.width, "height": fig.layout.height})


# --------------------------------------------------------------------------------------------- brief
def brief_html(mission: MissionDataset, filters: Filters, private: bool = False) -> str:
    """A one-page A4 landscape brief: sentences with N, the map, the problem chart, the table by region, caveats.

    ``private`` (aggregates-only accounts): no count behind fewer than ``min_n`` forms (regions with so few are
    named without numbers in any case).
    """
    chosen = select(mission, filters)
    # Pixel sizes chosen so that the figures' 16-18 px type prints at about 7-8 pt.
    map_png = render(map_figure(mission, filters, 1100, 700, private), "png")
    bars = int((problem_rates(chosen.phase_any_problem)["answered"] > 0).sum())
    chart_png = render(chart_figure(mission, filters, "problems", 900, 200 + 52 * max(bars, 3), private), "png")
    sentences = [
        {
            "phase": PHASE_LABELS[ft],
            "sentence": text.statement_for(ft, t, filters, private=private),
            "n_line": text.n_line(t, filters.min_n if private else None).replace(" · ", "; "),
            "few": 0 < t["assessed"] < filters.min_n,
        }
        for ft, t in tally_by_phase(chosen.all_phases).items()
    ]
    regions = region_table(mission, chosen, filters)
    listed = [r for r in regions if r["assessed"] >= filters.min_n]
    if len(listed) > BRIEF_MAX_REGIONS:  # keep the page: the regions with the most assessed forms
        listed = sorted(sorted(listed, key=lambda r: -r["assessed"])[:BRIEF_MAX_REGIONS], key=lambda r: r["region"])
    rest = [r for r in regions if r not in listed]
    half = (len(listed) + 1) // 2
    meta = mission.meta
    return TEMPLATES.get_template("brief.html").render(
        name=meta.get("name", "mission"),
        title=meta.get("name", "Election observation mission"),
        mission_line=meta.get("mission", ""),
        phase=PHASE_LABELS[filters.form_type],
        selection=filters.describe(mission.region_names),
        as_of=text.as_of(mission) or "not given",
        synthetic=meta.get("notice", "The forms are synthetic.") if meta.get("synthetic") else None,
        map_png=_data_url(map_png),
        chart_png=_data_url(chart_png),
        sentences=sentences,
        table_parts=[part for part in (listed[:half], listed[half:]) if part],
        few=[r for r in rest if r["assessed"] < filters.min_n],
        more=[r for r in rest if r["assessed"] >= filters.min_n],
        min_n=filters.min_n,
        sources=meta.get("sources", []),
    )


BRIEF_MAX_REGIONS = 24


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise ExportUnavailable("Images and briefs need a chromium on PATH: install Debian's chromium (make test does).")


def html_to_pdf(html: str) -> bytes:
    """Print an HTML page to PDF with headless chromium, offline (no host but this machine resolves)."""
    with tempfile.TemporaryDirectory(prefix="obsmap-brief-") as tmp:
        page, pdf = Path(tmp) / "brief.html", Path(tmp) / "brief.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        # Its own process group, so a timeout ends chromium's helpers too, not only the main process.
        with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True) as proc:
            try:
                _, stderr = proc.communicate(timeout=RENDER_TIMEOUT_S)
            except subprocess.TimeoutExpired as exc:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise ExportUnavailable(f"chromium did not print the brief within {RENDER_TIMEOUT_S} s; try again.") from exc
        if proc.returncode != 0:
            log.warning("chromium printing the brief exited %s: %s", proc.returncode, stderr.decode("utf-8", "replace")[-2000:])
            raise ExportUnavailable(f"chromium could not print the brief (exit code {proc.returncode}); the server log has the detail.")
        if not pdf.is_file():
            raise ExportUnavailable("chromium exited without writing the brief's PDF.")
        return pdf.read_bytes()


def brief(mission: MissionDataset, filters: Filters, fmt: str, private: bool = False) -> bytes:
    html = brief_html(mission, filters, private)
    return html.encode("utf-8") if fmt == "html" else html_to_pdf(html)
