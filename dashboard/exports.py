"""Pictures and briefs of the current view, made offline: figures with their caption and legend inside.

Images are rendered by kaleido with the system chromium (plotly.js from the plotly package, no
MathJax, no CDN); the brief is an HTML page printed to PDF by the same chromium.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import textwrap
import threading
from html import escape
from pathlib import Path
from typing import Any

import kaleido
import plotly.graph_objects as go

from dashboard import theme
from dashboard.analysis import Filters, filter_forms, interval_text, problem_rates, tally_by_phase
from dashboard.errors import ExportUnavailable
from dashboard.figures import make_region_map
from dashboard.views import (
    drill_layers,
    drill_title,
    metric_caption,
    problems,
    region_table,
    region_values,
    statement_for,
    timeline,
    view_of,
)
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS

IMAGE_SIZE = (1600, 900)
# Offline: plotly.js from the plotly package, no MathJax (a CDN), no extensions, and every http(s) request
# sent to a closed local port, so chromium's background chatter (account and update checks) goes nowhere.
KALEIDO_OPTIONS = {"mathjax": False, "enable_extensions": False, "proxy_server": "http://127.0.0.1:9"}


FIGURES = ("map", "problems", "timeline")
_kaleido_lock = threading.Lock()


# ------------------------------------------------------------------------------------------ captions
def caption(mission: MissionDataset, filters: Filters) -> str:
    """What a picture shows, in one line: phase, selection, N, time stamp, and whether the forms are synthetic."""
    parts = [
        f"{PHASE_LABELS[filters.form_type]} forms · {filters.describe(mission.region_names)}",
        metric_caption(mission, filters),
    ]
    if mission.meta.get("data_as_of"):
        parts.append(f"data as of {mission.meta['data_as_of'].replace('T', ' ')}")
    if mission.meta.get("synthetic"):
        parts.append("SYNTHETIC DEMO FORMS")
    return " · ".join(parts)


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
            text=escape(title),
            x=0.012,
            xanchor="left",
            xref="container",
            y=0.985,
            yanchor="top",
            yref="container",
            font=dict(size=24),
            subtitle=dict(text="<br>".join(escape(line) for line in lines), font=dict(size=15, color=theme.MUTED)),
        ),
        font=dict(size=17),
        margin=dict(l=20, r=max(fig.layout.margin.r or 0, 20), t=78 + 21 * len(lines), b=max(fig.layout.margin.b or 0, 20)),
    )
    return fig


# ------------------------------------------------------------------------------------------ figures
def map_figure(mission: MissionDataset, filters: Filters, width: int, height: int) -> go.Figure:
    """The map as the page shows it for ``filters`` (drill-down layers included), fitted to ``width`` x ``height``."""
    values, title, _, _ = region_values(mission, filters)
    view = view_of(mission, filters.drill, height - 150, width)
    fig = make_region_map(mission.geojson, mission.region_names, values, view, mission.districts)
    for index, layer in drill_layers(mission, filters).items():
        fig.data[index].update(layer)
    if filters.drill:
        fig.data[0].marker.opacity = 0.45
        title = drill_title(mission, filters)
    fig.data[0].colorbar.update(len=0.55, thickness=22, tickfont=dict(size=18), title=dict(font=dict(size=19)), y=0.99)
    fig = _frame(fig, title, caption(mission, filters), width, height)
    fig.update_layout(legend=dict(y=0.06, font=dict(size=16)))
    return fig


def chart_figure(mission: MissionDataset, filters: Filters, which: str, width: int, height: int) -> go.Figure:
    data = filters.to_dict()
    if which == "problems":
        fig, title = problems(mission, data)
    else:
        fig, title = timeline(mission, data), f"{PHASE_LABELS[filters.form_type]}: forms per hour and share bad or very bad"
    fig.update_layout(height=None)
    fig = _frame(fig, title, caption(mission, filters), width, height)
    if which == "timeline":  # the chart's legend sits above the plot, where the caption goes in a picture
        fig.update_layout(legend=dict(orientation="h", x=0, y=-0.12, yanchor="top"), margin=dict(b=90))
    return fig


def figure_for(mission: MissionDataset, filters: Filters, which: str, size: tuple[int, int] = IMAGE_SIZE) -> go.Figure:
    if which == "map":
        return map_figure(mission, filters, *size)
    return chart_figure(mission, filters, which, *size)


def render(fig: go.Figure, fmt: str) -> bytes:
    """PNG or SVG bytes, offline (local plotly.js, no MathJax), with the system chromium."""
    chromium()  # kaleido would otherwise offer to download a browser, which an offline mission cannot
    width, height = fig.layout.width, fig.layout.height
    opts = {"format": fmt, "width": width, "height": height}
    with _kaleido_lock:  # one chromium tab at a time; the server is a few requests a minute, not a farm
        return kaleido.calc_fig_sync(fig, opts=opts, kopts=KALEIDO_OPTIONS)


# --------------------------------------------------------------------------------------------- brief
def brief_html(mission: MissionDataset, filters: Filters) -> str:
    """A one-page A4 landscape brief: sentences with N, the map, the problem chart, the table by region, caveats."""
    # Pixel sizes chosen so that the figures' 16-18 px type prints at about 7-8 pt.
    map_png = render(map_figure(mission, filters, 1100, 700), "png")
    bars = int((problem_rates(filter_forms(mission.forms, filters, by_problem=False))["answered"] > 0).sum())
    chart_png = render(chart_figure(mission, filters, "problems", 900, 200 + 52 * max(bars, 3)), "png")
    forms = filter_forms(mission.forms, filters, by_phase=False)
    sentences = "".join(
        f"<li><b>{PHASE_LABELS[ft]}</b>: {escape(statement_for(ft, t, filters))} "
        f"<span class='n'>(N = {t['assessed']:,} assessed of {t['n']:,} forms"
        + (f"; {interval_text(t['negative'], t['assessed'])}" if t["assessed"] else "")
        + (" · too few observations" if 0 < t["assessed"] < filters.min_n else "")
        + ")</span></li>"
        for ft, t in tally_by_phase(forms).items()
    )
    regions = region_table(mission, filters.to_dict())
    listed = [r for r in regions if r["assessed"] >= filters.min_n]
    if len(listed) > BRIEF_MAX_REGIONS:  # keep the page: the regions with the most assessed forms
        listed = sorted(sorted(listed, key=lambda r: -r["assessed"])[:BRIEF_MAX_REGIONS], key=lambda r: r["region"])
    rest = [r for r in regions if r not in listed]
    table_rows = [_table_row(r) for r in listed]
    half = (len(table_rows) + 1) // 2
    head = (
        f"<thead><tr><th>Region ({PHASE_LABELS[filters.form_type].lower()})</th><th>Forms</th><th>Assessed (N)</th>"
        "<th>Bad or very bad</th><th>Share</th><th>95 % CI</th><th>Note</th></tr></thead>"
    )
    tables = "".join(f"<table>{head}<tbody>{''.join(part)}</tbody></table>" for part in (table_rows[:half], table_rows[half:]) if part)
    meta = mission.meta
    synthetic = f"<p class='synthetic'>{escape(meta.get('notice', 'The forms are synthetic.'))}</p>" if meta.get("synthetic") else ""
    as_of = escape((meta.get("data_as_of") or "not given").replace("T", " "))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>obsmap brief · {escape(meta.get("name", "mission"))}</title>
<style>
@page {{ size: A4 landscape; margin: 9mm 10mm; }}
body {{ font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1f2933; font-size: 9.6pt; margin: 0; }}
h1 {{ font-size: 14pt; margin: 0 0 0.5mm; }}
.sub {{ color: #52606d; font-size: 9pt; margin-bottom: 2mm; }}
.grid {{ display: grid; grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr); gap: 4mm; }}
.tables {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 5mm; margin-top: 2mm; }}
img {{ width: 100%; border: 0.3mm solid #e4e7eb; display: block; }}
ul.sentences {{ padding-left: 4mm; margin: 0 0 2mm; }}
ul.sentences li {{ margin-bottom: 1.4mm; }}
.n {{ color: #52606d; font-size: 8.4pt; }}
table {{ border-collapse: collapse; width: 100%; font-size: 7.6pt; }}
th, td {{ border-bottom: 0.2mm solid #cbd2d9; padding: 0.5mm 1.2mm; text-align: right; }}
th:first-child, td:first-child, th:last-child, td:last-child {{ text-align: left; }}
.caveats {{ color: #52606d; font-size: 7.4pt; margin-top: 1.5mm; }}
.rest {{ font-size: 7.4pt; margin: 1mm 0 0; }}
.synthetic {{ color: #7c4a03; font-weight: bold; font-size: 8.4pt; margin: 1mm 0; }}
</style></head><body>
<h1>{escape(meta.get("name", "Election observation mission"))}</h1>
<div class="sub">{escape(meta.get("mission", ""))} · {PHASE_LABELS[filters.form_type]} · {escape(filters.describe(mission.region_names))}
 · data as of {as_of} · made with obsmap</div>
{synthetic}
<div class="grid">
  <div><img src="data:image/png;base64,{base64.b64encode(map_png).decode()}" alt="Map"></div>
  <div>
    <ul class="sentences">{sentences}</ul>
    <img src="data:image/png;base64,{base64.b64encode(chart_png).decode()}" alt="Problems reported">
  </div>
</div>
<div class="tables">{tables}</div>
{_rest_line(rest, filters.min_n)}
<div class="caveats">One form per visit: a station visited twice counts twice. Shares are of forms with an overall assessment;
problem shares of forms that answered; intervals are Wilson 95 %.
Shares behind fewer than {filters.min_n} forms are marked "too few". Observed stations
are not a random sample (teams lean urban and toward regional centres): the shares describe what observers saw, not a national
estimate. {escape("; ".join(meta.get("sources", [])) + ("." if meta.get("sources") else ""))}</div>
</body></html>"""


BRIEF_MAX_REGIONS = 24


def _rest_line(rest: list[dict[str, Any]], min_n: int) -> str:
    """The regions the brief's table leaves out, named, so nothing disappears silently."""
    if not rest:
        return ""
    few = [r for r in rest if r["assessed"] < min_n]
    more = [r for r in rest if r["assessed"] >= min_n]
    parts = []
    if few:
        names = ", ".join(escape(r["region"]) for r in few[:30]) + (f" and {len(few) - 30} more" if len(few) > 30 else "")
        parts.append(f"Fewer than {min_n} assessed forms ({len(few)} regions, not listed): {names}.")
    if more:
        parts.append(f"{len(more)} more regions with enough forms are in the dashboard's table by region.")
    return f"<p class='rest'>{' '.join(parts)}</p>"


def _table_row(r: dict[str, Any]) -> str:
    share = "" if r["share"] is None else f"{r['share']} %"
    ci = "" if r["ci_low"] is None else f"{r['ci_low']}–{r['ci_high']} %"
    cells = [escape(r["region"]), r["forms"], r["assessed"], r["negative"], share, ci, escape(r["note"])]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


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
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        return pdf.read_bytes()


def brief(mission: MissionDataset, filters: Filters, fmt: str) -> bytes:
    html = brief_html(mission, filters)
    return html.encode("utf-8") if fmt == "html" else html_to_pdf(html)


def content_type(fmt: str) -> str:
    return {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html; charset=utf-8"}[fmt]


def export_name(filters: Filters, which: str, fmt: str) -> str:
    where = "-".join(filters.regions) if filters.regions else "all"
    return f"obsmap-{which}-{filters.form_type}-{where}.{fmt}"
