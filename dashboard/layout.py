"""The page, composed from small builder functions."""

from __future__ import annotations

import json

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard import form_detail, text
from dashboard.access import OPEN, Access
from dashboard.filters import (
    ALL,
    BY_CONTROL,
    DEFAULT_LANG,
    HOURS_RANGE,
    LEVEL_LABELS,
    METRICS,
    Filters,
    controls_from_filters,
    format_hour,
    more_filters_active,
    to_query,
)
from dashboard.table_pages import BLOCK, TEXT_OPS
from geo.i18n import N_, NP_, Labels, _, current, language_name, languages, pgettext, plotly_separators
from geo.mission import MissionDataset
from geo.schema import FORM_TYPES, OVERALL_LEVELS, PHASE_LABELS, PROBLEMS

# No door to the outside: Plotly's cloud actions ("Share chart", "Edit in Chart Studio") are off and their buttons
# removed, and no link to plot.ly is drawn (tests/dashboard/test_browser_security.py clicks every button left).
NO_CLOUD = {"displaylogo": False, "showSendToCloud": False, "showEditInChartStudio": False, "showLink": False}
# No camera either: plotly's toImage is a 700x450 crop without title or caption; the "Download PNG" button under the
# map gives the captioned picture. The wheel zooms the map only once it has been clicked (dashboard/assets/20-obsmap.js).
GRAPH_CONFIG = {
    **NO_CLOUD,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "sendDataToCloud", "editInChartStudio", "toImage"],
    "scrollZoom": True,
}
METRIC_SHORT = Labels({"negative": N_("Bad / very bad"), "problem": N_("Problem"), "coverage": N_("Coverage"), "forms": N_("Forms")})


def graph_config(config: dict) -> dict:
    """A graph's config in the page's language: plotly's own texts (the mode bar's tips, dates) from the local
    dashboard/assets/plotly-locale-ru.js (nothing fetched); English is plotly's default."""
    return config if current() == DEFAULT_LANG else {**config, "locale": current()}


def page_texts() -> dict[str, str]:
    """The words the page's scripts write (20-obsmap.js, the clientside callbacks), in the page's language: read by
    ``obsmapText(key)`` from the ``data-i18n`` attribute of ``#obs-i18n``. No English is written in the scripts."""
    return {"finding": _("Finding the forms…")}


def language_switch(query: str = "") -> html.Nav:
    """ "English · Русский": links that reload the page with the same view in another language. 20-obsmap.js takes the
    view the browser shows at the click (``location.search``); the href, the view the page was opened with (``query``),
    is the fallback. ``lang=`` is always written, English too: without it a Russian browser would get Russian. The
    current language is marked (``aria-current``)."""
    kept = [p for p in (query or "").lstrip("?").split("&") if p and not p.startswith("lang=")]
    items: list = []
    for code in languages():
        if items:
            items.append(html.Span(" · ", className="obs-lang-sep", **{"aria-hidden": "true"}))
        here = code == current()
        items.append(
            html.A(
                language_name(code),
                href="/?" + "&".join([*kept, f"lang={code}"]),
                lang=code,
                className="obs-lang" + (" obs-lang-current" if here else ""),
                id=f"lang-{code}",
                **({"aria-current": "true"} if here else {}),
                **{"data-lang": code},
            )
        )
    return html.Nav(items, className="obs-langs", id="languages", **{"aria-label": _("Language")})


# The parts of the page below the map and the findings: a view's figures for them are sent with every click (one round
# trip), into a store, and drawn only when the part is on screen or comes into view (or the page is printed). A click
# then redraws the map and the findings, not two charts and a table nobody sees: at the demo's size that is most of the
# browser's work per click. ``LAZY`` names each part and the property its store fills.
LAZY = {"problem-chart": "figure", "timeline": "figure", "region-table": "rowData"}

# What a lazily drawn chart shows until it first comes into view: nothing (not the empty axes plotly draws by default).
BLANK_FIGURE = {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}, "margin": {"t": 0, "b": 0}}}


def lazy_store(part: str) -> str:
    """The store that holds a lazily drawn part's newest content (see ``LAZY``)."""
    return f"{part}-next"


def dropdown_labels() -> dict[str, str]:
    """The dropdowns' own words (Dash's "Select All", "{num_selected} selected"...) in the page's language."""
    return {
        "select_all": _("Select All"),
        "deselect_all": _("Deselect All"),
        # TRANSLATORS: {num_selected} is filled by the page (Dash's dropdown); keep it as it is
        "selected_count": _("{num_selected} selected"),
        "search": _("Search"),
        "clear_search": _("Clear search"),
        "clear_selection": _("Clear selection"),
        "no_options_found": _("No options found"),
    }


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


def _field(control, html_for: str | None = None, **col) -> dbc.Col:
    """A control in a column, labelled as the filter spec names it; the column's id is ``field-<control id>``."""
    label = BY_CONTROL[control.id].shown_label
    return dbc.Col([html.Label(label, className="obs-label", htmlFor=html_for), control], id=f"field-{control.id}", **col)


def account_line(access: Access, csrf_token: str | None) -> html.Div:
    """Who is signed in, with a sign-out button (a POST with its CSRF token); or that the page is open."""
    if access.open:
        return html.Div(_("Open demo: no sign-in (this machine only)"), className="obs-account obs-open-note", id="account")
    return html.Div(
        [
            html.Span(access.describe(), id="account-name"),
            html.Form(
                [
                    dcc.Input(type="hidden", name="csrf_token", value=csrf_token or ""),
                    html.Button(_("Sign out"), type="submit", className="btn btn-outline-light btn-sm py-0", id="sign-out"),
                ],
                method="POST",
                action="/sign-out",
            ),
        ],
        className="obs-account",
        id="account",
    )


def header(mission: MissionDataset, access: Access = OPEN, csrf_token: str | None = None, query: str = "") -> html.Header:
    meta = mission.meta
    badges = []
    if meta.get("synthetic"):
        badges.append(
            dbc.Badge(_("DEMO · synthetic forms"), color="warning", text_color="dark", className="obs-badge", id="synthetic-badge")
        )
    return html.Header(
        className="obs-header",
        children=[
            html.Div(
                [
                    html.H1(
                        [
                            html.Span("obsmap · ", className="obs-brand"),
                            html.Span(mission.text("name") or _("Election observation mission"), className="obs-title-name"),
                        ]
                    ),
                    html.Div(mission.text("mission") or "", className="obs-subtitle"),
                ]
            ),
            html.Div(
                [
                    html.Div(
                        [
                            *badges,
                            dbc.Button(_("Briefing view"), id="mode-toggle", color="light", size="sm", className="obs-mode"),
                            html.A(
                                dbc.Button(_("Brief (PDF)"), color="light", outline=True, size="sm"),
                                id="brief-link",
                                href="/export/brief.pdf",
                                className="obs-analysis-only",
                            ),
                            language_switch(query),  # on the buttons' line: the header keeps its height
                        ],
                        className="obs-header-actions",
                    ),
                    html.Div(text.live_status(mission, None), id="live-status", className="obs-asof", role="status"),
                    account_line(access, csrf_token),
                ],
                className="obs-header-right",
            ),
        ],
    )


def filter_bar(mission: MissionDataset, filters: Filters, access: Access = OPEN) -> dbc.Card:
    c = controls_from_filters(filters)
    forms = mission.forms
    names = mission.region_names
    region_options = sorted(
        ({"label": f"{names.get(r.code, r.name)} ({r.code})", "value": r.code} for r in mission.regions.itertuples()),
        key=lambda o: o["label"].casefold(),
    )
    if access.regions is not None:  # a coordinator chooses among their regions
        region_options = [o for o in region_options if o["value"] in access.regions]
    orgs = sorted(forms["observer_org"].dropna().unique())
    teams = list(c["teams"]) if access.sees_forms else []  # the chosen ones; others are found as one types (find_teams)
    metric_options = [(m, METRIC_SHORT[m]) for m in METRICS if m != "coverage" or mission.stations is not None]
    hidden = {"display": "none"}
    main = dbc.Row(
        [
            _field(_segmented("phase", [(ft, _(PHASE_LABELS[ft])) for ft in FORM_TYPES], c["phase"]), xs=12, xl="auto"),
            _field(_segmented("metric", metric_options, c["metric"]), xs=12, xl="auto"),
            _field(
                # its 16 rows open at once on a desktop (CSS: tighter rows; a phone's menu is capped)
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="regions",
                    options=region_options,
                    value=c["regions"],
                    multi=True,
                    placeholder=_("All regions"),
                    maxHeight=660,
                ),
                html_for="regions",
                xs=12,
                xl=True,
            ),
            dbc.Col(
                dbc.Button(_("More filters"), id="more-toggle", color="secondary", outline=True, className="obs-more"),
                xs="auto",
                className="align-self-end",
            ),
        ],
        className="g-3 align-items-start",
    )
    more = dbc.Row(
        [
            _field(
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="problem",
                    options=[{"label": _(label), "value": key} for key, label in PROBLEMS.items()],
                    value=c["problem"],
                    placeholder=_("Any (click a bar to choose)"),
                ),
                html_for="problem",
                xs=12,
                lg=3,
            ),
            _field(
                dcc.RangeSlider(
                    id="hours",
                    min=HOURS_RANGE[0],
                    max=HOURS_RANGE[1],
                    step=1,
                    value=c["hours"],
                    marks={h: format_hour(h) for h in range(HOURS_RANGE[0], HOURS_RANGE[1] + 1, 6)},
                    allowCross=False,
                    allow_direct_input=False,
                    # A clock time, "09:00" (assets/30-obsmap-hours.js: filters.format_hour in the browser)
                    tooltip={"placement": "bottom", "transform": "obsmapHour"},
                ),
                xs=12,
                lg=4,
            ),
            _field(
                dcc.Dropdown(labels=dropdown_labels(), id="orgs", options=orgs, value=c["orgs"], multi=True, placeholder=_("All")),
                "orgs",
                xs=6,
                lg=2,
            ),
            _field(
                dcc.Dropdown(
                    labels=dropdown_labels(),
                    id="teams",
                    options=teams,
                    value=c["teams"],
                    multi=True,
                    placeholder=_("All (type to find a team)"),
                ),
                "teams",
                xs=6,
                lg=3,
                style=None if access.sees_forms else hidden,  # team ids point to observers
            ),
            _field(
                _segmented("setting", [(ALL, _("All")), ("urban", _("Urban")), ("rural", _("Rural"))], c["setting"]),
                xs="auto",
                # A mission whose forms say nothing about urban/rural gets no such filter.
                style=None if forms["urban_rural"].notna().any() else hidden,
            ),
            _field(
                _segmented("evoting", [(ALL, _("All")), ("yes", _("Electronic")), ("no", _("Paper"))], c["evoting"]),
                xs="auto",
                style=None if forms["evoting"].notna().any() else hidden,
            ),
            _field(
                dbc.Checklist(
                    id="overall",
                    options=[{"label": LEVEL_LABELS[level], "value": level} for level in OVERALL_LEVELS],
                    value=c["overall"],
                    inline=True,
                    className="obs-checklist",
                ),
                xs="auto",
            ),
            _field(
                _segmented(
                    "review", [("not_rejected", _("Not rejected")), ("all", _("All")), ("approved", _("Approved only"))], c["review"]
                ),
                xs="auto",
                # Shown once forms carry a review (a live store); a folder of files has none.
                style=None if "review" in forms and (forms["review"] != "pending").any() else hidden,
            ),
            _field(
                _segmented("conflict", [(ALL, _("All")), ("yes", _("Conflicts only"))], c["conflict"]),
                xs="auto",
                style=None if "conflict" in forms and forms["conflict"].any() else hidden,
            ),
        ],
        className="g-3 align-items-start mt-1",
    )
    return dbc.Card(
        dbc.CardBody([main, dbc.Collapse(more, id="more", is_open=more_filters_active(filters))]),
        className="obs-card obs-filters obs-analysis-only",
    )


def map_card(figure) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.H2(id="map-title", className="obs-card-title"),
                        dbc.Button(
                            _("← Back to the country"),
                            id="back",
                            color="primary",
                            size="sm",
                            className="obs-back",
                            style={"display": "none"},
                        ),
                    ],
                    className="obs-card-head",
                )
            ),
            dbc.CardBody(
                # The box has the map's height (CSS, per mode); the graph fills it and the browser measures it.
                [
                    dcc.Graph(id="region-map", figure=figure, config=graph_config(GRAPH_CONFIG), className="obs-map", responsive=True),
                    # Shown while the wheel turns over a map not clicked into (the page scrolls instead): 20-obsmap.js
                    html.Div(_("Click the map to zoom with the wheel"), id="map-hint", className="obs-map-hint", **{"aria-hidden": "true"}),
                ],
                className="p-0 obs-map-box",
                id="map-box",
            ),
            dbc.CardFooter(
                html.Div(
                    [html.Div(id="map-caption"), image_links("map")],
                    className="obs-card-head",
                ),
                className="obs-caption",
            ),
        ],
        className="obs-card",
    )


IMAGE_BUTTON = "btn btn-sm btn-outline-primary obs-image-link"


def image_links(figure: str) -> html.Div:
    """Download buttons for PNG and SVG of a figure for the current view, title, caption and legend inside (hrefs set
    by a callback): the picture to paste in a report (the map's toolbar has no camera: see GRAPH_CONFIG)."""
    return html.Div(
        [
            html.A(
                _("Download PNG"), id=f"{figure}-png", href=f"/export/{figure}.png", download=f"obsmap-{figure}.png", className=IMAGE_BUTTON
            ),
            html.A(
                "SVG",
                id=f"{figure}-svg",
                href=f"/export/{figure}.svg",
                download=f"obsmap-{figure}.svg",
                className=IMAGE_BUTTON,
                title=_("Download SVG"),
            ),
        ],
        className="obs-image-links obs-analysis-only",
    )


def card_header(title: html.H2, *tools) -> dbc.CardHeader:
    """A card's title with its tools (links, switches) on the right."""
    return dbc.CardHeader(html.Div([title, *tools], className="obs-card-head"))


def headlines_card() -> dbc.Card:
    # TRANSLATORS: the switch that phrases the findings as fractions ("one out of four") instead of per cent
    switch = dbc.Switch(id="as-fraction", label=_("“one out of four”"), value=False, className="obs-switch")
    # The briefing view's phase buttons (the filter bar is hidden there); keys 1-4 do the same (20-obsmap.js).
    phases = html.Div(
        _segmented("briefing-phase", [(ft, _(PHASE_LABELS[ft])) for ft in FORM_TYPES], None),  # follows the phase control
        className="obs-briefing-only obs-briefing-phases",
        title=_("Map this phase (keys 1-4)"),
    )
    return dbc.Card(
        [
            card_header(html.H2(_("Findings by phase"), className="obs-card-title obs-analysis-title"), phases, switch),
            dbc.CardBody(id="headlines", className="obs-headlines"),
        ],
        className="obs-card h-100",
    )


def problems_card() -> dbc.Card:
    return dbc.Card(
        [
            card_header(html.H2(id="problem-title", className="obs-card-title"), image_links("problems")),
            dbc.CardBody(dcc.Graph(id="problem-chart", figure=BLANK_FIGURE, config=graph_config({**NO_CLOUD, "displayModeBar": False}))),
        ],
        className="obs-card",
    )


def timeline_card() -> dbc.Card:
    title = html.H2(_("Through the day: forms per hour and share bad or very bad"), className="obs-card-title")
    return dbc.Card(
        [
            card_header(title, image_links("timeline")),
            dbc.CardBody(dcc.Graph(id="timeline", figure=BLANK_FIGURE, config=graph_config({**NO_CLOUD, "displayModeBar": False}))),
        ],
        className="obs-card",
    )


TABLE_COLUMN_DEFS = [
    # A click on a row opens the whole form in the side panel (dashboard/form_detail.py); a cut value shows whole on hover.
    {
        "field": "form_id",
        "headerName": N_("Form"),
        "width": 110,
        "pinned": "left",
        "tooltipField": "form_id",
        "headerTooltip": N_("Click a row to open the whole form"),
        "cellClass": "obs-form-link",
    },
    {"field": "form_type", "headerName": N_("Phase"), "width": 100},
    {"field": "observed_at", "headerName": N_("Time"), "width": 160, "sort": "asc", "filter": False, "tooltipField": "observed_at"},
    {"field": "region", "headerName": N_("Region"), "width": 150, "tooltipField": "region"},
    {"field": "ps_id", "headerName": N_("Station"), "width": 115, "tooltipField": "ps_id"},
    {"field": "team_id", "headerName": N_("Team"), "width": 110, "tooltipField": "team_id"},
    {"field": "observer_org", "headerName": N_("Organisation"), "width": 150, "tooltipField": "observer_org"},
    {"field": "urban_rural", "headerName": N_("Setting"), "width": 90},
    {"field": "evoting", "headerName": N_("E-voting"), "width": 95},
    {"field": "overall", "headerName": N_("Overall"), "width": 100},
    {"field": "review", "headerName": N_("Review"), "width": 100},
    {
        "field": "conflict",
        # TRANSLATORS: the forms table's column flagging a station whose forms disagree
        "headerName": NP_("conflict column", "Station"),
        "width": 95,
        "headerTooltip": N_("Another form of this station and phase disagrees"),
    },
    {
        "field": "problems",
        "headerName": N_("Problems reported"),
        "flex": 2,
        "minWidth": 260,
        "tooltipField": "problems",
        "filter": False,  # the page's problem filter does it
        "headerTooltip": N_("Sorted by how many problems were reported"),
    },
    # Plain text: AG Grid's default renderer writes text, never HTML.
    {"field": "comments", "headerName": N_("Comments"), "flex": 3, "minWidth": 320, "tooltipField": "comments"},
]


HEADER_CONTEXTS = {"conflict": "conflict column"}  # headers marked with NP_: read with their gettext context

REGION_COLUMN_DEFS = [
    {"field": "region", "headerName": N_("Region"), "flex": 2, "minWidth": 160},
    {"field": "forms", "headerName": N_("Forms"), "type": "numericColumn", "width": 100},
    {"field": "assessed", "headerName": N_("Assessed (N)"), "type": "numericColumn", "width": 130},
    {"field": "negative", "headerName": N_("Bad or very bad"), "type": "numericColumn", "width": 140},
    {"field": "share", "headerName": N_("Share %"), "type": "numericColumn", "width": 110},
    {"field": "ci_low", "headerName": N_("95 % CI from"), "type": "numericColumn", "width": 130},
    {"field": "ci_high", "headerName": N_("to"), "type": "numericColumn", "width": 80},
    {"field": "note", "headerName": N_("Note"), "flex": 1, "minWidth": 130},
]


# AG Grid's own words the page can show (the filter menu, the loading rows, the column menu); English is AG Grid's.
GRID_TEXTS = {
    "noRowsToShow": N_("No Rows To Show"),
    "loadingOoo": N_("Loading..."),
    "filterOoo": N_("Filter..."),
    "contains": N_("Contains"),
    "notContains": N_("Does not contain"),
    "equals": N_("Equals"),
    "notEqual": N_("Does not equal"),
    "startsWith": N_("Begins with"),
    "endsWith": N_("Ends with"),
    "blank": N_("Blank"),
    "notBlank": N_("Not blank"),
    "andCondition": N_("AND"),
    "orCondition": N_("OR"),
    "resetFilter": N_("Reset"),
    "applyFilter": N_("Apply"),
    "clearFilter": N_("Clear"),
    "cancelFilter": N_("Cancel"),
    "pinColumn": N_("Pin Column"),
    "pinLeft": N_("Pin Left"),
    "pinRight": N_("Pin Right"),
    "noPin": N_("No Pin"),
    "autosizeThisColumn": N_("Autosize This Column"),
    "autosizeAllColumns": N_("Autosize All Columns"),
    "resetColumns": N_("Reset Columns"),
    "sortAscending": N_("Sort Ascending"),
    "sortDescending": N_("Sort Descending"),
    "sortUnSort": N_("Clear Sort"),
    "columnFilter": N_("Column Filter"),
    "ariaFilterInput": N_("Filter Input"),
    "ariaFilterValue": N_("Filter Value"),
    "ariaFilteringOperator": N_("Filtering Operator"),
    "ariaColumnFiltered": N_("Column Filtered"),
    "ariaMenuColumn": N_("Press ALT DOWN to open column menu"),
    "ariaFilterColumn": N_("Press CTRL ENTER to open filter"),
    "ariaSortableColumn": N_("Press ENTER to sort"),
    "ariaRowSelect": N_("Press SPACE to select this row"),
    # The number filter of a long region table's columns
    "lessThan": N_("Less than"),
    "lessThanOrEqual": N_("Less than or equal to"),
    "greaterThan": N_("Greater than"),
    "greaterThanOrEqual": N_("Greater than or equal to"),
    "inRange": N_("Between"),
    "inRangeStart": NP_("filter range", "From"),
    "inRangeEnd": NP_("filter range", "To"),
    "ariaFilterFromValue": N_("Filter from value"),
    "ariaFilterToValue": N_("Filter to value"),
    # The pager of a long region table: "1 to 25 of 4,556 · Page 1 of 183"
    "page": N_("Page"),
    "of": N_("of"),
    "to": NP_("pager", "to"),
    "firstPage": N_("First Page"),
    "previousPage": N_("Previous Page"),
    "nextPage": N_("Next Page"),
    "lastPage": N_("Last Page"),
    "pageLastRowUnknown": "?",
}


GRID_CONTEXTS = {"inRangeStart": "filter range", "inRangeEnd": "filter range", "to": "pager"}  # words with a context


def grid_texts(**own: str) -> dict[str, str]:
    """AG Grid's ``localeText`` in the page's language (``own``: the page's own texts, already translated), with the
    language's decimal mark and thousands separator for the numbers AG Grid writes itself (the pager's "4 556")."""
    if current() == DEFAULT_LANG:
        return dict(own)
    words = {key: pgettext(GRID_CONTEXTS[key], text) if key in GRID_CONTEXTS else _(text) for key, text in GRID_TEXTS.items()}
    decimal, thousands = plotly_separators()[:2]
    return words | {"decimalSeparator": decimal, "thousandSeparator": thousands} | own


def _translated_columns(defs: list[dict], decimals: dict[str, int] | None = None) -> list[dict]:
    """Column definitions with their header and header tip in the page's language; in another language than English,
    numbers written the language's way by AG Grid (``obsmapNumber`` of 20-obsmap.js: "1 234,5")."""
    out = []
    for col in defs:
        col = dict(col)
        for key in ("headerName", "headerTooltip"):
            if key in col:
                context = HEADER_CONTEXTS.get(col["field"]) if key == "headerName" else None
                col[key] = pgettext(context, col[key]) if context else _(col[key])
        if decimals is not None and col["field"] in decimals and current() != DEFAULT_LANG:
            col["valueFormatter"] = {"function": f"obsmapNumber(params.value, '{current()}', {decimals[col['field']]})"}
        out.append(col)
    return out


def table_column_defs() -> list[dict]:
    """:data:`TABLE_COLUMN_DEFS` in the page's language."""
    return _translated_columns(TABLE_COLUMN_DEFS)


def region_column_defs() -> list[dict]:
    """:data:`REGION_COLUMN_DEFS` in the page's language."""
    return _translated_columns(REGION_COLUMN_DEFS, {"forms": 0, "assessed": 0, "negative": 0, "share": 0, "ci_low": 0, "ci_high": 0})


# A mission with more regions than this has its region table in pages of REGION_PAGE rows, with a filter per column:
# the whole table on the page (autoHeight draws every row) was 4,556 rows and 40,000 elements for a world file.
REGION_PAGED_FROM, REGION_PAGE = 40, 25


def region_table_card(regions: int = 0) -> dbc.Card:
    """The table by region; ``regions``: how many the mission has (many: in pages, each column filterable)."""
    paged = regions > REGION_PAGED_FROM
    options = {"domLayout": "autoHeight", "animateRows": False, "localeText": grid_texts()}
    if paged:
        options |= {"pagination": True, "paginationPageSize": REGION_PAGE, "paginationPageSizeSelector": False}
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(id="region-table-title", className="obs-card-title")),
            dbc.CardBody(
                dag.AgGrid(
                    id="region-table",
                    columnDefs=region_column_defs(),
                    rowData=[],
                    # Headers wrap rather than cut ("Плохо или очень плохо" is longer than "Bad or very bad")
                    defaultColDef={
                        "sortable": True,
                        "resizable": True,
                        "wrapHeaderText": True,
                        "autoHeaderHeight": True,
                        "filter": paged,
                    },
                    dashGridOptions=options,
                ),
                className="p-2",
            ),
        ],
        className="obs-card",
    )


def table_card(live: bool = False, shown: bool = True) -> dbc.Card:
    """The forms behind the figures; a live mission's table can show only the forms new since the page opened.

    The grid is AG Grid's infinite row model: it asks the server for a block of rows at a time, sorted, filtered and
    searched there (dashboard.table_pages, callbacks.show_rows), and nothing while the table is closed.
    ``shown`` False (aggregates-only accounts): the card is not displayed, and the server sends it no row.
    """
    grid = dag.AgGrid(
        id="forms-table",
        columnDefs=table_column_defs(),
        getRowId="params.data.form_id",
        rowModelType="infinite",
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "filter": "agTextColumnFilter",
            # The operations the server does (dashboard.table_pages.TEXT_OPS), case-insensitive as it does them.
            "filterParams": {"filterOptions": list(TEXT_OPS), "maxNumConditions": 2, "buttons": ["reset"]},
        },
        dashGridOptions={
            "cacheBlockSize": BLOCK,
            "maxConcurrentDatasourceRequests": 1,  # dash-ag-grid answers the latest request only: one at a time
            "blockLoadDebounceMillis": 150,  # a scroll bar dragged far asks for where it stops, not every block passed
            "maxBlocksInCache": 30,  # the browser keeps at most 3,000 rows
            "infiniteInitialRowCount": 1,
            "animateRows": False,
            "tooltipShowDelay": 300,
            "suppressColumnVirtualisation": True,  # a dozen columns: render them all
            "localeText": grid_texts(noRowsToShow=_("No form of this view matches.")),
        },
        style={"height": "480px"},
    )
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.H2(_("The forms behind the figures"), className="obs-card-title"),
                        html.Div(
                            [
                                dbc.Switch(
                                    id="new-only",
                                    label=_("Only new since I opened"),
                                    value=False,
                                    className="obs-switch",
                                    style=None if live else {"display": "none"},
                                ),
                                dbc.Button(_("Show the forms"), id="table-toggle", color="secondary", outline=True, size="sm"),
                                html.A(
                                    dbc.Button(_("Download CSV of these forms"), color="primary", size="sm"),
                                    id="export-link",
                                    href="/export.csv",
                                    download="obsmap-forms.csv",
                                ),
                            ],
                            className="obs-table-tools",
                        ),
                    ],
                    className="obs-card-head",
                )
            ),
            # Rows are sent only while the table is shown, a block at a time: a filter change stays a few KB otherwise.
            dbc.CardBody(
                [
                    html.P(
                        _("Press “Show the forms” to list the forms behind the figures; the CSV holds every form of this view."),
                        id="table-hint",
                        className="text-muted small mb-0",
                    ),
                    html.Div(
                        [
                            dbc.Input(
                                id="table-search",
                                type="search",
                                placeholder=_("Search these forms (any text column)"),
                                debounce=400,  # one search when typing pauses, not one per letter
                                className="obs-search mb-2",
                            ),
                            html.Div(id="table-status", className="text-muted small mb-1", role="status"),
                            grid,
                        ],
                        id="table-body",
                        style={"display": "none"},
                    ),
                ],
                className="p-2",
            ),
            dcc.Store(id="table-open", data=False),
            dcc.Store(id="table-view"),  # the forms the view lists and their data: a new list starts the table again
            dcc.Store(id="table-ask"),  # the block the grid asks for, passed on only while the table is open
        ],
        className="obs-card",
        style=None if shown else {"display": "none"},
    )


def notes_card(mission: MissionDataset) -> dbc.Card:
    meta = mission.meta
    items = [
        html.Li(_("Each form is one visit: a station visited twice counts twice.")),
        html.Li(_("Shares of bad or very bad are taken over forms that carry an overall assessment; forms without one are counted apart.")),
        html.Li(
            _(
                "Problem shares are taken over forms that answered the question; "
                "a blank answer is \u201cnot answered\u201d, never \u201cno\u201d."
            )
        ),
        html.Li(
            [
                html.Strong(_("Not a random sample: ")),
                _(
                    "teams are sent to lists of stations and lean urban and toward regional centres. "
                    "The shares describe what observers saw, not a national estimate."
                ),
            ]
        ),
    ]
    if meta.get("synthetic"):
        items.insert(0, html.Li(html.Strong(mission.text("notice") or _("The forms are synthetic.")), className="obs-synthetic-note"))
    sources = [html.Li(str(s)) for s in mission.sources]
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(_("How to read these figures"), className="obs-card-title")),
            dbc.CardBody(
                [
                    html.Ul(items, className="obs-notes"),
                    html.Div(_("Sources"), className="obs-label mt-2"),
                    html.Ul(sources, className="obs-sources"),
                ]
            ),
        ],
        className="obs-card h-100",
    )


def page(
    mission: MissionDataset,
    map_figure,
    filters: Filters,
    data_version: int | None = None,
    poll_seconds: float | None = None,
    access: Access = OPEN,
    csrf_token: str | None = None,
    query: str | None = None,
) -> html.Div:
    """The whole page, in the language of the moment (the caller's ``with use(filters.lang)``).

    ``query``: the page's query string as the browser opened it (the language links keep it); default the filters'.
    ``data_version`` is the store's as the page is built; ``poll_seconds`` turns on the check for new data.

    ``mission`` is already what ``access`` may read (see :meth:`dashboard.access.Access.scope`).
    """
    return html.Div(
        id="page",
        className="obs-page",
        children=[
            dcc.Location(id="url", refresh=False),
            header(mission, access, csrf_token, query if query is not None else to_query(filters)),
            # The words the scripts write, in the page's language (20-obsmap.js obsmapText)
            html.Div(id="obs-i18n", hidden=True, **{"data-i18n": json.dumps(page_texts(), ensure_ascii=False)}),
            dbc.Container(
                [
                    filter_bar(mission, filters, access),
                    html.Div(id="notices", role="status"),
                    html.Div(id="map-notices", role="status"),
                    html.Div(
                        [
                            html.Div(id="n-shown", role="status"),
                            dbc.Button(_("Reset filters"), id="reset", color="link", size="sm", className="obs-reset obs-analysis-only"),
                        ],
                        className="obs-n-shown",
                    ),
                    dbc.Row([dbc.Col(map_card(map_figure), lg=8), dbc.Col(headlines_card(), lg=4)], className="g-3"),
                    dbc.Row([dbc.Col(problems_card(), lg=6), dbc.Col(timeline_card(), lg=6)], className="g-3 mt-1"),
                    dbc.Row([dbc.Col(region_table_card(len(mission.region_codes)), lg=12)], className="g-3 mt-1"),
                    dbc.Row(
                        [dbc.Col(table_card(live=data_version is not None, shown=access.sees_forms), lg=12)],
                        className="g-3 mt-1 obs-analysis-only",
                    ),
                    dbc.Row([dbc.Col(notes_card(mission), lg=12)], className="g-3 mt-1"),
                ],
                fluid=True,
                className="obs-main",
            ),
            dcc.Store(id="filters", data=filters.to_dict()),
            dcc.Store(id="viewport"),  # the map element's size, measured in the browser
            dcc.Store(id="data-version", data=data_version),  # the data the page shows; the poll moves it
            dcc.Store(id="opened-version", data=data_version),  # the data when the page was opened: "+38 since you opened"
            dcc.Interval(id="poll", interval=int(1000 * (poll_seconds or 30)), disabled=poll_seconds is None),
            dcc.Store(id="map-fit"),  # the area the map fits: bounds of the country or the drilled region
            dcc.Store(id="reload"),  # set when the mission's regions changed under the page (a new import): it loads again
            dcc.Store(id="map-styled"),  # written by no one: the output of the clientside callback that styles the map's names
            form_detail.panel(),  # one form, whole: opened from a table row or a station of the drilled-down map
            # The newest content of the parts drawn when they come into view (dashboard.callbacks.LAZY)
            *(dcc.Store(id=lazy_store(part)) for part in LAZY),
        ],
    )
