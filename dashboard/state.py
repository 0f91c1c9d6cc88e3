"""How the view changes: one pure function from (what happened, the controls, the current view) to the next view.

The page's one callback is glue around :func:`next_view`; tests call it directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboard.figures import REGIONS, trace_index
from dashboard.filters import Filters, Known, filters_from_controls, from_dict, parse_query, reset, with_drill
from geo.schema import PROBLEMS

# What can change the view, besides the controls: the URL (None: the first load), clicks and buttons.
VIEW_TRIGGERS = ("url", "region-map", "problem-chart", "back", "reset", "mode-toggle", "data-version")


def next_view(
    trigger: str | None,
    *,
    search: str | None,
    controls: dict[str, Any],
    current: dict[str, Any] | None,
    map_click: dict[str, Any] | None,
    bar_click: dict[str, Any] | None,
    known: Known,
) -> tuple[Filters, list[str]]:
    """The next view and any notices for the page.

    ``trigger`` is the id of what changed: ``"url"`` (or ``None``, the first load), a control,
    ``"region-map"`` (a click on a region drills into it), ``"problem-chart"`` (a click on a bar
    selects that problem, a second click clears it), ``"back"`` (back to the country) or ``"reset"``.
    Exactly one parse of the filters happens per call: the URL's, or the store's.
    """
    if trigger in (None, "url"):
        return parse_query(search, known)
    if trigger not in VIEW_TRIGGERS or trigger == "data-version":
        # A control; or new data, read with the controls as the user has them now: were a user's request in flight
        # when the data moved, dash-renderer keeps only this reply, and the user's choice must be in it.
        return filters_from_controls(controls, current, known), []
    now = from_dict(current, known)
    if trigger == "reset":
        return reset(now, known), []
    if trigger == "mode-toggle":
        return replace(now, mode="analysis" if now.mode == "briefing" else "briefing"), []
    if trigger == "back":
        return with_drill(now, None), []
    if trigger == "region-map":
        point = ((map_click or {}).get("points") or [{}])[0]
        code = point.get("location")
        if point.get("curveNumber", 0) == trace_index(REGIONS) and code in known.regions:  # not a station point
            return with_drill(now, code), []
        return now, []
    if trigger == "problem-chart":
        point = ((bar_click or {}).get("points") or [{}])[0]
        key = (point.get("customdata") or [None])[-1]
        problem = key if key in PROBLEMS else None
        return replace(now, problem=None if problem == now.problem else problem), []
    return now, []
