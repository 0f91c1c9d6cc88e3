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
from geo.i18n import N_, SOURCE, _, current, datetime_text, ngettext, npgettext, number
from geo.i18n import percent as percent_text
from geo.mission import MissionDataset
from geo.schema import LEVEL_LABELS, PHASE_LABELS, PROBLEMS


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


# ------------------------------------------------------------------------------------------ the phases' words
# Whole phrases per phase: Russian declines the phase after "forms" («анкеты голосования»), so "{phase} forms" is not one
# phrase with the phase's label in it.
def phase_forms_label(form_type: str) -> str:
    """ "Voting forms" (a caption's subject; Russian «Анкеты голосования»)."""
    return {
        "opening": lambda: _("Opening forms"),
        "voting": lambda: _("Voting forms"),
        "counting": lambda: _("Counting forms"),
        "tabulation": lambda: _("Tabulation forms"),
    }[form_type]()


def phase_forms(n: int, form_type: str) -> str:
    """ "1 voting form", "2,834 counting forms".

    >>> phase_forms(1, "voting"), phase_forms(2834, "counting")
    ('1 voting form', '2,834 counting forms')
    """
    if form_type == "opening":
        return plural(n, "{n} opening form", "{n} opening forms")
    if form_type == "voting":
        return plural(n, "{n} voting form", "{n} voting forms")
    if form_type == "counting":
        return plural(n, "{n} counting form", "{n} counting forms")
    return plural(n, "{n} tabulation form", "{n} tabulation forms")


def fewer_phase_forms(n: int, form_type: str) -> str:
    """ "Fewer than 10 voting forms" (the count of an aggregates-only view below ``min_n``)."""
    if form_type == "opening":
        return plural(n, "Fewer than {n} opening forms", "Fewer than {n} opening forms")
    if form_type == "voting":
        return plural(n, "Fewer than {n} voting forms", "Fewer than {n} voting forms")
    if form_type == "counting":
        return plural(n, "Fewer than {n} counting forms", "Fewer than {n} counting forms")
    return plural(n, "Fewer than {n} tabulation forms", "Fewer than {n} tabulation forms")


def without_assessment(n: int) -> str:
    """ "(7 forms without assessment)"."""
    return plural(n, "({n} form without assessment)", "({n} forms without assessment)")


def _observed_with_assessment(form_type: str, part: int, whole: int) -> str:
    """ "57 of 224 counts observed with an assessment" (the observed declined by ``whole``)."""
    if form_type == "opening":
        said = ngettext("{part} of {n} opening observed with an assessment", "{part} of {n} openings observed with an assessment", whole)
    elif form_type == "voting":
        said = ngettext(
            "{part} of {n} polling station visit with an assessment", "{part} of {n} polling station visits with an assessment", whole
        )
    elif form_type == "counting":
        said = ngettext("{part} of {n} count observed with an assessment", "{part} of {n} counts observed with an assessment", whole)
    else:
        said = ngettext(
            "{part} of {n} visit to a territorial election commission with an assessment",
            "{part} of {n} visits to territorial election commissions with an assessment",
            whole,
        )
    return said.format(part=number(part), n=number(whole))


# ------------------------------------------------------------------------------------------ the map
def region_hover(metric: MetricTable, row: Any, form_type: str) -> str:
    """The hover line of one region's value, always with the N behind it (HTML; numbers only)."""
    part, whole, n = int(row.part), int(row.whole), int(row.n)
    if metric.key == "problem":
        label = PROBLEMS[metric.problem]
        if not whole:
            return _("No form answered “{problem}”").format(problem=label)
        first = _("{percent} reported {problem} ({interval})").format(
            percent=percent(part, whole), problem=label.lower(), interval=interval_text(part, whole)
        )
        second = ngettext("{part} of {n} form that answered the question", "{part} of {n} forms that answered the question", whole)
        return f"{first}<br>{second.format(part=number(part), n=number(whole))}"
    if metric.key == "coverage":
        if not whole:
            return _("No registered station matches this selection")
        # One decimal, as the map colours it (dashboard.metrics: coverage is a few per cent)
        first = _("{percent} of registered stations observed").format(percent=percent_text(100 * part / whole, 1))
        second = ngettext("{part} of {n} station ({forms})", "{part} of {n} stations ({forms})", whole)
        return f"{first}<br>{second.format(part=number(part), n=number(whole), forms=forms_count(n))}"
    if metric.key == "forms":
        return phase_forms(n, form_type)
    if not whole:
        return _("No assessed forms for this selection") + (f"<br>{without_assessment(n)}" if n else "")
    extra = f"<br>{without_assessment(n - whole)}" if n > whole else ""
    first = _("{percent} bad or very bad ({interval})").format(percent=percent(part, whole), interval=interval_text(part, whole))
    return f"{first}<br>{_observed_with_assessment(form_type, part, whole)}{extra}"


def region_hovers(metric: MetricTable, form_type: str, private: bool = False) -> list[str]:
    """Each region's hover; ``private`` (aggregates-only accounts): a region marked too few says so, without counts."""
    return [
        too_few_words(metric.legend.min_n or 0) if private and row.too_few else region_hover(metric, row, form_type)
        for row in metric.table.itertuples()
    ]


def too_few_words(min_n: int) -> str:
    """What an aggregates-only account reads where a figure stands on fewer than ``min_n`` forms: no count."""
    return _("Too few forms to show (fewer than {min_n})").format(min_n=number(min_n))


def map_title(mission: MissionDataset, metric: MetricTable, filters: Filters) -> str:
    phase = PHASE_LABELS[filters.form_type]
    if filters.drill:
        return _("{region}: polling stations by worst assessment, {phase}").format(
            region=mission.region_names[filters.drill], phase=phase.lower()
        )
    return {
        "problem": lambda: _("{phase}: share of forms reporting {problem}, by region").format(
            phase=phase, problem=PROBLEMS[metric.problem or ""].lower()
        ),
        "coverage": lambda: _("{phase}: coverage, stations observed of stations registered, by region").format(phase=phase),
        "forms": lambda: _("{phase}: number of forms, by region").format(phase=phase),
        "negative": lambda: _("{phase}: share of forms assessed bad or very bad, by region").format(phase=phase),
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
        said = ngettext(
            "{part} of {n} registered station observed ({percent}); N = {forms}",
            "{part} of {n} registered stations observed ({percent}); N = {forms}",
            whole,
        )
        return said.format(part=number(part), n=number(whole), percent=percent(part, whole), forms=forms_count(n))
    if metric.key == "problem":
        said = ngettext(
            "{part} of {n} form that answered reported {problem}", "{part} of {n} forms that answered reported {problem}", whole
        )
        what = said.format(part=number(part), n=number(whole), problem=PROBLEMS[metric.problem].lower())
    else:
        what = ngettext("{part} bad or very bad of {n} assessed", "{part} bad or very bad of {n} assessed", whole).format(
            part=number(part), n=number(whole)
        )
    return f"{what} ({percent(part, whole)}; {interval_text(part, whole)}); N = {forms_count(n)}"


def stamp_text(value: Any) -> str:
    """A time stamp as people read it: "2005-12-05 06:00" (English, as obsmap always wrote it); in other languages
    the language's own date and time ("5 дек. 2005 г., 06:00")."""
    stamp = pd.Timestamp(value)
    if current() == SOURCE:
        return stamp.strftime("%Y-%m-%d %H:%M")
    return datetime_text(stamp.to_pydatetime())


def as_of(mission: MissionDataset) -> str | None:
    """The data's time stamp as people read it ("2005-12-05 06:00"), or None.

    A live mission's is its latest form's time; a folder's, the time its import recorded.
    """
    if mission.store_version is not None:
        latest = mission.forms["observed_at"].max()
        return None if pd.isna(latest) else stamp_text(latest)
    stamp = mission.meta.get("data_as_of")
    if not stamp:
        return None
    if current() != SOURCE:
        try:
            return stamp_text(stamp)
        except (ValueError, TypeError):
            pass
    return stamp.replace("T", " ")


def live_status(mission: MissionDataset, opened: int | None) -> str:
    """The header's line: "Data as of 2005-12-04 21:14 · 2,611 forms · +38 since you opened" (the last parts when live)."""
    stamp = as_of(mission)
    parts = [_("Data as of {stamp}").format(stamp=stamp)] if stamp else []
    if mission.store_version is not None:
        counted = mission.forms[mission.forms["review"] != "rejected"]
        parts.append(forms_count(len(counted)))
        if isinstance(opened, int):
            new = int((counted["first_data_version"] > opened).sum())
            if new:
                parts.append(plural(new, "+{n} since you opened", "+{n} since you opened"))
    return " · ".join(parts)


def map_caption(mission: MissionDataset, metric: MetricTable, filters: Filters, private: bool = False) -> str:
    """The sentence under the map: phase, selection, the figure with its N, and the data's time stamp."""
    stamp = as_of(mission)
    figure = metric_figure(metric, filters, private)
    said = _("{forms}, {selection}: {figure}.").format(
        forms=phase_forms_label(filters.form_type), selection=filters.describe(mission.region_names), figure=figure
    )
    return said + (" " + _("Data as of {stamp}.").format(stamp=stamp) if stamp else "")


def picture_caption(mission: MissionDataset, metric: MetricTable, filters: Filters, private: bool = False) -> str:
    """What a picture shows, in one line: phase, selection, N, time stamp, and whether the forms are synthetic."""
    parts = [
        f"{phase_forms_label(filters.form_type)} · {filters.describe(mission.region_names)}",
        metric_figure(metric, filters, private),
    ]
    if stamp := as_of(mission):
        parts.append(_("data as of {stamp}").format(stamp=stamp))
    if mission.meta.get("synthetic"):
        parts.append(_("SYNTHETIC DEMO FORMS"))
    return " · ".join(parts)


def picture_heading(mission: MissionDataset) -> str:
    """The line above a picture's title, as the page's header says it: the election, then the organisation."""
    parts = [mission.text("name") or _("Election observation mission"), mission.text("mission") or ""]
    return " · ".join(p for p in parts if p)


def station_hover(row: Any, worst: str) -> str:
    """A station's hover: id, visits with phases and times, worst assessment, problems reported (HTML, escaped)."""
    n = int(row.visits)
    visits = npgettext("station hover", "{n} visit", "{n} visits", n).format(n=number(n))
    level = LEVEL_LABELS.get(worst, worst)
    when = _("{visits}: {phases} at {times}").format(visits=visits, phases=row.phases, times=row.times or _("time unknown"))
    worst_said = _("Worst assessment: {level}").format(level=level)
    problems_said = _("Problems reported: {problems}").format(problems=row.problems or _("none"))
    return f"<b>{escape(str(row.ps_id), quote=False)}</b><br>{when}<br>{worst_said}<br>{problems_said}"


# ------------------------------------------------------------------------------------ the findings
def _too_few_to_report(form_type: str, min_n: int) -> str:
    if form_type == "opening":
        said = _("The opening: too few openings observed with an assessment to report a share (fewer than {min_n}).")
    elif form_type == "voting":
        said = _("Voting: too few polling station visits with an assessment to report a share (fewer than {min_n}).")
    elif form_type == "counting":
        said = _("The count: too few counts observed with an assessment to report a share (fewer than {min_n}).")
    else:
        said = _(
            "Tabulation: too few visits to territorial election commissions with an assessment to report a share (fewer than {min_n})."
        )
    return said.format(min_n=number(min_n))


def no_phase_forms(form_type: str) -> str:
    """ "No voting forms match these filters." """
    return {
        "opening": lambda: _("No opening forms match these filters."),
        "voting": lambda: _("No voting forms match these filters."),
        "counting": lambda: _("No counting forms match these filters."),
        "tabulation": lambda: _("No tabulation forms match these filters."),
    }[form_type]()


def _none_assessed(form_type: str, n: int) -> str:
    if form_type == "opening":
        return plural(
            n,
            "{n} opening form matches these filters; it has no overall assessment.",
            "{n} opening forms match these filters; none has an overall assessment.",
        )
    if form_type == "voting":
        return plural(
            n,
            "{n} voting form matches these filters; it has no overall assessment.",
            "{n} voting forms match these filters; none has an overall assessment.",
        )
    if form_type == "counting":
        return plural(
            n,
            "{n} counting form matches these filters; it has no overall assessment.",
            "{n} counting forms match these filters; none has an overall assessment.",
        )
    return plural(
        n,
        "{n} tabulation form matches these filters; it has no overall assessment.",
        "{n} tabulation forms match these filters; none has an overall assessment.",
    )


def statement_for(form_type: str, tally: dict[str, int], filters: Filters, as_fraction: bool = False, private: bool = False) -> str:
    """A phase's statement sentence for the view, or why there is none (tabulation under a station filter;
    for an aggregates-only account, fewer than ``min_n`` assessed forms)."""
    if form_type == "tabulation" and tally["n"] == 0 and (filters.setting or filters.evoting):
        return _("Urban/rural and voting-method filters do not apply to territorial commissions; clear them to see tabulation.")
    if private and (0 < tally["assessed"] < filters.min_n or 0 < tally["n"] < filters.min_n):
        return _too_few_to_report(form_type, filters.min_n)
    # No form, or none assessed, is said of the filters, not of the election ("no openings observed" read as a finding).
    if tally["n"] == 0:
        return no_phase_forms(form_type)
    if tally["assessed"] == 0:
        return _none_assessed(form_type, tally["n"])
    # One assessed: statement_sentence says "of 1 count observed" in the singular.
    return statement_sentence(form_type, tally["negative"], tally["assessed"], as_fraction=as_fraction, min_n=filters.min_n)


def n_line(tally: dict[str, int], private_min_n: int | None = None) -> str:
    """ "N = 223 assessed of 230 forms (7 without assessment) · 95 % CI 19–30 %".

    With ``private_min_n`` (aggregates-only accounts) and fewer assessed forms than that: no count.

    >>> n_line({"n": 230, "assessed": 223, "negative": 52})
    'N = 223 assessed of 230 forms (7 without assessment) · 95 % CI 18–30 %'
    """
    if private_min_n is not None and (0 < tally["assessed"] < private_min_n or 0 < tally["n"] < private_min_n):
        return plural(private_min_n, "N: fewer than {n} assessed forms", "N: fewer than {n} assessed forms")
    unassessed = tally["n"] - tally["assessed"]
    line = ngettext("N = {assessed} assessed of {n} form", "N = {assessed} assessed of {n} forms", tally["n"]).format(
        assessed=number(tally["assessed"]), n=number(tally["n"])
    )
    line += " " + plural(unassessed, "({n} without assessment)", "({n} without assessment)") if unassessed else ""
    if tally["assessed"]:
        line += f" · {interval_text(tally['negative'], tally['assessed'])}"
    return line


def problems_title(filters: Filters, n: int, private: bool = False) -> str:
    # TRANSLATORS: fills {scope} in "Problems reported in voting forms (N = 230 forms{scope})" when filtering by a problem
    scope = _(", all of them") if filters.filters_by_problem else ""
    count = plural(filters.min_n, "fewer than {n} forms", "fewer than {n} forms") if private and 0 < n < filters.min_n else forms_count(n)
    said = {
        "opening": lambda: _("Problems reported in opening forms (N = {count}{scope})"),
        "voting": lambda: _("Problems reported in voting forms (N = {count}{scope})"),
        "counting": lambda: _("Problems reported in counting forms (N = {count}{scope})"),
        "tabulation": lambda: _("Problems reported in tabulation forms (N = {count}{scope})"),
    }[filters.form_type]()
    return said.format(count=count, scope=scope)


def timeline_title(filters: Filters) -> str:
    return _("{phase}: forms per hour and share bad or very bad").format(phase=PHASE_LABELS[filters.form_type])


def region_table_title(filters: Filters) -> str:
    return _("{phase}: bad or very bad by region, with N and 95 % interval (Wilson)").format(phase=PHASE_LABELS[filters.form_type])


# Shown with _(NOT_A_SAMPLE): a module constant stays English until it is read.
NOT_A_SAMPLE = N_(
    "Observed stations are not a random sample (teams lean urban and toward regional centres): "
    "these shares describe what observers saw, not a national estimate."
)
