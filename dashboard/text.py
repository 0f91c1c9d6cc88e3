"""The words: hovers, titles, captions and sentences, from numbers already counted.

Pure text builders (no Dash): the page, the images and the brief say the same things the same way.
Strings that end up in a Plotly hover are HTML: anything from a mission's files is escaped here.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from dashboard.analysis import interval_text, percent, statement_sentence
from dashboard.filters import Filters
from dashboard.metrics import MetricTable, selected_totals
from geo.i18n import ngettext, number
from geo.mission import MissionDataset
from geo.schema import PHASE_LABELS, PHASE_WORDING, PROBLEMS


def plural(n: int, one: str, many: str) -> str:
    """The phrase for ``n`` in the current language, with ``{n}`` written as a number ("2,834"; Russian "2 834").
    Whole phrases, never "form" + "s": this is gettext's ``ngettext``, and Russian picks one of three forms.
    (``scripts.i18n`` extracts the two phrases of every ``plural(n, one, many)`` call.)

    >>> plural(1, "{n} voting form", "{n} voting forms"), plural(2834, "{n} team", "{n} teams")
    ('1 voting form', '2,834 teams')
    """
    return ngettext(one, many, n).format(n=number(n))


def forms_count(n: int) -> str:
    """ "1 form", "2,834 forms"."""
    return plural(n, "{n} form", "{n} forms")


# What the statement counts, for one ("1 count observed"); PHASE_WORDING says it for many.
OBSERVED_ONE = {
    "opening": "opening observed",
    "voting": "polling station visit",
    "counting": "count observed",
    "tabulation": "visit to a territorial election commission",
}


# ------------------------------------------------------------------------------------------ the map
def region_hover(metric: MetricTable, row: Any, form_type: str) -> str:
    """The hover line of one region's value, always with the N behind it (HTML; numbers only)."""
    part, whole, n = int(row.part), int(row.whole), int(row.n)
    if metric.key == "problem":
        label = PROBLEMS[metric.problem]
        if not whole:
            return f"No form answered “{label}”"
        return (
            f"{percent(part, whole)} reported {label.lower()} ({interval_text(part, whole)})"
            f"<br>{part} of {plural(whole, '{n} form', '{n} forms')} that answered the question"
        )
    if metric.key == "coverage":
        if not whole:
            return "No registered station matches this selection"
        stations = plural(whole, "{n} station", "{n} stations")
        # One decimal, as the map colours it (dashboard.metrics: coverage is a few per cent)
        return f"{100 * part / whole:.1f} % of registered stations observed<br>{part} of {stations} ({forms_count(n)})"
    if metric.key == "forms":
        return phase_forms(n, form_type)
    if not whole:
        return "No assessed forms for this selection" + (f"<br>({forms_count(n)} without assessment)" if n else "")
    extra = f"<br>({forms_count(n - whole)} without assessment)" if n > whole else ""
    observed = PHASE_WORDING[form_type][1]
    return (
        f"{percent(part, whole)} bad or very bad ({interval_text(part, whole)})<br>{part} of {whole} {observed} with an assessment{extra}"
    )


def region_hovers(metric: MetricTable, form_type: str, private: bool = False) -> list[str]:
    """Each region's hover; ``private`` (aggregates-only accounts): a region marked too few says so, without counts."""
    return [
        too_few_words(metric.legend.min_n or 0) if private and row.too_few else region_hover(metric, row, form_type)
        for row in metric.table.itertuples()
    ]


def too_few_words(min_n: int) -> str:
    """What an aggregates-only account reads where a figure stands on fewer than ``min_n`` forms: no count."""
    return f"Too few forms to show (fewer than {min_n})"


def map_title(mission: MissionDataset, metric: MetricTable, filters: Filters) -> str:
    phase = PHASE_LABELS[filters.form_type]
    if filters.drill:
        return f"{mission.region_names[filters.drill]}: polling stations by worst assessment, {phase.lower()}"
    return {
        "problem": lambda: f"{phase}: share of forms reporting {PROBLEMS[metric.problem or ''].lower()}, by region",
        "coverage": lambda: f"{phase}: coverage, stations observed of stations registered, by region",
        "forms": lambda: f"{phase}: number of forms, by region",
        "negative": lambda: f"{phase}: share of forms assessed bad or very bad, by region",
    }[metric.key]()


def metric_figure(metric: MetricTable, filters: Filters, private: bool = False) -> str:
    """The map's figure over the whole selection, with its N: what a caption under the map says.

    ``private`` (aggregates-only accounts): a figure on fewer than ``min_n`` forms is not given.
    """
    part, whole, n = selected_totals(metric, filters)
    if private and (0 < n < filters.min_n or 0 < whole < filters.min_n):
        return too_few_words(filters.min_n).lower()
    if metric.key == "forms":
        return f"N = {forms_count(n)}"
    if metric.key == "coverage":
        stations = plural(whole, "{n} registered station", "{n} registered stations")
        return f"{part:,} of {stations} observed ({percent(part, whole)}); N = {forms_count(n)}"
    if metric.key == "problem":
        what = f"{part:,} of {plural(whole, '{n} form', '{n} forms')} that answered reported {PROBLEMS[metric.problem].lower()}"
    else:
        what = f"{part:,} bad or very bad of {whole:,} assessed"
    return f"{what} ({percent(part, whole)}; {interval_text(part, whole)}); N = {forms_count(n)}"


def as_of(mission: MissionDataset) -> str | None:
    """The data's time stamp as people read it ("2005-12-05 06:00"), or None.

    A live mission's is its latest form's time; a folder's, the time its import recorded.
    """
    if mission.store_version is not None:
        latest = mission.forms["observed_at"].max()
        return None if pd.isna(latest) else latest.strftime("%Y-%m-%d %H:%M")
    stamp = mission.meta.get("data_as_of")
    return stamp.replace("T", " ") if stamp else None


def live_status(mission: MissionDataset, opened: int | None) -> str:
    """The header's line: "Data as of 2005-12-04 21:14 · 2,611 forms · +38 since you opened" (the last parts when live)."""
    stamp = as_of(mission)
    parts = [f"Data as of {stamp}"] if stamp else []
    if mission.store_version is not None:
        counted = mission.forms[mission.forms["review"] != "rejected"]
        parts.append(forms_count(len(counted)))
        if isinstance(opened, int):
            new = int((counted["first_data_version"] > opened).sum())
            if new:
                parts.append(f"+{new:,} since you opened")
    return " · ".join(parts)


def map_caption(mission: MissionDataset, metric: MetricTable, filters: Filters, private: bool = False) -> str:
    """The sentence under the map: phase, selection, the figure with its N, and the data's time stamp."""
    stamp = as_of(mission)
    figure = metric_figure(metric, filters, private)
    return f"{PHASE_LABELS[filters.form_type]} forms, {filters.describe(mission.region_names)}: {figure}." + (
        f" Data as of {stamp}." if stamp else ""
    )


def picture_caption(mission: MissionDataset, metric: MetricTable, filters: Filters, private: bool = False) -> str:
    """What a picture shows, in one line: phase, selection, N, time stamp, and whether the forms are synthetic."""
    parts = [f"{PHASE_LABELS[filters.form_type]} forms · {filters.describe(mission.region_names)}", metric_figure(metric, filters, private)]
    if stamp := as_of(mission):
        parts.append(f"data as of {stamp}")
    if mission.meta.get("synthetic"):
        parts.append("SYNTHETIC DEMO FORMS")
    return " · ".join(parts)


def picture_heading(mission: MissionDataset) -> str:
    """The line above a picture's title, as the page's header says it: the election, then the organisation."""
    parts = [mission.meta.get("name") or "Election observation mission", mission.meta.get("mission") or ""]
    return " · ".join(p for p in parts if p)


def station_hover(row: Any, worst: str) -> str:
    """A station's hover: id, visits with phases and times, worst assessment, problems reported (HTML, escaped)."""
    visits = plural(int(row.visits), "{n} visit", "{n} visits")
    return (
        f"<b>{escape(str(row.ps_id), quote=False)}</b><br>{visits}: {row.phases} at {row.times or 'time unknown'}"
        f"<br>Worst assessment: {worst}<br>Problems reported: {row.problems or 'none'}"
    )


# ------------------------------------------------------------------------------------ the findings
def statement_for(form_type: str, tally: dict[str, int], filters: Filters, as_fraction: bool = False, private: bool = False) -> str:
    """A phase's statement sentence for the view, or why there is none (tabulation under a station filter;
    for an aggregates-only account, fewer than ``min_n`` assessed forms)."""
    if form_type == "tabulation" and tally["n"] == 0 and (filters.setting or filters.evoting):
        return "Urban/rural and voting-method filters do not apply to territorial commissions; clear them to see tabulation."
    if private and (0 < tally["assessed"] < filters.min_n or 0 < tally["n"] < filters.min_n):
        subject, observed = PHASE_WORDING[form_type]
        return f"{subject}: too few {observed} with an assessment to report a share (fewer than {filters.min_n})."
    # No form, or none assessed, is said of the filters, not of the election ("no openings observed" read as a finding).
    if tally["n"] == 0:
        return f"No {PHASE_LABELS[form_type].lower()} forms match these filters."
    if tally["assessed"] == 0:
        return plural(
            tally["n"],
            f"{{n}} {PHASE_LABELS[form_type].lower()} form matches these filters; it has no overall assessment.",
            f"{{n}} {PHASE_LABELS[form_type].lower()} forms match these filters; none has an overall assessment.",
        )
    if tally["assessed"] == 1:  # statement_sentence says the observed in the plural
        subject = PHASE_WORDING[form_type][0]
        return f"{subject} was assessed as bad or very bad in {tally['negative'] * 100} per cent of 1 {OBSERVED_ONE[form_type]}."
    return statement_sentence(form_type, tally["negative"], tally["assessed"], as_fraction=as_fraction, min_n=filters.min_n)


def n_line(tally: dict[str, int], private_min_n: int | None = None) -> str:
    """ "N = 223 assessed of 230 forms (7 without assessment) · 95 % CI 19–30 %".

    With ``private_min_n`` (aggregates-only accounts) and fewer assessed forms than that: no count.
    """
    if private_min_n is not None and (0 < tally["assessed"] < private_min_n or 0 < tally["n"] < private_min_n):
        return f"N: fewer than {private_min_n} assessed forms"
    unassessed = tally["n"] - tally["assessed"]
    line = f"N = {tally['assessed']:,} assessed of {forms_count(tally['n'])}"
    line += f" ({unassessed:,} without assessment)" if unassessed else ""
    if tally["assessed"]:
        line += f" · {interval_text(tally['negative'], tally['assessed'])}"
    return line


def problems_title(filters: Filters, n: int, private: bool = False) -> str:
    scope = ", all of them" if filters.filters_by_problem else ""
    count = f"fewer than {filters.min_n} forms" if private and 0 < n < filters.min_n else forms_count(n)
    return f"Problems reported in {PHASE_LABELS[filters.form_type].lower()} forms (N = {count}{scope})"


def phase_forms(n: int, form_type: str) -> str:
    """ "1 voting form", "2,834 counting forms"."""
    phase = PHASE_LABELS[form_type].lower()
    return plural(n, f"{{n}} {phase} form", f"{{n}} {phase} forms")


def timeline_title(filters: Filters) -> str:
    return f"{PHASE_LABELS[filters.form_type]}: forms per hour and share bad or very bad"


def region_table_title(filters: Filters) -> str:
    return f"{PHASE_LABELS[filters.form_type]}: bad or very bad by region, with N and 95 % interval (Wilson)"


NOT_A_SAMPLE = (
    "Observed stations are not a random sample (teams lean urban and toward regional centres): "
    "these shares describe what observers saw, not a national estimate."
)
