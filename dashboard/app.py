"""The app factory: the page, its callback and the download routes, for one mission."""

from __future__ import annotations

import io
import logging
import re
from html import escape
from pathlib import Path

from dash import Dash
from flask import Response, request, send_file

from dashboard.callbacks import register_callbacks
from dashboard.errors import ExportUnavailable
from dashboard.filters import DEFAULT_MIN_N, Filters, parse_query
from dashboard.layout import page
from dashboard.live import POLL_SECONDS, LiveMission
from dashboard.paths import resolve_data_dir
from dashboard.selection import select
from dashboard.tables import export_frame
from dashboard.views import initial_map
from geo.mission import MissionDataset

ASSETS = Path(__file__).resolve().parent / "assets"
MIMETYPES = {"csv": "text/csv", "png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}

log = logging.getLogger(__name__)


def create_app(data: str | Path | MissionDataset | None = None, min_n: int = DEFAULT_MIN_N, poll_seconds: float = POLL_SECONDS) -> Dash:
    """Build the dashboard for a mission folder (or an already loaded mission).

    ``min_n``: shares behind fewer forms are shown as "too few observations" (a URL can override it).
    ``poll_seconds``: how often an open page asks whether a folder's live store has new data.
    """
    live = LiveMission(data if isinstance(data, MissionDataset) else resolve_data_dir(data), min_n)
    mission = live.current()
    filters = Filters(min_n=min_n)
    app = Dash(
        __name__,
        title=escape(f"obsmap · {mission.meta.get('name', 'mission')}"),  # Dash writes the title into HTML as is
        assets_folder=str(ASSETS),
        update_title=None,
        serve_locally=True,
    )

    def layout():
        """Built for each page load, from the data as it is then (live: new organisations and teams appear)."""
        now = live.current()
        poll = poll_seconds if live.is_live else None
        return page(now, initial_map(now, filters), filters, data_version=live.store_version(), poll_seconds=poll)

    app.layout = layout
    register_callbacks(app, live)
    register_downloads(app, live)
    log.info("obsmap: %s forms from %s", len(mission.forms), mission.path)
    return app


def download_name(filters: Filters, what: str, fmt: str) -> str:
    """``obsmap-<what>-<regions or all>.<fmt>``; a path separator or a control character becomes ``_``.

    Anything else stays, quotes and non-ASCII letters included: the reply names the file in
    ``filename*`` (RFC 6266), and the browser adapts the name to its file system.

    >>> download_name(Filters("voting", regions=("KZ-ÄÖ\\"1", "A/B")), "map-voting", "png")
    'obsmap-map-voting-KZ-ÄÖ"1-A_B.png'
    """
    where = "-".join(filters.regions) if filters.regions else "all"
    return re.sub(r"[\x00-\x1f\x7f/\\]", "_", f"obsmap-{what}-{where}.{fmt}")


def _download(body: bytes, name: str, fmt: str, *, attachment: bool, headers: dict[str, str] | None = None) -> Response:
    """A reply with the file name in Content-Disposition (``filename*`` per RFC 6266 when it is not ASCII)."""
    reply = send_file(io.BytesIO(body), mimetype=MIMETYPES[fmt], as_attachment=attachment, download_name=name, max_age=0)
    reply.headers.update(headers or {})
    return reply


def register_downloads(app: Dash, live: LiveMission) -> None:
    """``/export.csv`` (the page's forms) and ``/export/<figure>.<png|svg>``, ``/export/brief.<pdf|html>``, with the page's parameters."""
    from dashboard import exports

    @app.server.route("/export.csv")
    def export_csv() -> Response:
        """Exactly the forms the page shows, canonical columns; without ``form=``, every phase."""
        mission = live.current()
        filters, notices = parse_query(request.query_string.decode("utf-8", "replace"), live.known())
        every_phase = "form" not in request.args  # the page's link always sets it
        body = export_frame(select(mission, filters), every_phase=every_phase).to_csv(index=False, lineterminator="\n")
        what = "all-phases" if every_phase else filters.form_type
        headers = {}
        if notices:
            # Header values must be one printable ASCII line: anything else from the URL becomes "?".
            headers["X-Obsmap-Notices"] = "".join(ch if " " <= ch <= "~" else "?" for ch in " ".join(notices))[:1000]
        return _download(body.encode("utf-8"), download_name(filters, what, "csv"), "csv", attachment=True, headers=headers)

    @app.server.route("/export/<name>.<fmt>")
    def export_image(name: str, fmt: str) -> Response:
        """A captioned figure (PNG/SVG) or the one-page brief (PDF/HTML) of the page's view."""
        figure = name in exports.FIGURES and fmt in ("png", "svg")
        if not (figure or (name == "brief" and fmt in ("pdf", "html"))):
            return Response(f"No export {name}.{fmt}: expected map, problems or timeline as png or svg, or brief as pdf or html.\n", 404)
        mission = live.current()
        filters, _ = parse_query(request.query_string.decode("utf-8", "replace"), live.known())
        try:
            body = exports.render(exports.figure_for(mission, filters, name), fmt) if figure else exports.brief(mission, filters, fmt)
        except ExportUnavailable as exc:
            return Response(f"{exc}\n", 503, mimetype="text/plain")
        return _download(body, download_name(filters, f"{name}-{filters.form_type}", fmt), fmt, attachment=fmt == "pdf")
