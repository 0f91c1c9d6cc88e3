"""The page, composed from small builder functions."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.analysis import Filters
from geo.mission import MissionDataset
from geo.schema import FORM_TYPES, PHASE_LABELS

GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"], "scrollZoom": True}


def _segmented(id_: str, options: list[tuple[str, str]], value: str) -> dbc.RadioItems:
    return dbc.RadioItems(
        id=id_,
        options=[{"label": label, "value": v} for v, label in options],
        value=value,
        className="btn-group obs-segmented",
        inputClassName="btn-check",
        labelClassName="btn btn-outline-primary",
        labelCheckedClassName="active",
    )


def header(mission: MissionDataset) -> html.Header:
    meta = mission.meta
    badges = []
    if meta.get("synthetic"):
        badges.append(dbc.Badge("DEMO · synthetic forms", color="warning", text_color="dark", className="obs-badge", id="synthetic-badge"))
    as_of = meta.get("data_as_of")
    return html.Header(
        className="obs-header",
        children=[
            html.Div(
                [
                    html.H1(["obsmap ", html.Span("· " + meta.get("name", "Election observation mission"), className="obs-title-name")]),
                    html.Div(meta.get("mission", ""), className="obs-subtitle"),
                ]
            ),
            html.Div(
                [*badges, html.Div(f"Data as of {as_of.replace('T', ' ')}" if as_of else "", className="obs-asof")],
                className="obs-header-right",
            ),
        ],
    )


def filter_bar(mission: MissionDataset, filters: Filters) -> dbc.Card:
    region_options = [{"label": f"{r.name} ({r.code})", "value": r.code} for r in mission.regions.sort_values("name").itertuples()]
    return dbc.Card(
        dbc.CardBody(
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.Label("Phase", className="obs-label"),
                            _segmented("phase", [(ft, PHASE_LABELS[ft]) for ft in FORM_TYPES], filters.form_type),
                        ],
                        xs=12,
                        xl="auto",
                    ),
                    dbc.Col(
                        [
                            html.Label("Regions", className="obs-label", htmlFor="regions"),
                            dcc.Dropdown(
                                id="regions",
                                options=region_options,
                                value=list(filters.regions),
                                multi=True,
                                placeholder="All regions",
                                className="obs-dropdown",
                            ),
                        ],
                        xs=12,
                        xl=True,
                    ),
                    dbc.Col(
                        [
                            html.Label("Stations", className="obs-label"),
                            _segmented("setting", [("all", "All"), ("urban", "Urban"), ("rural", "Rural")], filters.setting or "all"),
                        ],
                        xs="auto",
                        # A mission whose forms say nothing about urban/rural gets no such filter.
                        style=None if mission.forms["urban_rural"].notna().any() else {"display": "none"},
                    ),
                    dbc.Col(
                        [
                            html.Label("Voting", className="obs-label"),
                            _segmented("evoting", [("all", "All"), ("yes", "Electronic"), ("no", "Paper")], filters.evoting or "all"),
                        ],
                        xs="auto",
                        style=None if mission.forms["evoting"].notna().any() else {"display": "none"},
                    ),
                ],
                className="g-3 align-items-start",
            )
        ),
        className="obs-card obs-filters",
    )


def map_card(figure) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(id="map-title", className="obs-card-title")),
            dbc.CardBody(dcc.Graph(id="region-map", figure=figure, config=GRAPH_CONFIG, className="obs-map"), className="p-0"),
            dbc.CardFooter(id="map-caption", className="obs-caption"),
        ],
        className="obs-card",
    )


def headlines_card() -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("Findings by phase", className="obs-card-title")),
            dbc.CardBody(id="headlines", className="obs-headlines"),
        ],
        className="obs-card h-100",
    )


def problems_card() -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(id="problem-title", className="obs-card-title")),
            dbc.CardBody(dcc.Graph(id="problem-chart", config={"displayModeBar": False})),
        ],
        className="obs-card",
    )


def notes_card(mission: MissionDataset) -> dbc.Card:
    meta = mission.meta
    items = [
        html.Li("Each form is one visit: a station visited twice counts twice."),
        html.Li("Shares of bad or very bad are taken over forms that carry an overall assessment; forms without one are counted apart."),
        html.Li(
            "Problem shares are taken over forms that answered the question; "
            "a blank answer is \u201cnot answered\u201d, never \u201cno\u201d."
        ),
        html.Li(
            [
                html.Strong("Not a random sample: "),
                "teams are sent to lists of stations and lean urban and toward regional centres. "
                "The shares describe what observers saw, not a national estimate.",
            ]
        ),
    ]
    if meta.get("synthetic"):
        items.insert(0, html.Li(html.Strong(meta.get("notice", "The forms are synthetic.")), className="obs-synthetic-note"))
    sources = [html.Li(s) for s in meta.get("sources", [])]
    return dbc.Card(
        [
            dbc.CardHeader(html.H2("How to read these figures", className="obs-card-title")),
            dbc.CardBody(
                [
                    html.Ul(items, className="obs-notes"),
                    html.Div("Sources", className="obs-label mt-2"),
                    html.Ul(sources, className="obs-sources"),
                ]
            ),
        ],
        className="obs-card h-100",
    )


def page(mission: MissionDataset, map_figure, filters: Filters) -> html.Div:
    return html.Div(
        [
            header(mission),
            dbc.Container(
                [
                    filter_bar(mission, filters),
                    html.Div(
                        [
                            html.Div(id="n-shown", role="status"),
                            dbc.Button("Reset filters", id="reset", color="link", size="sm", className="obs-reset"),
                        ],
                        className="obs-n-shown",
                    ),
                    dbc.Row(
                        [dbc.Col(map_card(map_figure), lg=8), dbc.Col(headlines_card(), lg=4)],
                        className="g-3",
                    ),
                    dbc.Row(
                        [dbc.Col(problems_card(), lg=8), dbc.Col(notes_card(mission), lg=4)],
                        className="g-3 mt-1",
                    ),
                ],
                fluid=True,
                className="obs-main",
            ),
            dcc.Store(id="filters", data=filters.to_dict()),
        ]
    )
