"""How the view changes: one pure function from (what happened, the controls, the current view) to the next view.

The sync callback is glue around :func:`next_view`; tests call it directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboard.analysis import HOURS_RANGE, Filters
from dashboard.urlstate import Known, parse_query
from geo.schema import PROBLEMS

ALL = "all"
CONTROLS = ("phase", "metric", "problem", "regions", "hours", "orgs", "teams", "setting", "evoting", "overall")


def filters_from_controls(values: dict[str, Any], current: Filters, known: Known) -> Filters:
    """The view the controls describe; the drill-down survives while its region stays selected."""
    regions = values.get("regions") or []
    drill = current.drill if current.drill and list(regions) == [current.drill] else None
    data = {
        "form_type": values.get("phase"),
        "metric": values.get("metric"),
        "problem": values.get("problem"),
        "regions": regions,
        "hours": values.get("hours"),
        "orgs": values.get("orgs"),
        "teams": values.get("teams"),
        "setting": None if values.get("setting") == ALL else values.get("setting"),
        "evoting": None if values.get("evoting") == ALL else values.get("evoting"),
        "overall": values.get("overall"),
        "drill": drill,
        "min_n": current.min_n,
        "mode": current.mode,
    }
    return Filters.from_dict(data, known_regions=set(known.regions))


def controls_from_filters(filters: Filters) -> dict[str, Any]:
    """The control values that show ``filters``."""
    return {
        "phase": filters.form_type,
        "metric": filters.metric,
        "problem": filters.problem,
        "regions": list(filters.regions),
        "hours": list(filters.hours or HOURS_RANGE),
        "orgs": list(filters.orgs),
        "teams": list(filters.teams),
        "setting": filters.setting or ALL,
        "evoting": filters.evoting or ALL,
        "overall": list(filters.overall),
    }


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
    """
    now = Filters.from_dict(current, known_regions=set(known.regions))
    if trigger in (None, "url"):
        return parse_query(search, known)
    if trigger == "reset":
        return Filters(min_n=known.min_n, mode=now.mode), []
    if trigger == "mode-toggle":
        return replace(now, mode="analysis" if now.mode == "briefing" else "briefing"), []
    if trigger == "back":
        return replace(now, drill=None, regions=()), []
    if trigger == "region-map":
        point = ((map_click or {}).get("points") or [{}])[0]
        code = point.get("location")
        if point.get("curveNumber", 0) == 0 and code in known.regions:
            return replace(now, drill=code, regions=(code,)), []
        return now, []
    if trigger == "problem-chart":
        point = ((bar_click or {}).get("points") or [{}])[0]
        key = (point.get("customdata") or [None])[-1]
        problem = key if key in PROBLEMS else None
        return replace(now, problem=None if problem == now.problem else problem), []
    return filters_from_controls(controls, now, known), []
