"""How the view changes: one pure function from (what happened, the controls, the current view) to the next view.

The page's one callback is glue around :func:`next_view`; tests call it directly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dashboard.figures import REGIONS, trace_index
from dashboard.filters import (
    BY_NAME,
    LEVEL_LABELS,
    Filters,
    Known,
    filters_from_controls,
    format_hour,
    from_dict,
    parse_query,
    reset,
    with_drill,
)
from geo.i18n import N_, Labels, _, current, percent
from geo.schema import NEGATIVE_LEVELS, OVERALL_LEVELS, PROBLEMS

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


# ------------------------------------------------------------------------------------------ an empty view
# The filters one can clear in one click when a view has no form, most specific first (the fallback when no single
# filter was just changed, e.g. a URL opened as it is).
CLEARABLE = ("teams", "problem", "conflict", "overall", "hours", "orgs", "evoting", "setting", "review", "regions")


def _set(filters: Filters, name: str) -> bool:
    if name == "problem":
        return filters.filters_by_problem
    return getattr(filters, name) != BY_NAME[name].default


def filter_to_clear(filters: Filters, before: dict[str, Any] | None) -> str | None:
    """The filter a "clear" button offers on an empty view: the one filter this action changed, if it is one of
    :data:`CLEARABLE` and set; otherwise the most specific filter set (``None``: no filter to clear).

    ``before`` is the filter store's JSON of the previous view (compared as JSON: no second parse).

    >>> filter_to_clear(Filters(orgs=("ODIHR",), teams=("T1",)), Filters(teams=("T1",)).to_dict())
    'orgs'
    >>> filter_to_clear(Filters(orgs=("ODIHR",), teams=("T1",)), None)
    'teams'
    """
    now = filters.to_dict()
    if isinstance(before, dict):
        changed = [name for name in CLEARABLE if now.get(name) != before.get(name) and _set(filters, name)]
        if len(changed) == 1:
            return changed[0]
    return next((name for name in CLEARABLE if _set(filters, name)), None)


def without(filters: Filters, name: str) -> Filters:
    """``filters`` with the filter ``name`` cleared (a drilled region: back to the selection before it)."""
    if name == "regions" and filters.drill:
        return with_drill(filters, None)
    return replace(filters, **{name: BY_NAME[name].default})


# A one-value filter's value as the clear button shows it (English: the value itself, as before).
VALUE_LABELS = Labels(
    {
        "urban": N_("urban"),
        "rural": N_("rural"),
        "yes": N_("yes"),
        "no": N_("no"),
        "all": N_("all"),
        "approved": N_("approved"),
        "not_rejected": N_("not_rejected"),
    },
)


def or_words(words: list[str]) -> str:
    """``["good", "bad", "very bad"]`` -> "good, bad or very bad" in the current language."""
    if len(words) < 2:
        return "".join(words)
    # TRANSLATORS: a list of choices, the last joined by "or": "good, bad or very bad"
    return _("{items} or {last}").format(items=", ".join(words[:-1]), last=words[-1])


def clear_words(filters: Filters, name: str, region_names: dict[str, str] | None = None) -> str:
    """The clear button's label: "Clear Team (T1)", "Clear Overall assessment (bad)"."""
    spec = BY_NAME[name]
    value = getattr(filters, name)
    if name == "hours":
        shown = f"{format_hour(value[0])}–{format_hour(value[1])}"
    elif name == "problem":
        shown = PROBLEMS.get(value, value)
    elif name == "regions":
        shown = ", ".join((region_names or {}).get(r, r) for r in value)
    elif name == "overall":
        shown = ", ".join(LEVEL_LABELS.get(v, v) for v in value)
    elif isinstance(value, tuple):
        shown = ", ".join(value)
    else:
        shown = VALUE_LABELS.get(str(value), str(value))
    if len(shown) > 60:
        shown = shown[:59] + "…"
    label = spec.shown_label
    # TRANSLATORS: the button of an empty view: "Clear team (T1)"; {filter} is the filter's label
    return _("Clear {filter} ({value})").format(filter=label.lower() if current() == "en" else label, value=shown)


# ------------------------------------------------------------------------------------------ a tautological map
def tautology(filters: Filters) -> str | None:
    """When the assessment filter keeps only levels inside (or only outside) the map's own class "bad or very bad",
    every region's share is 100 % (or 0 %): the sentence that says so, from the filters (``None``: the map compares).

    >>> tautology(Filters(overall=("bad",)))[:81]
    'The map shows the share of bad or very bad among forms you filtered to bad: every'
    >>> tautology(Filters(overall=("good", "bad"))) is None
    True
    """
    if filters.metric != "negative" or not filters.overall:
        return None
    chosen = set(filters.overall)
    if chosen <= NEGATIVE_LEVELS:
        reads = percent(100)
    elif not chosen & NEGATIVE_LEVELS:
        reads = percent(0)
    else:
        return None
    levels = or_words([LEVEL_LABELS[level] for level in OVERALL_LEVELS if level in chosen])
    return _(
        "The map shows the share of bad or very bad among forms you filtered to {levels}: every region reads {reads} "
        "(where it has forms). Clear the assessment filter to compare regions."
    ).format(levels=levels, reads=reads)
