"""Thin glue: each callback parses its inputs, asks dashboard.state or dashboard.views, returns."""

from __future__ import annotations

import dash
from dash import Dash, Input, Output, Patch, State, ctx, html

from dashboard import views
from dashboard.layout import more_filters_active
from dashboard.state import CONTROLS, controls_from_filters, next_view
from dashboard.urlstate import Known, to_query
from geo.mission import MissionDataset


def register_callbacks(app: Dash, mission: MissionDataset, known: Known) -> None:
    min_n = known.min_n

    @app.callback(
        Output("url", "search"),
        Output("filters", "data"),
        Output("notices", "children"),
        Output("more", "is_open", allow_duplicate=True),
        Output("page", "className"),
        Output("mode-toggle", "children"),
        *(Output(c, "value") for c in CONTROLS),
        Input("url", "search"),
        *(Input(c, "value") for c in CONTROLS),
        Input("region-map", "clickData"),
        Input("problem-chart", "clickData"),
        Input("back", "n_clicks"),
        Input("reset", "n_clicks"),
        Input("mode-toggle", "n_clicks"),
        State("filters", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def sync_view(search, *args):
        """URL, any control, a click on a region or a bar, Back, Reset -> one view: URL, store and controls agree."""
        values = dict(zip(CONTROLS, args[: len(CONTROLS)], strict=True))
        map_click, bar_click, _back, _reset, _mode, current = args[len(CONTROLS) :]
        trigger = ctx.triggered_id
        filters, notices = next_view(
            trigger, search=search, controls=values, current=current, map_click=map_click, bar_click=bar_click, known=known
        )
        controls = controls_from_filters(filters)
        # The URL follows the view (a new history entry); when the URL led, it stays as the browser has it.
        url = dash.no_update if trigger in (None, "url") else to_query(filters, default_min_n=min_n)
        more_open = True if more_filters_active(filters) else dash.no_update
        briefing = filters.mode == "briefing"
        page_class = "obs-page obs-briefing" if briefing else "obs-page"
        mode_label = "Exit briefing view" if briefing else "Briefing view"
        return url, filters.to_dict(), _notice(notices), more_open, page_class, mode_label, *(controls[c] for c in CONTROLS)

    # The window's size, read once in the browser, so the map's zoom fits the space it really has.
    app.clientside_callback(
        "function(_) { return [window.innerWidth, window.innerHeight]; }",
        Output("viewport", "data"),
        Input("url", "pathname"),
    )

    @app.callback(Output("more", "is_open"), Input("more-toggle", "n_clicks"), State("more", "is_open"), prevent_initial_call=True)
    def toggle_more(_clicks, is_open):
        """More filters button -> show or hide the second row of filters."""
        return not is_open

    @app.callback(
        Output("region-map", "figure"),
        Output("map-title", "children"),
        Output("map-caption", "children"),
        Output("back", "style"),
        Output("map-notices", "children"),
        Input("filters", "data"),
        Input("viewport", "data"),
    )
    def update_map(data, viewport):
        """View or window size -> map values and drill-down layers (a Patch, never the geometry), title, caption, Back."""
        patch, title, caption, notices = views.map_update(mission, data, viewport)
        drilled = bool(views.parse_filters(mission, data).drill)
        return patch, title, caption, None if drilled else {"display": "none"}, _notice(notices)

    @app.callback(Output("headlines", "children"), Output("n-shown", "children"), Input("filters", "data"), Input("as-fraction", "value"))
    def update_headlines(data, as_fraction):
        """View or phrasing switch -> headline sentences per phase and the N line."""
        return views.headlines(mission, data, bool(as_fraction)), views.n_shown(mission, data)

    @app.callback(Output("region-table", "rowData"), Output("region-table-title", "children"), Input("filters", "data"))
    def update_region_table(data):
        """View -> bad or very bad by region, with N and 95 % interval."""
        filters = views.parse_filters(mission, data)
        title = f"{views.PHASE_LABELS[filters.form_type]}: bad or very bad by region, with N and 95 % interval (Wilson)"
        return views.region_table(mission, data), title

    @app.callback(Output("problem-chart", "figure"), Output("problem-title", "children"), Input("filters", "data"))
    def update_problems(data):
        """View -> problem bar chart."""
        return views.problems(mission, data)

    @app.callback(Output("timeline", "figure"), Input("filters", "data"))
    def update_timeline(data):
        """View -> forms and share bad per hour."""
        return views.timeline(mission, data)

    @app.callback(
        Output("export-link", "href"),
        Output("brief-link", "href"),
        *(Output(f"{figure}-{fmt}", "href") for figure in ("map", "problems", "timeline") for fmt in ("png", "svg")),
        Input("filters", "data"),
    )
    def update_export_links(data):
        """View -> links to the CSV, the brief and each figure's PNG/SVG for exactly this view."""
        query = to_query(views.parse_filters(mission, data), always_form=True, default_min_n=min_n)
        figures = [f"/export/{figure}.{fmt}{query}" for figure in ("map", "problems", "timeline") for fmt in ("png", "svg")]
        return f"/export.csv{query}", f"/export/brief.pdf{query}", *figures

    @app.callback(
        Output("table-open", "data"),
        Output("table-toggle", "children"),
        Output("forms-table", "style"),
        Input("table-toggle", "n_clicks"),
        State("table-open", "data"),
        prevent_initial_call=True,
    )
    def toggle_table(_clicks, is_open):
        """Show/Hide button -> the table of forms opens (tall, with rows) or closes (short, empty)."""
        opening = not is_open
        return opening, "Hide the forms" if opening else "Show the forms", {"height": "480px" if opening else "150px"}

    @app.callback(Output("forms-table", "rowData"), Input("filters", "data"), Input("table-open", "data"))
    def update_table(data, is_open):
        """View (while the table is shown) -> the forms behind the figures; hidden -> no rows."""
        if not is_open:
            return [] if ctx.triggered_id == "table-open" else dash.no_update
        return views.table_rows(mission, data)

    @app.callback(Output("forms-table", "dashGridOptions"), Input("table-search", "value"), prevent_initial_call=True)
    def search_table(text):
        """Search box -> the grid's quick filter (runs in the browser)."""
        patch = Patch()
        patch["quickFilterText"] = text or ""
        return patch


def _notice(notices: list[str]):
    if not notices:
        return None
    return html.Div([html.Div(n) for n in notices], className="alert alert-warning obs-notice", role="alert")
