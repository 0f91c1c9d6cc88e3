"""One form, whole: every answer and its comment, in a panel at the side of the page.

It opens from a click on a row of the forms table or on an observed station of the drilled-down map (a station
visited several times lists its visits, newest first, and opens the newest). Pure: the mission, the view's forms
and what was clicked in, Dash components out. Every string from the mission's files is a component's text, which
Dash writes as text, never as HTML. Who may open a form is checked by the callback (``Access.sees_forms``).
"""

from __future__ import annotations

import math
from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import html

from dashboard.analysis import station_visits
from dashboard.figures import MAP_TRACES, STATION_CLASSES, STATIONS
from dashboard.filters import LEVEL_LABELS
from dashboard.selection import Selection
from dashboard.tables import CELL_WORDS
from geo.i18n import _, number
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS, PROBLEMS

PANEL = "form-detail"  # the dbc.Offcanvas
BODY = "form-detail-body"
VISITS = "form-visits"  # a station's visits: one radio item per form, its value the form id
VISITS_BOX = "form-visits-box"
MAX_VISITS = 50  # visits listed for one station (a station is visited a few times a day)
EMPTY = "—"


def panel() -> dbc.Offcanvas:
    """The side panel, closed and empty until a form is opened."""
    return dbc.Offcanvas(
        [
            html.Div(
                [html.Div(id="form-visits-title", className="obs-label mb-1"), dbc.RadioItems(id=VISITS, options=[], value=None)],
                id=VISITS_BOX,
                className="mb-3",
                style={"display": "none"},
            ),
            html.Div(id=BODY),
        ],
        id=PANEL,
        title=_("Form"),
        placement="end",
        is_open=False,
        scrollable=True,
        style={"width": "min(560px, 100vw)"},
    )


# ------------------------------------------------------------------------------------------------ finding forms
def form_by_id(mission: MissionDataset, form_id: Any) -> pd.Series | None:
    """The form ``form_id`` of the mission as this user may read it (``None``: no such form, or not a string)."""
    if not isinstance(form_id, str) or not form_id:
        return None
    forms = mission.forms
    hits = np.flatnonzero((forms["form_id"] == form_id).to_numpy(dtype=bool, na_value=False))
    return forms.iloc[hits[0]] if len(hits) else None


def _point(click: Any) -> dict[str, Any]:
    points = click.get("points") if isinstance(click, dict) else None
    return points[0] if isinstance(points, list) and points and isinstance(points[0], dict) else {}


def on_station(click: Any) -> bool:
    """Whether a map click is on an observed station's point (its trace found by name, not by number)."""
    curve = _point(click).get("curveNumber")
    return isinstance(curve, int) and 0 <= curve < len(MAP_TRACES) and MAP_TRACES[curve] in STATIONS


def clicked_station(selection: Selection, click: Any) -> str | None:
    """The station (ps_id) of a click on an observed station of the drilled-down map, or ``None``.

    The map's station layers are the view's stations by worst assessment (:func:`dashboard.views.drill_layers`), each
    layer in station order: the clicked layer is found by its trace's name, the station by its point number, checked
    against the point's coordinates (or, when the numbers no longer fit, found by them alone).
    """
    if not on_station(click):
        return None
    point = _point(click)
    cls = STATION_CLASSES[STATIONS.index(MAP_TRACES[point["curveNumber"]])]
    visits = station_visits(selection.phase_forms)
    visits = visits[visits["latitude"].notna() & visits["longitude"].notna()]
    here = visits[visits["worst"].astype("string").fillna("not assessed") == cls]
    lat, lon = point.get("lat"), point.get("lon")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lat, lon)):
        return None
    same = (here["latitude"].round(4) == round(lat, 4)) & (here["longitude"].round(4) == round(lon, 4))
    number = point.get("pointNumber", point.get("pointIndex"))
    stations = here["ps_id"].astype(str).tolist()
    if isinstance(number, int) and 0 <= number < len(here) and same.iloc[number]:
        return stations[number]
    return stations[int(same.to_numpy().argmax())] if same.any() else None


def station_forms(selection: Selection, ps_id: str) -> pd.DataFrame:
    """The view's forms of station ``ps_id`` in the view's phase (as the map shows it), newest first."""
    forms = selection.rows()
    visits = forms[(forms["ps_id"] == ps_id).to_numpy(dtype=bool, na_value=False)]
    return visits.sort_values("observed_at", ascending=False, na_position="last", kind="stable").head(MAX_VISITS)


def visit_options(visits: pd.DataFrame) -> list[dict[str, str]]:
    """One radio item per visit: time, team and assessment (text), its value the form id."""
    options = []
    for row in visits.itertuples():
        assessed = _("not assessed") if _blank(row.overall) else LEVEL_LABELS.get(str(row.overall), str(row.overall))
        label = _("{time} · team {team} · {assessed} · form {form}").format(
            time=_clock(row.observed_at), team=_text(row.team_id), assessed=assessed, form=row.form_id
        )
        options.append({"label": label, "value": str(row.form_id)})
    return options


# ------------------------------------------------------------------------------------------------ one form
def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _text(value: Any) -> str:
    return EMPTY if _blank(value) or str(value).strip() == "" else str(value)


def _clock(value: Any) -> str:
    """A form's time as HH:MM, with its day: "09:15 (2026-03-15)"."""
    if _blank(value):
        return _("time unknown")
    t = pd.Timestamp(value)
    return f"{t:%H:%M} ({t:%Y-%m-%d})"


def answer(value: Any) -> str:
    """A problem question's answer: yes, no, or not answered (a blank is never "no")."""
    if _blank(value):
        return _("Not answered")
    return _("Yes") if bool(value) else _("No")


def title(form: pd.Series) -> str:
    return _("Form {form}").format(form=_text(form.get("form_id")))


def _value(value: Any) -> str:
    """A coded answer (urban, yes, approved) in the page's language, as the forms table writes it; other values as they
    are."""
    shown = _text(value)
    return CELL_WORDS.get(shown, shown)


def body(mission: MissionDataset, form: pd.Series) -> list[Any]:
    """Every answer of ``form``: who, where, when, the overall assessment, each problem, the comment."""
    phase = form.get("form_type")
    region = form.get("region_code")
    facts = [
        (_("Phase"), PHASE_LABELS[str(phase)] if str(phase) in PHASE_LABELS else _text(phase)),
        (_("Time"), _clock(form.get("observed_at"))),
        (_("Station"), _text(form.get("ps_id"))),
        (_("Region"), _text(mission.region_names.get(region, region) if not _blank(region) else None)),
        (_("Team"), _text(form.get("team_id"))),
        (_("Organisation"), _text(form.get("observer_org"))),
        (_("Setting"), _value(form.get("urban_rural"))),
        (_("Electronic voting"), _value(form.get("evoting"))),
        (
            _("Overall assessment"),
            _("Not assessed") if _blank(form.get("overall")) else LEVEL_LABELS.get(str(form.get("overall")), str(form.get("overall"))),
        ),
    ]
    if "review" in form.index:
        facts.append((_("Review"), _value(form.get("review"))))
    if "conflict" in form.index and not _blank(form.get("conflict")) and bool(form.get("conflict")):
        facts.append((_("Conflict"), _("another form of this station and phase disagrees on the assessment")))
    listed = html.Dl(
        [item for label, value in facts for item in (html.Dt(label), html.Dd(value, className="mb-0"))],
        className="obs-form-facts",
        style={"display": "grid", "gridTemplateColumns": "max-content 1fr", "columnGap": "1rem", "rowGap": "0.3rem"},
    )
    said = [(label, answer(form.get(key)) if key in form.index else _("Not asked"), key) for key, label in PROBLEMS.items()]
    reported = [key in form.index and not _blank(form.get(key)) and bool(form.get(key)) for _label, _a, key in said]
    yes = sum(reported)
    problems = dbc.Table(
        [
            html.Thead(html.Tr([html.Th(_("Problem")), html.Th(_("Answer"))])),
            html.Tbody(
                [
                    html.Tr([html.Td(label), html.Td(a, className="fw-bold" if bold else None)])
                    for (label, a, _key), bold in zip(said, reported, strict=True)
                ]
            ),
        ],
        size="sm",
        className="obs-form-problems",
    )
    comment = form.get("comments")
    return [
        listed,
        html.H3(
            _("Problems reported: {n} of {total}").format(n=number(yes), total=number(len(said))),
            className="h6 mt-3",
        ),
        problems,
        html.H3(_("Comment"), className="h6 mt-3"),
        html.P(_("No comment.") if _blank(comment) or not str(comment).strip() else str(comment), className="obs-form-comment"),
    ]
