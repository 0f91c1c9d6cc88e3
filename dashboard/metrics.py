"""The map's metrics: per region, a part of a whole (or a count), the value coloured, and whether it is too few.

Pure: a :class:`~dashboard.selection.Selection` and the filters in, a :class:`MetricTable` out. The
words (hovers, titles, captions) are written by :mod:`dashboard.text` from these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard import theme
from dashboard.analysis import (
    coverage_by_region,
    filter_stations,
    negative_share_by_region,
    problem_rates,
    problem_share_by_region,
)
from dashboard.counting import Counted
from dashboard.filters import Filters
from dashboard.selection import Selection
from geo.i18n import _
from geo.mission import MissionDataset
from geo.schema import FORM_TYPES, PHASE_CHECKLIST, PROBLEMS


@dataclass(frozen=True)
class MetricView:
    """How a map metric is coloured and explained."""

    key: str
    title: str  # colour-bar title, with the unit
    breaks: tuple[float, ...]
    min_n: int | None = None  # shares from fewer observations are drawn as "too few"; None: no such class


@dataclass(frozen=True)
class MetricTable:
    """What the map shows for a view.

    ``table`` has one row per region (the mission's order): ``n`` forms, ``part`` of ``whole``
    (bad or very bad of assessed; reporting the problem of answered; stations observed of
    registered; for the forms metric both are ``n``), ``value`` (the whole percentage or count
    that is coloured, NaN when unknown) and ``too_few``.
    """

    key: str  # the metric shown: negative, problem, coverage or forms
    table: pd.DataFrame
    legend: MetricView
    problem: str | None = None  # the problem mapped, for the problem metric
    notices: tuple[str, ...] = ()


def _shown_percent(part: pd.Series, whole: pd.Series) -> pd.Series:
    """The whole percentage people read in the hover, so a region's colour class always agrees with it."""
    p, w = part.to_numpy(dtype=np.int64), whole.to_numpy(dtype=np.int64)
    shown = (200 * p + w) // np.maximum(2 * w, 1)  # whole_percent, for every region at once
    return pd.Series(np.where(w > 0, shown, np.nan).astype(float), index=part.index)


def chosen_problem(selection: Selection, filters: Filters) -> str:
    """The problem the "problem" metric maps: the chosen one, else the most reported in this phase."""
    if filters.problem:
        return filters.problem
    rates = problem_rates(selection.phase_any_problem)
    asked = rates[rates["answered"] > 0]
    return str(asked["yes"].idxmax()) if len(asked) and asked["yes"].max() > 0 else PHASE_CHECKLIST[filters.form_type][0]


def metric_table(mission: MissionDataset, selection: Selection, filters: Filters) -> MetricTable:
    """Per region, the chosen metric's numbers for ``filters`` (``selection`` is their forms)."""
    codes = list(mission.region_codes)
    metric = filters.metric
    notices: tuple[str, ...] = ()
    if metric == "coverage" and mission.stations is None:
        notices = (_("Coverage needs a polling-station registry, and this mission has none: showing the share bad or very bad."),)
        metric = "negative"

    if metric == "problem":
        problem = chosen_problem(selection, filters)
        t = problem_share_by_region(selection.phase_any_problem, problem, codes)
        t["value"] = _shown_percent(t["part"], t["whole"])
        t["too_few"] = t["whole"] < filters.min_n
        title = _("Reported {problem}, % of forms that answered").format(problem=PROBLEMS[problem].lower())
        legend = MetricView("problem", title, theme.BREAKS, filters.min_n)
        return MetricTable("problem", t, legend, problem, notices)

    if metric == "coverage":
        t = coverage_by_region(selection.present, filter_stations(mission.stations, filters), codes)
        # One decimal (the hover shows the same), and breaks over the regions' own spread: a few per cent of a national
        # registry is observed, and fixed 10-point classes painted every region the same colour.
        whole = t["whole"].where(t["whole"] > 0)
        t["value"] = (100 * t["part"] / whole).round(1)
        t["too_few"] = False  # a count of the registry, not a sample
        breaks = theme.range_breaks(t["value"].dropna().tolist())
        legend = MetricView("coverage", _("Stations observed, % of registered stations"), breaks)
        return MetricTable("coverage", t, legend, None, notices)

    if metric == "forms":
        t = selection.phase.by_region(codes)
        t["part"] = t["whole"] = t["n"]
        t["value"] = t["n"].astype(float)
        t["too_few"] = False
        # Breaks from the whole phase, unfiltered, so the colours stay put while filtering.
        largest = _largest_phase_count(selection, filters.form_type)
        legend = MetricView("forms", _forms_per_region(filters.form_type), theme.nice_breaks(float(largest)))
        return MetricTable("forms", t, legend, None, notices)

    t = negative_share_by_region(selection.phase, codes).rename(columns={"negative": "part", "assessed": "whole"})
    t["value"] = _shown_percent(t["part"], t["whole"])
    t["too_few"] = t["whole"] < filters.min_n
    legend = MetricView("negative", _("Assessed bad or very bad, % of forms with an assessment"), theme.BREAKS, filters.min_n)
    return MetricTable("negative", t[["n", "part", "whole", "share", "value", "too_few"]], legend, None, notices)


def _forms_per_region(form_type: str) -> str:
    """The forms metric's colour-bar title, one phrase per phase (Russian declines the phase: «анкет голосования»)."""
    return {
        "opening": lambda: _("Opening forms per region"),
        "voting": lambda: _("Voting forms per region"),
        "counting": lambda: _("Counting forms per region"),
        "tabulation": lambda: _("Tabulation forms per region"),
    }[form_type]()


def _largest_phase_count(selection: Selection, form_type: str) -> int:
    """The most forms of ``form_type`` in one region, over all the mission's forms (none filtered)."""
    codes = selection.codes
    counts = Counted(codes).bincount(codes.region, len(codes.regions), codes.phase == FORM_TYPES.index(form_type))
    return int(counts.max()) if len(counts) and counts.max() > 0 else 1


def selected_totals(metric: MetricTable, filters: Filters) -> tuple[int, int, int]:
    """(part, whole, n) over the selected regions (all when none is selected): the caption's figure."""
    table = metric.table
    if filters.regions:
        table = table.loc[[c for c in filters.regions if c in table.index]]
    return int(table["part"].sum()), int(table["whole"].sum()), int(table["n"].sum())
