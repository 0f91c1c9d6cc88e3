"""Thin glue: one callback per user action, parsing the view once and asking dashboard.views for each part.

A change of the view (the URL, a control, a click on a region or a bar, Back, Reset, the mode) is
one request: ``update_view`` parses the filters once, selects the forms once
(:func:`dashboard.selection.select`) and returns every part of the page that depends on them. The
switches that change one part only (the fraction phrasing, the map's measured size, the table shown
or hidden) have small callbacks of their own that read the view from the store: were they inputs of
``update_view``, one of them firing during a view change would make dash-renderer drop that
change's reply.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, html

from dashboard import auth, cache, form_detail, table_pages, tables, text, views
from dashboard.access import Access, NotSignedIn, current_access
from dashboard.figures import FIT_JS, LABEL_STYLE_JS
from dashboard.filters import CONTROLS, Filters, controls_from_filters, from_dict, more_filters_active, reset, to_query
from dashboard.layout import LAZY, lazy_store
from dashboard.live import LiveMission
from dashboard.selection import FORM_FIELDS, select
from dashboard.state import CLEARABLE, clear_words, filter_to_clear, next_view, tautology, without
from geo.i18n import _, browser_language, languages, use
from geo.i18n import current as current_language
from geo.schema import PHASE_LABELS

IMAGE_LINKS = tuple(f"{figure}-{fmt}" for figure in ("map", "problems", "timeline") for fmt in ("png", "svg"))

# One function for every lazy part: draw now if the part is on screen (or nearly), else keep the newest content and
# draw it when an IntersectionObserver sees the part come into view, or before the page is printed.
LAZY_JS = """
function(content) {
    var part = "PART", prop = "PROP", no = window.dash_clientside.no_update;
    if (content === null || content === undefined) { return no; }
    var lazy = window.obsmapLazy;
    if (!lazy) {
        lazy = window.obsmapLazy = {waiting: {}};
        lazy.draw = function(id) {
            var job = lazy.waiting[id];
            if (!job) { return; }
            delete lazy.waiting[id];
            var props = {};
            props[job.prop] = job.content;
            window.dash_clientside.set_props(id, props);
        };
        if ("IntersectionObserver" in window) {
            lazy.observer = new IntersectionObserver(function(entries) {
                entries.forEach(function(e) { if (e.isIntersecting) { lazy.draw(e.target.dataset.obsmapLazy); } });
            }, {rootMargin: "200px"});
        }
        window.addEventListener("beforeprint", function() { Object.keys(lazy.waiting).forEach(lazy.draw); });
    }
    var el = document.getElementById(part);
    var r = el ? el.getBoundingClientRect() : null;
    var onScreen = r && r.width > 0 && r.bottom > -200 && r.top < window.innerHeight + 200;
    if (!el || !lazy.observer || onScreen) { delete lazy.waiting[part]; return content; }
    // Watched through its parent: a graph's own element is replaced once plotly's code has loaded.
    var box = el.parentElement;
    if (box && !box.dataset.obsmapLazy) { box.dataset.obsmapLazy = part; lazy.observer.observe(box); }
    lazy.waiting[part] = {prop: prop, content: content};
    return no;
}
"""


def register_callbacks(app: Dash, live: LiveMission) -> None:
    outputs = {
        "url": Output("url", "search"),
        "store": Output("filters", "data"),
        "notices": Output("notices", "children"),
        "more": Output("more", "is_open", allow_duplicate=True),
        "page": Output("page", "className"),
        "mode": Output("mode-toggle", "children"),
        "controls": {c: Output(c, "value") for c in CONTROLS},
        "map": Output("region-map", "figure", allow_duplicate=True),
        "fit": Output("map-fit", "data"),
        "map_title": Output("map-title", "children"),
        "map_caption": Output("map-caption", "children"),
        "back": Output("back", "style"),
        "back_label": Output("back", "children"),
        "map_notices": Output("map-notices", "children"),
        "headlines": Output("headlines", "children", allow_duplicate=True),
        "n_shown": Output("n-shown", "children"),
        "regions": Output(lazy_store("region-table"), "data"),
        "regions_title": Output("region-table-title", "children"),
        "problems": Output(lazy_store("problem-chart"), "data"),
        "problems_title": Output("problem-title", "children"),
        "timeline": Output(lazy_store("timeline"), "data"),
        "csv": Output("export-link", "href"),
        "brief": Output("brief-link", "href"),
        "images": {link: Output(link, "href") for link in IMAGE_LINKS},
        "rows": Output("table-view", "data"),
        "live": Output("live-status", "children"),
        "org_options": Output("orgs", "options"),
        "reload": Output("reload", "data"),
    }
    inputs = {
        "search": Input("url", "search"),
        "controls": {c: Input(c, "value") for c in CONTROLS},
        "map_click": Input("region-map", "clickData"),
        "bar_click": Input("problem-chart", "clickData"),
        "clicks": [Input(b, "n_clicks") for b in ("back", "reset", "mode-toggle")],
        "data_version": Input("data-version", "data"),
        "opened": State("opened-version", "data"),
        "as_fraction": State("as-fraction", "value"),
        "current": State("filters", "data"),
        "table_open": State("table-open", "data"),
    }

    @app.callback(output=outputs, inputs=inputs, prevent_initial_call="initial_duplicate")
    def update_view(search, controls, map_click, bar_click, clicks, data_version, opened, as_fraction, current, table_open):
        """Any user action, or new data -> the view (URL, store, controls agree) and every part of the page that shows it."""
        trigger = ctx.triggered_id
        if trigger == "data-version" and data_version == opened:
            trigger = None  # the store announcing its first value as the page mounts: the first load, led by the URL
        access, mission = _reader(live)
        known = live.known(mission)
        private = access.aggregates_only
        out: dict[str, Any] = {key: _unchanged(dep) for key, dep in outputs.items()}
        filters, notices = next_view(
            trigger, search=search, controls=controls, current=current, map_click=map_click, bar_click=bar_click, known=known
        )
        with use(filters.lang):
            filters, withheld = access.restrict(filters, live.min_n)
            notices = [*notices, *withheld]
            regions = views.regions_key(mission)
            if isinstance(current, dict) and current.get(MAP_REGIONS) not in (None, regions):
                # A new import changed the mission's regions since this page was opened: its map's shapes and the order
                # its values go in are another mission's. Nothing is patched onto them: the page loads again.
                return {key: _unchanged(dep) for key, dep in outputs.items()} | {"reload": regions}
            if (
                trigger == "region-map"
                and isinstance(current, dict)
                and filters.to_dict() == {k: v for k, v in current.items() if k not in (SHOWN, MAP_REGIONS)}
            ):
                raise dash.exceptions.PreventUpdate  # a click on a station (it opens its forms) or on the region drilled into
            chosen = select(mission, filters)
            # The URL follows the view (a new history entry); when the URL led, it stays as the browser has it.
            if trigger not in (None, "url", "data-version"):
                out["url"] = to_query(filters, default_min_n=known.min_n)
            out["live"] = text.live_status(mission, opened)
            if trigger == "data-version":  # organisations and teams that arrived since the page was built become choosable
                out["org_options"] = sorted(mission.forms["observer_org"].dropna().unique())  # teams: found as one types
            # The data the page's figures were made from, and the regions its map draws.
            out["store"] = {**filters.to_dict(), SHOWN: mission.version, MAP_REGIONS: regions}
            out["notices"] = _notice(notices)
            if not len(chosen.phase):  # no form: said of the filters, with the filter to clear in one click
                out["notices"] = [out["notices"], _empty_notice(filters, current, mission.region_names, bool(len(chosen.all_phases)))]
            if more_filters_active(filters) and trigger != "data-version":
                out["more"] = True
            if trigger in (None, "url", "mode-toggle", "reset"):
                briefing = filters.mode == "briefing"
                out["page"] = "obs-page obs-briefing" if briefing else "obs-page"
                out["mode"] = _("Exit briefing view") if briefing else _("Briefing view")
            if trigger != "data-version":  # new data leaves the controls alone (a slider may be in the user's hand)
                # Only the controls that show something else than the view: the others are not sent, nor redrawn.
                wanted = controls_from_filters(filters)
                out["controls"] = {c: dash.no_update if controls.get(c) == v else v for c, v in wanted.items()}

            # Each part is made once per (forms, view, privacy) and remembered with the view's forms (Selection.remember),
            # and shared with the other workers through the app's cache (dashboard.cache: Redis with --cache).
            def part(name: str, make: Any) -> Any:
                key = (name, filters, private)
                return chosen.remember(key, lambda: cache.remember(mission.version, key, make))

            # The drill-down's layers go when the map is or was drilled into; a country map keeps its empty layers as they are.
            layers = bool(filters.drill) or not isinstance(current, dict) or bool(current.get("drill")) or trigger in (None, "url")
            patch, out["map_title"], out["map_caption"], map_notices = part(
                f"map-{layers}", lambda: views.map_patch(mission, chosen, filters, private, layers)
            )
            out["map"] = patch
            out["fit"] = views.map_fit(mission, filters)
            out["back"] = None if filters.drill else {"display": "none"}
            if filters.drill:  # Back returns to the selection before the drill-down
                before = ", ".join(mission.region_names.get(r, r) for r in filters.back_to)
                before = before if len(filters.back_to) < 4 else text.plural(len(filters.back_to), "{n} region", "{n} regions")
                out["back_label"] = _("← Back to {regions}").format(regions=before) if before else _("← Back to the country")
            said = tautology(filters) if len(chosen.phase) else None  # an empty view says so instead (notices)
            out["map_notices"] = _notice([*map_notices, *filter(None, [said])])
            # The findings, the N, the region table, the problem chart and the timeline depend on the forms, the problem, the
            # threshold and the privacy only: when a click changed none of these (the metric, the mode, a drill into a region
            # already alone in the selection), the browser keeps what it shows and redraws nothing.
            if not _same_findings(trigger, current, filters, mission.version):
                fraction = bool(as_fraction)
                out["headlines"] = part(f"headlines-{fraction}", lambda: views.headlines(mission, chosen, filters, fraction, private))
                out["n_shown"] = part("n_shown", lambda: views.n_shown(mission, chosen, filters, private))
                out["regions"] = part("regions", lambda: tables.region_table(mission, chosen, filters, private))
                out["regions_title"] = text.region_table_title(filters)
                out["problems"], out["problems_title"] = part("problems", lambda: views.problems(chosen, filters, private))
                out["timeline"] = part("timeline", lambda: views.timeline(chosen, filters, private))
            query = to_query(filters, always_form=True, default_min_n=known.min_n)
            # While the table is open, its CSV link is the table's (search, column filters, sort: set by show_rows with each
            # new list); a view change that keeps the list (the metric, the mode) must not put back every form of the view.
            if not (table_open and access.sees_forms):
                out["csv"] = f"/export.csv{query}" if access.sees_forms else None
            out["brief"] = f"/export/brief.pdf{query}"
            out["images"] = {link: "/export/{}.{}{}".format(*link.split("-"), query) for link in IMAGE_LINKS}
            # The table's rows are asked for by the grid itself, a block at a time (show_rows); this names the forms it
            # lists, so that an open table starts again from its first row when they change, and only then.
            out["rows"] = table_pages.view_key(mission, filters) if access.sees_forms else None
            return out

    @app.callback(
        Output("headlines", "children", allow_duplicate=True),
        Input("as-fraction", "value"),
        State("filters", "data"),
        prevent_initial_call=True,
    )
    def rephrase(as_fraction, current):
        """The "one out of four" switch -> the findings, phrased as fractions or per cent."""
        access, mission = _reader(live)
        with use(_lang(current)):
            filters, _withheld = access.restrict(from_dict(current, live.known(mission)), live.min_n)
            return views.headlines(mission, select(mission, filters), filters, bool(as_fraction), access.aggregates_only)

    @app.callback(
        Output("forms-table", "getRowsResponse", allow_duplicate=True),
        Output("export-link", "href", allow_duplicate=True),
        Output("table-status", "children", allow_duplicate=True),
        Input("table-ask", "data"),
        State("filters", "data"),
        State("table-search", "value"),
        State("new-only", "value"),
        State("opened-version", "data"),
        prevent_initial_call=True,
    )
    def show_rows(ask, current, search, new_only, opened):
        """The open grid asks for a block of rows (scrolled, sorted, filtered by column, searched, a new view) -> that
        block from the server, with how many forms the table lists; on a first block, the CSV link of exactly those.

        Audited once per list shown (each first block: a view, a search, a sort or a column filter), not per scroll.
        """
        access, mission = _reader(live)
        if not access.sees_forms:  # a crafted request from an aggregates-only account: no form, not even a count
            return {"rowData": [], "rowCount": 0}, dash.no_update, dash.no_update
        known = live.known(mission)
        filters, _withheld = access.restrict(from_dict(current, known), live.min_n)
        query = table_pages.query_from_grid(ask, search, opened if new_only else None)
        start, end = table_pages.block(ask)
        with use(filters.lang):  # the cells' words (phases, levels, region names), what a column filter matches, the line
            rows, count = table_pages.page(mission, select(mission, filters), query, start, end)
            said = None if start else table_pages.describe(query, count)
        reply = {"rowData": rows, "rowCount": count}
        view = to_query(filters, always_form=True, default_min_n=known.min_n)
        # One audit row per list shown: its first block, or any block of a list this process has not recorded for this
        # user (a request made by hand may start further down; a scroll through a recorded list adds nothing).
        listed = (access.user, view, repr(query))
        if not start or listed not in _audited:
            detail = {"view": view, "rows": count} | ({"search": query.search} if query.search else {})
            auth.audit("forms_viewed", detail | ({"columns": [c[0] for c in query.columns]} if query.columns else {}))
            _audited[listed] = None
            while len(_audited) > AUDITED_KEPT:
                _audited.popitem(last=False)
        if start:
            return reply, dash.no_update, dash.no_update
        return reply, f"/export.csv{view}{table_pages.to_params(query)}", said

    for part, prop in LAZY.items():
        app.clientside_callback(
            LAZY_JS.replace("PART", part).replace("PROP", prop),
            Output(part, prop),
            Input(lazy_store(part), "data"),
            prevent_initial_call=True,
        )

    # The grid's request, passed on to the server only while the table is open (a closed table is told "no rows" here,
    # in the browser), and only its block, sort and filter (the request also holds the grid's API object).
    app.clientside_callback(
        """
        function(request, open) {
            var no = window.dash_clientside.no_update;
            if (!request) { return [no, no]; }
            if (!open) { return [no, {rowData: [], rowCount: 0}]; }
            window.obsmapAsked = (window.obsmapAsked || 0) + 1;  // a new value each time, so the server is always asked
            return [{startRow: request.startRow, endRow: request.endRow, sortModel: request.sortModel || [],
                     filterModel: request.filterModel || {}, asked: window.obsmapAsked}, no];
        }
        """,
        Output("table-ask", "data"),
        Output("forms-table", "getRowsResponse", allow_duplicate=True),
        Input("forms-table", "getRowsRequest"),
        State("table-open", "data"),
        prevent_initial_call=True,
    )
    # A new list (another view, the search, "only new", the table opened): the grid starts again from its first row.
    # A new datasource object resets AG Grid's infinite cache (scroll, row count, blocks) and asks for block 0 at once,
    # with the grid's own sort and column filters: no request besides that block's. A sort or a column filter changed
    # in the grid resets it by itself. The wrapper has no destroy(): dash-ag-grid's would drop the request still waiting
    # for its answer, and AG Grid would then wait for it for ever. New data for the same list (a live mission's sync):
    # the blocks the grid holds are asked for again, where the reader is (refreshInfiniteCache keeps the scroll).
    app.clientside_callback(
        """
        function(view, search, newOnly, open) {
            var no = window.dash_clientside.no_update;
            var grid = document.getElementById("forms-table");
            if (!grid) { return no; }
            if (!open) { delete grid.dataset.obsmapList; delete grid.dataset.obsmapData; return no; }
            var list = JSON.stringify([view && view.list, search || "", !!newOnly]);
            var data = String(view && view.data);
            if (grid.dataset.obsmapList === list) {
                if (grid.dataset.obsmapData === data) { return no; }
                grid.dataset.obsmapData = data;
                window.dash_ag_grid.getApiAsync("forms-table").then(function(api) { api.refreshInfiniteCache(); });
                return no;
            }
            grid.dataset.obsmapList = list;
            grid.dataset.obsmapData = data;
            window.dash_ag_grid.getApiAsync("forms-table").then(function(api) {
                var source = api.getGridOption("datasource");
                if (source) { api.setGridOption("datasource", {getRows: source.getRows}); }
            });
            return obsmapText("finding");
        }
        """,
        Output("table-status", "children", allow_duplicate=True),
        Input("table-view", "data"),
        Input("table-search", "value"),
        Input("new-only", "value"),
        Input("table-open", "data"),
        prevent_initial_call=True,
    )

    # The server found the page's map drawing another mission's regions (a new import): the page loads again.
    app.clientside_callback(
        "function(regions) { if (regions) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("reload", "id"),
        Input("reload", "data"),
        prevent_initial_call=True,
    )

    @app.callback(Output("data-version", "data"), Input("poll", "n_intervals"), State("data-version", "data"), prevent_initial_call=True)
    def check_data(_ticks, seen):
        """Every POLL_SECONDS -> the store's data version, only when it moved (then the view is recomputed)."""
        _reader(live)  # signed in, or nothing
        now = live.store_version()
        return dash.no_update if now == seen else now

    # The map element's own size, measured in the browser whenever it changes (first layout, a mode's CSS,
    # a window resize), and the view's bounds from the server: the map's centre and zoom are fitted here,
    # in the browser, as a patch of the figure. Only a new area (drill-down, mode) or a new size refits, so
    # an analyst's own panning survives filter changes, and no request is made for it.
    app.clientside_callback(
        """
        function(_path) {
            // The box around the graph: the graph's own element can be re-rendered, the box stays. This first call may
            // come before React has put the box on the page (a slow tablet): then it looks again until the box is
            // there. Given up at once, the map kept the server's fit for an 820 px box and never fitted the screen.
            var measure = function(tries) {
                var el = document.getElementById("map-box");
                if (!el) {
                    if (tries < 150) { setTimeout(function() { measure(tries + 1); }, 100); }
                    return;
                }
                if (el.dataset.obsmapMeasured) { return; }
                el.dataset.obsmapMeasured = "1";
                var timer = null, last = null;
                new ResizeObserver(function() {
                    clearTimeout(timer);
                    timer = setTimeout(function() {
                        var box = el.getBoundingClientRect();
                        var size = [Math.round(box.width), Math.round(box.height)];
                        if (size[0] < 50 || size[1] < 50 || (last && last[0] === size[0] && last[1] === size[1])) { return; }
                        last = size;
                        window.dash_clientside.set_props("viewport", {data: size});
                    }, 120);
                }).observe(el);
            };
            measure(0);
            return window.dash_clientside.no_update;
        }
        """,
        Output("viewport", "data"),
        Input("url", "pathname"),
    )
    app.clientside_callback(
        """
        function(fit, size) {
            if (!fit || !size) { return window.dash_clientside.no_update; }
            var key = fit.key + "-" + size[0] + "x" + size[1];
            var el = document.getElementById("map-box");
            if (!el || el.dataset.obsmapFit === key) { return window.dash_clientside.no_update; }
            el.dataset.obsmapFit = key;
            var view = (FIT_JS)(fit.bounds, size[0], size[1], fit.legend_px);
            var assign = function(location, value) {
                return {operation: "Assign", location: location, params: {value: value}};
            };
            return {__dash_patch_update: "__dash_patch_update", operations: [
                assign(["layout", "map", "center"], view.center),
                assign(["layout", "map", "zoom"], view.zoom),
                assign(["layout", "uirevision"], key)
            ]};
        }
        """.replace("FIT_JS", FIT_JS),
        Output("region-map", "figure", allow_duplicate=True),
        Input("map-fit", "data"),
        Input("viewport", "data"),
        prevent_initial_call=True,
    )

    # The names on the map need a white halo (and the small regions' dots an outline) that plotly does not set: given
    # to MapLibre's layers after every redraw of the map, in the browser.
    app.clientside_callback(
        """
        function(_figure) {
            var style = (LABEL_STYLE_JS);
            var attempt = function(n) {  // plotly's code and the map load after the page: wait for them (20 s at most)
                var gd = document.querySelector("#region-map .js-plotly-plot");
                if (!gd || !gd.on || !gd._fullLayout || !gd._fullLayout.map) {
                    if (n < 100) { setTimeout(function() { attempt(n + 1); }, 200); }
                    return;
                }
                if (!gd.obsmapLabels) {
                    gd.obsmapLabels = true;
                    gd.on("plotly_afterplot", function() { style(gd); });
                }
                style(gd);
            };
            setTimeout(function() { attempt(0); }, 0);
            return window.dash_clientside.no_update;
        }
        """.replace("LABEL_STYLE_JS", LABEL_STYLE_JS),
        Output("map-styled", "data"),
        Input("region-map", "figure"),
    )

    @app.callback(Output("teams", "options"), Input("teams", "search_value"), State("teams", "value"), prevent_initial_call=True)
    def find_teams(typed, chosen):
        """Letters typed in the team filter -> the first teams whose id holds them (and those chosen): a national network
        has tens of thousands of teams, too many to send with the page (83,000 made the page 1 MB)."""
        access, mission = _reader(live)
        chosen = [t for t in (chosen or []) if isinstance(t, str)]
        if not access.sees_forms:
            return []
        if not typed:
            return chosen
        return chosen + [t for t in _teams(mission) if typed.lower() in t.lower() and t not in chosen][:TEAM_OPTIONS]

    @app.callback(Output("more", "is_open"), Input("more-toggle", "n_clicks"), State("more", "is_open"), prevent_initial_call=True)
    def toggle_more(_clicks, is_open):
        """More filters button -> show or hide the second row of filters."""
        return not is_open

    @app.callback(
        Output("table-open", "data"),
        Output("table-toggle", "children"),
        Output("table-body", "style"),
        Output("table-hint", "style"),
        Output("export-link", "href", allow_duplicate=True),
        Input("table-toggle", "n_clicks"),
        State("table-open", "data"),
        State("filters", "data"),
        prevent_initial_call=True,
    )
    def toggle_table(_clicks, is_open, current):
        """Show/Hide button -> the table opens (the grid then asks for its rows) or closes (the CSV link is again every
        form of the view, as the hint under the button says)."""
        opening = not is_open
        shown, hidden = None, {"display": "none"}
        href = dash.no_update
        if not opening:
            access, mission = _reader(live)
            known = live.known(mission)
            filters, _withheld = access.restrict(from_dict(current, known), live.min_n)
            href = f"/export.csv{to_query(filters, always_form=True, default_min_n=known.min_n)}" if access.sees_forms else None
        with use(_lang(current)):
            label = _("Hide the forms") if opening else _("Show the forms")
        return opening, label, shown if opening else hidden, hidden if opening else shown, href

    # The briefing view's phase buttons (the filter bar is hidden there) show the phase control's value, and a press on
    # one sets the phase control from the browser, as a click on it would: one view change, no second request. Keys 1-4
    # do the same (dashboard/assets/20-obsmap.js). No cycle: the second callback sets the control with set_props (its
    # declared output is never changed).
    app.clientside_callback("function(phase) { return phase; }", Output("briefing-phase", "value"), Input("phase", "value"))
    app.clientside_callback(
        """
        function(chosen, phase) {
            if (chosen && chosen !== phase) { window.dash_clientside.set_props("phase", {value: chosen}); }
            return window.dash_clientside.no_update;
        }
        """,
        Output("briefing-phase", "className"),
        Input("briefing-phase", "value"),
        State("phase", "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input({"type": CLEAR, "field": ALL}, "n_clicks"),
        State("filters", "data"),
        prevent_initial_call=True,
    )
    def clear_filter(clicks, current):
        """The empty view's button -> the URL without that filter (the URL leads: update_view reads it as a link)."""
        asked = ctx.triggered_id
        if not isinstance(asked, dict) or not any(clicks or []):
            raise dash.exceptions.PreventUpdate
        access, mission = _reader(live)
        known = live.known(mission)
        now = from_dict(current, known)
        field = asked.get("field")
        if field == "all":
            cleared = reset(now, known)
        elif field in CLEARABLE:
            cleared = without(now, field)
        else:
            raise dash.exceptions.PreventUpdate
        return to_query(cleared, default_min_n=known.min_n) or "?"

    @app.callback(
        Output(form_detail.PANEL, "is_open"),
        Output(form_detail.PANEL, "title"),
        Output(form_detail.BODY, "children"),
        Output(form_detail.VISITS, "options"),
        Output(form_detail.VISITS, "value"),
        Output(form_detail.VISITS_BOX, "style"),
        Output("form-visits-title", "children"),
        Input("forms-table", "cellClicked"),
        Input("region-map", "clickData"),
        Input(form_detail.VISITS, "value"),
        State("filters", "data"),
        prevent_initial_call=True,
    )
    def open_form(cell, map_click, visit, current):
        """A click on a table row, or on an observed station of the drilled-down map (its visits listed, newest first),
        or a visit chosen in the list -> that form in the side panel, every answer. Only for those who see forms."""
        with use(_lang(current)):
            return _open_form(cell, map_click, visit, current)

    def _open_form(cell, map_click, visit, current):
        trigger = ctx.triggered_id
        access, mission = _reader(live)
        no = dash.no_update
        hidden = {"display": "none"}
        if not access.sees_forms:  # an aggregates-only account: nothing, however asked
            return False, _("Form"), None, [], None, hidden, None
        if trigger == "region-map":
            if not (isinstance(current, dict) and current.get("drill")) or not form_detail.on_station(map_click):
                raise dash.exceptions.PreventUpdate  # a click on a region drills in (update_view): nothing to parse here
            filters, _withheld = access.restrict(from_dict(current, live.known(mission)), live.min_n)
            if not filters.drill:
                raise dash.exceptions.PreventUpdate
            chosen = select(mission, filters)
            station = form_detail.clicked_station(chosen, map_click)
            if station is None:
                raise dash.exceptions.PreventUpdate
            visits = form_detail.station_forms(chosen, station)
            if visits.empty:
                raise dash.exceptions.PreventUpdate
            options = form_detail.visit_options(visits)
            form = visits.iloc[0]
            auth.audit("form_opened", {"form": str(form["form_id"]), "station": station})
            box = None if len(visits) > 1 else hidden
            visits_said = text.plural(len(visits), "{n} visit", "{n} visits, newest first")
            heading = _("Station {station}: {visits}").format(station=station, visits=visits_said)
            return True, form_detail.title(form), form_detail.body(mission, form), options, options[0]["value"], box, heading
        form_id = (cell or {}).get("rowId") if trigger == "forms-table" else visit
        form = form_detail.form_by_id(mission, form_id)
        if form is None:
            raise dash.exceptions.PreventUpdate
        auth.audit("form_opened", {"form": str(form["form_id"])})
        body = form_detail.body(mission, form)
        if trigger == "forms-table":  # one form: no list of visits
            return True, form_detail.title(form), body, [], None, hidden, None
        return True, form_detail.title(form), body, no, no, no, no


TEAM_OPTIONS = 50  # teams offered for what was typed
AUDITED_KEPT = 4096  # forms-table lists remembered as recorded in the audit (per process)
_audited: OrderedDict[tuple, None] = OrderedDict()


@lru_cache(maxsize=16)
def _teams(mission: Any) -> tuple[str, ...]:
    """The mission's team ids, sorted (once per mission, scoped or not)."""
    return tuple(sorted(mission.forms["team_id"].dropna().unique()))


SHOWN = "shown"  # in the filter store: the data version (and scope) of what the page shows; not a filter
MAP_REGIONS = "map_regions"  # in the filter store: the regions the page's map draws (views.regions_key); not a filter


def _findings_key(view: dict) -> tuple:
    """What the findings, the N, the region table, the problem chart and the timeline are made from, besides the data:
    the fields that choose the forms (:func:`dashboard.selection.forms_key`), the problem and the threshold, read from
    the filter store's JSON (the server wrote it, after the role's restrictions)."""
    by_problem = view.get("problem") is not None and view.get("metric") != "problem"
    return (*(repr(view.get(name)) for name in FORM_FIELDS), repr(view.get("problem")), by_problem, repr(view.get("min_n")))


def _same_findings(trigger: Any, current: dict | None, filters: Filters, version: str) -> bool:
    """Whether this user action leaves the findings as the page shows them: a control or a click (not the page's first
    view, the URL, new data or a reset, which may meet a page showing something else) on the same data, whose view
    has the same key. A crafted store can only withhold the findings from its own page."""
    if not isinstance(current, dict) or trigger in (None, "url", "data-version", "reset") or current.get(SHOWN) != version:
        return False
    return _findings_key(current) == _findings_key(filters.to_dict())


def _reader(live: LiveMission) -> tuple[Access, Any]:
    """Who is asking, and the mission as they may read it; an anonymous request gets nothing (no update)."""
    try:
        access = current_access()
    except NotSignedIn:
        raise dash.exceptions.PreventUpdate from None
    return access, access.scope(live.current())


def _lang(current: Any) -> str:
    """The language of the view in the filter store (the browser's ``Accept-Language`` when the store has none)."""
    lang = current.get("lang") if isinstance(current, dict) else None
    return lang if lang in languages() else browser_language()


def _unchanged(dependency: Any) -> Any:
    """``no_update`` in the shape of an output group."""
    if isinstance(dependency, dict):
        return {key: _unchanged(dep) for key, dep in dependency.items()}
    return dash.no_update


def _empty_notice(filters: Filters, before: Any, names: dict[str, str], other_phases: bool) -> html.Div:
    """ "No forms match these filters", and a button that clears the filter just changed (or the most specific one)."""
    label = PHASE_LABELS[filters.form_type]
    phase = label.lower() if current_language() == "en" else label
    if other_phases:
        said = _("No {phase} forms match these filters (forms of other phases do).").format(phase=phase)
    else:
        said = _("No {phase} forms match these filters.").format(phase=phase)
    name = filter_to_clear(filters, before if isinstance(before, dict) else None)
    button = (
        dbc.Button(clear_words(filters, name, names), id={"type": CLEAR, "field": name}, color="primary", size="sm", className="ms-2")
        if name
        else dbc.Button(_("Reset filters"), id={"type": CLEAR, "field": "all"}, color="primary", size="sm", className="ms-2")
    )
    return html.Div([html.Span(said, id="no-forms"), button], className="alert alert-info obs-notice", role="status")


CLEAR = "clear-filter"  # the empty view's button; its "field" is the filter it clears ("all": every filter)


def _notice(notices: list[str]) -> Any:
    if not notices:
        return None
    return html.Div([html.Div(n) for n in notices], className="alert alert-warning obs-notice", role="alert")
