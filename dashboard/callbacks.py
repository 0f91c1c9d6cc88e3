"""Thin glue: each callback parses its inputs, asks dashboard.views, returns."""

from __future__ import annotations

from dash import Dash, Input, Output

from dashboard import views
from dashboard.analysis import Filters
from geo.mission import MissionDataset

ALL = "all"


def register_callbacks(app: Dash, mission: MissionDataset) -> None:
    @app.callback(
        Output("filters", "data"),
        Input("phase", "value"),
        Input("regions", "value"),
        Input("setting", "value"),
        Input("evoting", "value"),
    )
    def store_filters(phase, regions, setting, evoting):
        """Any control -> the filter store (validated)."""
        raw = {"form_type": phase, "regions": regions, "setting": setting, "evoting": evoting}
        return views.parse_filters(mission, raw).to_dict()

    @app.callback(
        Output("phase", "value"),
        Output("regions", "value"),
        Output("setting", "value"),
        Output("evoting", "value"),
        Input("reset", "n_clicks"),
        prevent_initial_call=True,
    )
    def reset_filters(_clicks):
        """Reset button -> controls back to the defaults."""
        default = Filters()
        return default.form_type, [], ALL, ALL

    @app.callback(
        Output("region-map", "figure"), Output("map-title", "children"), Output("map-caption", "children"), Input("filters", "data")
    )
    def update_map(data):
        """Filter store -> map values (a Patch, never the geometry), title and caption."""
        return views.map_update(mission, data)

    @app.callback(Output("headlines", "children"), Output("n-shown", "children"), Input("filters", "data"))
    def update_headlines(data):
        """Filter store -> headline sentences per phase and the N line."""
        return views.headlines(mission, data), views.n_shown(mission, data)

    @app.callback(Output("problem-chart", "figure"), Output("problem-title", "children"), Input("filters", "data"))
    def update_problems(data):
        """Filter store -> problem bar chart."""
        return views.problems(mission, data)
