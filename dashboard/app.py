"""The app factory: the page, its callback and the download routes, for one mission."""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
from dataclasses import replace
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from dash import Dash, html
from flask import Response, abort, has_request_context, request
from flask_wtf.csrf import generate_csrf

from dashboard import auth, compression, table_pages, tables
from dashboard import cache as shared_cache
from dashboard.access import OPEN, Access, NotSignedIn, current_access
from dashboard.accounts import Accounts
from dashboard.callbacks import register_callbacks
from dashboard.errors import ExportUnavailable
from dashboard.figures import map_labels
from dashboard.filters import DEFAULT_MIN_N, Filters, parse_query
from dashboard.layout import page
from dashboard.live import POLL_SECONDS, LiveMission
from dashboard.memo import IdentityLru
from dashboard.paths import resolve_data_dir
from dashboard.selection import select
from dashboard.views import initial_map
from geo.i18n import _, browser_language, current, languages, use
from geo.mission import MissionDataset

ASSETS = Path(__file__).resolve().parent / "assets"
MIMETYPES = {"csv": "text/csv", "png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "html": "text/html"}

log = logging.getLogger(__name__)


def create_app(
    data: str | Path | MissionDataset | None = None,
    min_n: int = DEFAULT_MIN_N,
    poll_seconds: float = POLL_SECONDS,
    accounts: Accounts | None = None,
    cache: str | None = None,
) -> Dash:
    """Build the dashboard for a mission folder (or an already loaded mission).

    ``min_n``: shares behind fewer forms are shown as "too few observations" (a URL can override it,
    except for aggregates-only accounts). ``poll_seconds``: how often an open page asks whether a folder's
    live store has new data. ``accounts``: who may sign in; ``None`` opens the page to anyone who reaches it
    (the commands allow that only for the demo on this machine: see :func:`dashboard.auth.accounts_to_serve`).
    ``cache``: where the view's parts are shared (``simple``, ``none`` or ``redis://host:port/db``; default
    ``$OBSMAP_CACHE``, else in this process: see :mod:`dashboard.cache`).
    """
    live = LiveMission(data if isinstance(data, MissionDataset) else resolve_data_dir(data), min_n)
    mission = live.current()
    filters = Filters(min_n=min_n)
    app = Dash(
        __name__,
        title=page_title(mission),  # Dash writes the title into HTML as is
        assets_folder=str(ASSETS),
        update_title=None,
        serve_locally=True,
    )

    def layout():
        """Built for each page load, for who is asking, from the data as it is then (live: new organisations and teams appear)."""
        if has_request_context():
            try:
                access = current_access()
            except NotSignedIn:  # Dash checking the layout during someone's first, anonymous request: nothing is read
                return html.Div(id="page")
        elif accounts is None:
            access = OPEN  # outside a request (a test, a script): what any request to an open app gets
        else:
            return html.Div(id="page")  # no one is asking: nothing is read
        now = access.scope(live.current())
        poll = poll_seconds if live.is_live else None
        query = page_query()
        with use(query_language(query)) as lang:
            view = replace(filters, lang=lang)
            return page(
                now,
                initial_map(now, view, access.aggregates_only, geometry_urls(now)),
                view,
                data_version=live.store_version(),
                poll_seconds=poll,
                access=access,
                csrf_token=generate_csrf() if has_request_context() else None,
                query=query,
            )

    app.layout = layout
    index = app.interpolate_index

    def interpolate_index(**parts: str) -> str:
        """The page's HTML in its language: ``<html lang="ru">`` (screen readers, hyphenation, fonts) and the title."""
        with use(query_language(page_query())) as lang:
            parts["title"] = page_title(live.current())
            html = index(**parts)
        return html.replace("<html>", f'<html lang="{lang}">', 1)

    app.interpolate_index = interpolate_index
    shared_cache.install(app.server, cache)
    compression.install(app.server)
    register_callbacks(app, live)
    register_geometry(app, live)
    register_downloads(app, live, accounts)
    auth.install(app, accounts)  # last: its CSP hashes the inline scripts the callbacks added
    log.info("obsmap: %s forms from %s", len(mission.forms), mission.path)
    return app


def page_title(mission: MissionDataset) -> str:
    """The browser tab's title, in the language of the moment (escaped: Dash writes it into the HTML as is)."""
    return escape(_("obsmap · {mission}").format(mission=mission.text("name") or _("mission")))


def page_query() -> str:
    """The query string of the page being answered. The page's layout is asked for at ``/_dash-layout``, which has
    none: there, the Referer's (the page's own address: auth.py's ``Referrer-Policy: same-origin`` sends it to this
    server only)."""
    if not has_request_context():
        return ""
    if request.path.endswith("/_dash-layout"):
        referer = urlsplit(request.headers.get("Referer") or "")
        # The browser says the request comes from this site's own page (Sec-Fetch-Site), which holds behind a proxy
        # that rewrites Host too; older browsers: the Referer's host must be this one.
        fetch_site = request.headers.get("Sec-Fetch-Site")
        same = fetch_site == "same-origin" if fetch_site else (not referer.netloc or referer.netloc == request.host)
        return referer.query if same else ""
    return request.query_string.decode("utf-8", "replace")


def query_language(query: str) -> str:
    """The language a page's query asks for (``lang=ru``), else the browser's (``Accept-Language``), else English."""
    asked = (parse_qs(query).get("lang") or [None])[0]
    return asked if asked in languages() else browser_language()


GEOMETRY_LAYERS = ("regions", "districts")
LABELS = "labels"  # the names on the map, per language: /geometry/<digest>/labels-<lang>.json


def _geometry(mission: MissionDataset, layer: str) -> dict | None:
    return mission.geojson if layer == "regions" else mission.districts


_geometry_files = IdentityLru(8)  # a geometry -> (its digest, its JSON)
# A mission's regions -> (digest, JSON) of the names on its map, in the current language. Keyed by the regions' frame,
# which a role's scoped copy of the mission shares: not by the mission, whose forms the entry would keep alive.
_label_files = IdentityLru(8, by_language=True)


def _as_file(shapes: dict) -> tuple[str, bytes]:
    body = json.dumps(shapes, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.blake2b(body, digest_size=12).hexdigest(), body


def _geometry_file(mission: MissionDataset, layer: str) -> tuple[str, bytes]:
    """A layer's web geometry as JSON bytes, and a digest of them that names it in its URL; made once per geometry
    (a role's scoped copy of the mission shares its geometry). ``labels``: the map's names in the current language,
    made once per boundaries and language (the names come from the boundaries and mission.json, the places from the
    geometry; a role's scoped copy has the same)."""
    if layer == LABELS:
        return _label_files.get(
            mission.regions, LABELS, lambda: _as_file(map_labels(mission.geojson, mission.region_names, mission.map_notes, escaped=False))
        )
    shapes = _geometry(mission, layer)
    return _geometry_files.get(shapes, "json", lambda: _as_file(shapes))


def geometry_urls(mission: MissionDataset) -> dict[str, str]:
    """Where the page's map reads each geometry layer from, and its names (in the current language): URLs named by
    their content's digest, so the browser keeps them (immutable) and fetches them again only when an import changed
    the boundaries or the names."""
    urls = {layer: f"/geometry/{_geometry_file(mission, layer)[0]}/{layer}.json" for layer in GEOMETRY_LAYERS if _geometry(mission, layer)}
    urls[LABELS] = f"/geometry/{_geometry_file(mission, LABELS)[0]}/{LABELS}-{current()}.json"
    return urls


def register_geometry(app: Dash, live: LiveMission) -> None:
    """``/geometry/<digest>/<regions|districts|labels-<lang>>.json``: the map's shapes and names, sent once and cached
    by the browser, not inlined in the page (a filter change sends values only; a reload of the page sends no shape
    again)."""

    @app.server.route("/geometry/<digest>/<layer>.json")
    def geometry(digest: str, layer: str) -> Response:
        try:
            current_access()  # signed in (the gate said so already: every route checks who is asking)
        except NotSignedIn:
            abort(401)
        kind, _sep, lang = layer.partition("-")
        if kind == LABELS and lang in languages():
            with use(lang):  # every region's name and the map's notes: what every role's map shows
                found, body = _geometry_file(live.current(), LABELS)
        elif layer in GEOMETRY_LAYERS and _geometry(live.current(), layer) is not None:
            found, body = _geometry_file(live.current(), layer)
        else:
            abort(404)
        if digest != found:
            abort(404)  # another import's boundaries or names: the page asking is older than the data (the names keep what
            # they had; a page whose regions changed loads again at its next check, callbacks.MAP_REGIONS)
        reply = Response(body, mimetype="application/json")
        reply.headers["Cache-Control"] = "private, max-age=31536000, immutable"
        reply.set_etag(found)
        return reply.make_conditional(request)


def _name_the_file(reply: Response, name: str, *, attachment: bool) -> None:
    """Content-Disposition as :func:`flask.send_file` writes it: ``filename*`` (RFC 6266) when the name is not ASCII."""
    try:
        name.encode("ascii")
        names = {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")}
    reply.headers.set("Content-Disposition", "attachment" if attachment else "inline", **names)


def _download(body: bytes, name: str, fmt: str, *, attachment: bool) -> Response:
    """A reply with the file name in Content-Disposition (``filename*`` per RFC 6266 when it is not ASCII)."""
    reply = Response(body, mimetype=MIMETYPES[fmt])
    _name_the_file(reply, name, attachment=attachment)
    return reply


def register_downloads(app: Dash, live: LiveMission, accounts: Accounts | None = None) -> None:
    """``/export.csv`` (the page's forms) and ``/export/<figure>.<png|svg>``, ``/export/brief.<pdf|html>``, with the page's parameters.

    Each starts from who is asking: the mission they may read, the view they may have; a viewer gets no
    forms CSV. Every download is in the audit trail (who, what, which view).
    """
    from dashboard import exports

    def reader(query: str | None = None) -> tuple[Access, MissionDataset, Filters, list[str]]:
        try:
            access = current_access()
        except NotSignedIn:
            abort(401)
        mission = access.scope(live.current())
        asked = request.query_string.decode("utf-8", "replace") if query is None else query
        filters, notices = parse_query(asked, live.known(mission))
        filters, withheld = access.restrict(filters, live.min_n)
        return access, mission, filters, [*notices, *withheld]

    def audit(event: str, what: str) -> None:
        auth.audit(event, {"what": what, "view": request.query_string.decode("utf-8", "replace")[:2000]})

    @app.server.route("/export.csv")
    def export_csv() -> Response:
        """Exactly the forms the page shows, canonical columns; without ``form=``, every phase."""
        # The forms table's search, column filters, sort and "only new" (table_pages.to_params): the CSV of the table.
        view_query, table = table_pages.split_query(request.query_string.decode("utf-8", "replace"))
        access, mission, filters, notices = reader(view_query)
        if not access.sees_forms:
            audit("denied", "export.csv")
            with use(filters.lang):
                said = _("This account sees aggregates only: the CSV of forms is for analysts and coordinators.")
            return Response(said + "\n", 403, mimetype="text/plain")
        every_phase = "form" not in request.args  # the page's link always sets it
        what = "all-phases" if every_phase else filters.form_type
        audit("export", "export.csv")
        # Streamed, a slice of forms at a time: a million forms never sit in memory as one CSV text.
        chosen = select(mission, filters)
        with use(filters.lang):  # the table's column filters matched the words of the view's language; the file's name
            listed = table_pages.positions(mission, chosen, table, every_phase) if table else None
            reply = Response(tables.export_csv(chosen, every_phase=every_phase, positions=listed), mimetype=MIMETYPES["csv"])
            _name_the_file(reply, exports.download_name(filters, what, "csv"), attachment=True)
        if notices and filters.lang != "en":  # the header is for programs: its notices in English, whatever the view's language
            with use("en"):
                _view, notices = parse_query(view_query, live.known(mission), notices_in="en")
                notices = [*notices, *access.restrict(_view, live.min_n)[1]]
        if notices:
            # Header values must be one printable ASCII line: anything else from the URL becomes "?".
            reply.headers["X-Obsmap-Notices"] = "".join(ch if " " <= ch <= "~" else "?" for ch in " ".join(notices))[:1000]
        return reply

    @app.server.route("/export/<name>.<fmt>")
    def export_image(name: str, fmt: str) -> Response:
        """A captioned figure (PNG/SVG) or the one-page brief (PDF/HTML) of the page's view, in the view's language."""
        access, mission, filters, _notices = reader()
        with use(filters.lang):
            return _export_image(access, mission, filters, name, fmt)

    def _export_image(access: Access, mission: MissionDataset, filters: Filters, name: str, fmt: str) -> Response:
        figure = name in exports.FIGURES and fmt in ("png", "svg")
        if not (figure or (name == "brief" and fmt in ("pdf", "html"))):
            said = _("No export {name}.{fmt}: expected map, problems or timeline as png or svg, or brief as pdf or html.")
            return Response(said.format(name=name, fmt=fmt) + "\n", 404)
        try:
            private = access.aggregates_only
            if figure:
                body = exports.render(exports.figure_for(mission, filters, name, private=private), fmt)
            else:
                body = exports.brief(mission, filters, fmt, private)
        except ExportUnavailable as exc:  # busy (a full line: exports.MAX_JOBS), or chromium failed or missing
            retry = {"Retry-After": str(exc.retry_after)} if isinstance(exc, exports.ExportBusy) else {}
            return Response(f"{exc}\n", 503, mimetype="text/plain", headers=retry)
        audit("brief" if name == "brief" else "export", f"{name}.{fmt}")
        return _download(body, exports.download_name(filters, f"{name}-{filters.form_type}", fmt), fmt, attachment=fmt == "pdf")
