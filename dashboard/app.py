"""The app factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dash import Dash
from flask import Response, request

from dashboard.analysis import DEFAULT_MIN_N, Filters
from dashboard.callbacks import register_callbacks
from dashboard.errors import ExportUnavailable
from dashboard.layout import page
from dashboard.urlstate import Known, parse_query
from dashboard.views import export_frame, initial_map, known_values
from geo.mission import MissionDataset, load_mission

ROOT = Path(__file__).resolve().parents[1]
DEMO_DATA = ROOT / "data" / "demo"
ASSETS = Path(__file__).resolve().parent / "assets"

log = logging.getLogger(__name__)


def resolve_data_dir(data: str | Path | None = None) -> Path:
    """``data``, else $OBSMAP_DATA, else the demo mission."""
    return Path(data or os.environ.get("OBSMAP_DATA") or DEMO_DATA)


def create_app(data: str | Path | MissionDataset | None = None, min_n: int = DEFAULT_MIN_N) -> Dash:
    """Build the dashboard for a mission folder (or an already loaded mission).

    ``min_n``: shares behind fewer forms are shown as "too few observations" (a URL can override it).
    """
    mission = data if isinstance(data, MissionDataset) else load_mission(resolve_data_dir(data))
    filters = Filters(min_n=min_n)
    app = Dash(
        __name__,
        title=f"obsmap · {mission.meta.get('name', 'mission')}",
        assets_folder=str(ASSETS),
        update_title=None,
        serve_locally=True,
    )
    app.layout = page(mission, initial_map(mission, filters), filters)
    known = known_values(mission, min_n)  # what URLs are checked against, for the page and the exports alike
    register_callbacks(app, mission, known)
    register_export(app, mission, known)
    register_images(app, mission, known)
    log.info("obsmap: %s forms from %s", len(mission.forms), mission.path)
    return app


def register_export(app: Dash, mission: MissionDataset, known: Known) -> None:
    """``/export.csv?<the page's parameters>``: exactly the forms the page shows, canonical columns."""

    @app.server.route("/export.csv")
    def export_csv() -> Response:
        query = request.query_string.decode("utf-8")
        filters, notices = parse_query(query, known)
        every_phase = "form" not in request.args  # no form= exports all phases; the page's link always sets it
        body = export_frame(mission, filters, every_phase=every_phase).to_csv(index=False, lineterminator="\n")
        phase = "all-phases" if every_phase else filters.form_type
        name = f"obsmap-{phase}" + (f"-{'-'.join(filters.regions)}" if filters.regions else "") + ".csv"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        if notices:
            # Header values must be one printable ASCII line: anything else from the URL becomes "?".
            text = "".join(ch if " " <= ch <= "~" else "?" for ch in " ".join(notices))
            headers["X-Obsmap-Notices"] = text[:1000]
        return Response(body, mimetype="text/csv", headers=headers)


def register_images(app: Dash, mission: MissionDataset, known: Known) -> None:
    """``/export/<map|problems|timeline>.<png|svg>`` and ``/export/brief.<pdf|html>``, with the page's parameters."""
    from dashboard import exports

    @app.server.route("/export/<name>.<fmt>")
    def export_image(name: str, fmt: str) -> Response:
        figure = name in exports.FIGURES and fmt in ("png", "svg")
        if not (figure or (name == "brief" and fmt in ("pdf", "html"))):
            return Response(f"No export {name}.{fmt}: expected map, problems or timeline as png or svg, or brief as pdf or html.\n", 404)
        filters, _ = parse_query(request.query_string.decode("utf-8"), known)
        try:
            body = exports.render(exports.figure_for(mission, filters, name), fmt) if figure else exports.brief(mission, filters, fmt)
        except ExportUnavailable as exc:
            return Response(f"{exc}\n", 503, mimetype="text/plain")
        disposition = "inline" if fmt in ("png", "svg", "html") else "attachment"
        headers = {"Content-Disposition": f'{disposition}; filename="{exports.export_name(filters, name, fmt)}"'}
        return Response(body, mimetype=exports.content_type(fmt).split(";")[0], headers=headers)
