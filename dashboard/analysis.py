"""Pure analysis: forms + filter state in, small tables and numbers out. No I/O, no Dash.

Counting rules, used everywhere:
- one row per form: a station visited twice counts twice;
- an assessment share is negative (bad or very bad) forms / forms with an overall assessment;
- a problem share is "yes" answers / forms that answered the question; a blank is "not answered",
  never "no".
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from dashboard.counting import Counted
from dashboard.filters import DEFAULT_MIN_N, Filters
from geo.i18n import N_, _, ngettext, number
from geo.i18n import percent as percent_text
from geo.schema import FORM_TYPES, PHASE_LABELS, PROBLEMS


def form_masks(forms: pd.DataFrame, filters: Filters) -> dict[str, pd.Series]:
    """One boolean mask per kind of filter, computed in one pass over ``forms``.

    ``base``: regions, urban/rural, e-voting, organisation, team, time, review state (rejected forms
    leave unless ``review="all"``), station conflicts; ``phase``: the phase;
    ``overall``: the assessment; ``problem``: the reported problem (all True when not filtering by
    one). A form whose value is blank does not match a filter on that value.
    """
    everything = pd.Series(True, index=forms.index)
    base = everything.copy()
    if filters.regions:
        base &= forms["region_code"].isin(filters.regions)
    if filters.setting:
        base &= (forms["urban_rural"] == filters.setting).fillna(False)
    if filters.evoting:
        base &= (forms["evoting"] == filters.evoting).fillna(False)
    if filters.orgs:
        base &= forms["observer_org"].isin(filters.orgs).fillna(False)
    if filters.teams:
        base &= forms["team_id"].isin(filters.teams).fillna(False)
    if filters.hours:
        start, end = filters.hours
        base &= ((forms["hour"] >= start) & (forms["hour"] < end)).fillna(False)
    if "review" in forms and filters.review != "all":
        base &= (forms["review"] == "approved") if filters.review == "approved" else (forms["review"] != "rejected")
    if filters.conflict and "conflict" in forms:
        base &= forms["conflict"]
    overall = forms["overall"].isin(filters.overall).fillna(False) if filters.overall else everything
    problem = forms[filters.problem].fillna(False) if filters.filters_by_problem else everything
    return {
        "base": base.astype(bool),
        "phase": (forms["form_type"] == filters.form_type).astype(bool),
        "overall": overall.astype(bool),
        "problem": problem.astype(bool),
    }


def filter_forms(forms: pd.DataFrame, filters: Filters, *, by_phase: bool = True, by_problem: bool = True) -> pd.DataFrame:
    """Forms matching ``filters``; with ``by_phase=False`` every phase, with ``by_problem=False``
    forms whether or not they reported the chosen problem.

    The dashboard asks :func:`dashboard.selection.select`, which caches; this is the plain version.
    """
    masks = form_masks(forms, filters)
    keep = masks["base"] & masks["overall"]
    if by_phase:
        keep &= masks["phase"]
    if by_problem:
        keep &= masks["problem"]
    return forms[keep]


def assessment_tally(forms: pd.DataFrame) -> dict[str, int]:
    """``{"n", "assessed", "negative"}`` for a set of forms (all zero when empty)."""
    neg = forms["negative"]
    return {"n": int(len(forms)), "assessed": int(neg.count()), "negative": int(neg.sum(skipna=True))}


def tally_by_phase(forms: pd.DataFrame | Counted) -> dict[str, dict[str, int]]:
    """Assessment tally for each of the four phases, in statement order, zeros included."""
    t = Counted.of(forms).tally("phase", len(FORM_TYPES))
    return {ft: {k: int(t[k].iloc[i]) for k in ("n", "assessed", "negative")} for i, ft in enumerate(FORM_TYPES)}


def negative_share_by_region(forms: pd.DataFrame | Counted, region_codes: list[str]) -> pd.DataFrame:
    """One row per region code (all of ``region_codes``, in order): n, assessed, negative, share.

    ``share`` is a proportion 0-1 and NaN where no form was assessed. Forms whose region is not in
    ``region_codes`` are ignored.
    """
    c = Counted.of(forms, region_codes)
    regions = c.codes.regions
    out = c.tally("region", len(regions)).set_axis(pd.Index(regions, name="region_code"))
    out = out.reindex(list(region_codes), fill_value=0).astype(int)
    out["share"] = (out["negative"] / out["assessed"].where(out["assessed"] > 0)).astype(float)
    return out


def problem_rates(forms: pd.DataFrame | Counted) -> pd.DataFrame:
    """For each problem question: answered, yes, share (0-1, NaN when nobody answered).

    Rows are in checklist order; questions not on the phase's checklist have ``answered == 0``.
    """
    c = Counted.of(forms)
    rows = []
    for col, label in PROBLEMS.items():
        answered = c.count(c.codes.answered[col])
        yes = c.count(c.codes.yes[col])
        rows.append({"problem": col, "label": label, "answered": answered, "yes": yes, "share": yes / answered if answered else math.nan})
    return pd.DataFrame(rows).set_index("problem")


def whole_percent(part: int, whole: int) -> int | None:
    """``part / whole`` as a whole percentage, halves rounded up, in exact integer arithmetic.

    Every percentage obsmap shows goes through here, so a map hover, a headline and a statement
    sentence never disagree by one (23 of 40 is 58 everywhere). ``None`` when ``whole`` is 0.
    """
    if whole <= 0:
        return None
    return (200 * part + whole) // (2 * whole)


def percent(part: int, whole: int) -> str:
    """``"58 %"`` for 23 of 40 (Russian "58 %" with a no-break space); ``"n/a"`` when nothing was counted.

    >>> percent(23, 40), percent(0, 0)
    ('58 %', 'n/a')
    """
    value = whole_percent(part, whole)
    # TRANSLATORS: a share that cannot be computed (nothing counted): "not applicable"
    return _("n/a") if value is None else percent_text(value)


Z95 = 1.959963984540054  # standard normal quantile for a two-sided 95 % interval


def wilson_interval(part: int, whole: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for ``part / whole``, as proportions 0-1; ``None`` when ``whole`` is 0.

    Unlike the normal approximation it stays inside [0, 1] and is honest for small samples and
    for shares near 0 or 1 (0 of 5 gives 0-43 %, not 0-0 %).
    """
    if whole <= 0:
        return None
    p = part / whole
    denom = 1 + z * z / whole
    centre = (p + z * z / (2 * whole)) / denom
    half = z * math.sqrt(p * (1 - p) / whole + z * z / (4 * whole * whole)) / denom
    # At 0 of n and n of n the bound is exactly 0 or 1; floating point would give 1e-17 or 0.99999...
    low = 0.0 if part == 0 else max(0.0, centre - half)
    high = 1.0 if part == whole else min(1.0, centre + half)
    return low, high


def interval_percent(part: int, whole: int) -> tuple[int, int] | None:
    """The Wilson interval in whole percentages: low rounded down, high up, so the range is never narrower."""
    ci = wilson_interval(part, whole)
    if ci is None:
        return None
    return math.floor(100 * ci[0] + 1e-9), math.ceil(100 * ci[1] - 1e-9)


def interval_text(part: int, whole: int) -> str:
    """``"95 % CI 19–30 %"``; "no interval" when nothing was counted.

    >>> interval_text(57, 224), interval_text(0, 0)
    ('95 % CI 20–32 %', 'no interval')
    """
    ci = interval_percent(part, whole)
    if ci is None:
        return _("no interval")
    # TRANSLATORS: the 95 per cent confidence interval of a share; {high} carries its per-cent sign ("30 %")
    return _("95 % CI {low}–{high}").format(low=number(ci[0]), high=percent_text(ci[1]))


def reported_problems(forms: pd.DataFrame) -> pd.Series:
    """For each form, the labels of the problems it answered "yes" to (a list; empty when none)."""
    yes = forms[list(PROBLEMS)].fillna(False).astype(bool)
    labels = dict(PROBLEMS.items())  # translated once, not per cell
    return yes.apply(lambda row: [labels[p] for p, answered_yes in row.items() if answered_yes], axis=1)


# TRANSLATORS: these fill {fraction} in "... was assessed as bad or very bad in {fraction} counts observed (57 of 224)":
# in Russian the case after «в» (prepositional): «в одном из четырёх».
_FRACTIONS = {
    Fraction(1, 2): N_("one out of two"),
    Fraction(1, 3): N_("one out of three"),
    Fraction(1, 4): N_("one out of four"),
    Fraction(1, 5): N_("one out of five"),
    Fraction(1, 10): N_("one out of ten"),
    Fraction(2, 3): N_("two out of three"),
    Fraction(3, 4): N_("three out of four"),
}


def fraction_phrase(part: int, whole: int, min_n: int = DEFAULT_MIN_N) -> str | None:
    """ "one out of four" when the shown whole percentage is within 1 point of a simple fraction's.

    Only from ``min_n`` forms up (1 of 4 is not "one out of four counts"); compared in exact
    arithmetic, so 25 % and 24 % qualify for a quarter and 27 % does not.
    """
    if whole < max(min_n, 1):
        return None
    shown = whole_percent(part, whole)
    for fraction, words in _FRACTIONS.items():
        if abs(Fraction(shown) - 100 * fraction) <= 1:
            return _(words)
    return None


def statement_sentence(form_type: str, negative: int, assessed: int, *, as_fraction: bool = False, min_n: int = DEFAULT_MIN_N) -> str:
    """The phase's finding in the register of a preliminary statement.

    >>> statement_sentence("counting", 57, 224)
    'The count was assessed as bad or very bad in 25 per cent of 224 counts observed.'
    >>> statement_sentence("counting", 57, 224, as_fraction=True)
    'The count was assessed as bad or very bad in one out of four counts observed (57 of 224).'

    With ``as_fraction``, a share whose whole percentage is within a point of a simple fraction is
    said as one ("one out of four"); otherwise the per-cent sentence is used. The denominator is
    always stated.
    """
    if assessed == 0:
        return _none_assessed(form_type)
    phrase = fraction_phrase(negative, assessed, min_n) if as_fraction else None
    if phrase:
        return _fraction_sentence(form_type).format(fraction=phrase, part=number(negative), whole=number(assessed))
    return _percent_sentence(form_type, assessed).format(percent=per_cent(whole_percent(negative, assessed)), n=number(assessed))


def per_cent(value: int) -> str:
    """A whole percentage as a statement writes it: "25 per cent"; Russian, after «в»: "25 процентах", "21 проценте".

    >>> per_cent(25), per_cent(1)
    ('25 per cent', '1 per cent')
    """
    # TRANSLATORS: fills {percent} in "... assessed as bad or very bad in {percent} of 224 counts observed":
    # Russian, prepositional after «в»: «в 1 проценте», «в 2 процентах», «в 25 процентах».
    return ngettext("{pct} per cent", "{pct} per cent", value).format(pct=number(value))


# One whole sentence per phase (Russian agrees the verb with the subject and declines the observed by their number).
def _percent_sentence(form_type: str, n: int) -> str:
    """The sentence with ``{percent}`` (:func:`per_cent`) and ``{n}``, in the form for ``n`` observed."""
    if form_type == "opening":
        return ngettext(
            "The opening was assessed as bad or very bad in {percent} of {n} opening observed.",
            "The opening was assessed as bad or very bad in {percent} of {n} openings observed.",
            n,
        )
    if form_type == "voting":
        return ngettext(
            "Voting was assessed as bad or very bad in {percent} of {n} polling station visit.",
            "Voting was assessed as bad or very bad in {percent} of {n} polling station visits.",
            n,
        )
    if form_type == "counting":
        return ngettext(
            "The count was assessed as bad or very bad in {percent} of {n} count observed.",
            "The count was assessed as bad or very bad in {percent} of {n} counts observed.",
            n,
        )
    if form_type == "tabulation":
        return ngettext(
            "Tabulation was assessed as bad or very bad in {percent} of {n} visit to a territorial election commission.",
            "Tabulation was assessed as bad or very bad in {percent} of {n} visits to territorial election commissions.",
            n,
        )
    raise KeyError(form_type)


def _fraction_sentence(form_type: str) -> str:
    """The sentence with ``{fraction}`` ("one out of four"), ``{part}`` and ``{whole}``."""
    return {
        "opening": lambda: _("The opening was assessed as bad or very bad in {fraction} openings observed ({part} of {whole})."),
        "voting": lambda: _("Voting was assessed as bad or very bad in {fraction} polling station visits ({part} of {whole})."),
        "counting": lambda: _("The count was assessed as bad or very bad in {fraction} counts observed ({part} of {whole})."),
        "tabulation": lambda: _(
            "Tabulation was assessed as bad or very bad in {fraction} visits to territorial election commissions ({part} of {whole})."
        ),
    }[form_type]()


def _none_assessed(form_type: str) -> str:
    return {
        "opening": lambda: _("The opening: no openings observed with an overall assessment."),
        "voting": lambda: _("Voting: no polling station visits with an overall assessment."),
        "counting": lambda: _("The count: no counts observed with an overall assessment."),
        "tabulation": lambda: _("Tabulation: no visits to territorial election commissions with an overall assessment."),
    }[form_type]()


def problem_share_by_region(forms: pd.DataFrame | Counted, problem: str, region_codes: list[str]) -> pd.DataFrame:
    """Per region: ``part`` forms reporting ``problem`` of ``whole`` forms that answered it, ``n`` forms."""
    c = Counted.of(forms, region_codes)
    out = c.by_region(region_codes, whole=c.codes.answered[problem], part=c.codes.yes[problem])
    return out[["n", "whole", "part"]]


def coverage_by_region(forms: pd.DataFrame | Counted, stations: pd.DataFrame, region_codes: list[str]) -> pd.DataFrame:
    """Per region: ``part`` registry stations with at least one form of ``whole`` registry stations.

    Forms at a ps_id that is not in the registry (a commission, a typo) do not count as coverage.
    """
    c = Counted.of(forms, region_codes)
    registry = stations[stations["region_code"].notna()]
    observed = registry["ps_id"].isin(c.stations_seen())
    counts = pd.DataFrame(
        {
            "whole": registry.groupby("region_code").size(),
            "part": observed.groupby(registry["region_code"]).sum(),
        }
    )
    out = counts.reindex(region_codes).fillna(0).astype(int)
    out.insert(0, "n", c.by_region(region_codes)["n"])
    out.index.name = "region_code"
    return out


def filter_stations(stations: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """Registry stations matching the filters that describe stations (regions, urban/rural, e-voting)."""
    keep = pd.Series(True, index=stations.index)
    if filters.regions:
        keep &= stations["region_code"].isin(filters.regions)
    if filters.setting:
        keep &= (stations["urban_rural"] == filters.setting).fillna(False)
    if filters.evoting:
        keep &= (stations["evoting"] == filters.evoting).fillna(False)
    return stations[keep.astype(bool)]


def station_visits(forms: pd.DataFrame) -> pd.DataFrame:
    """One row per observed station (ps_id): visits, worst assessment, phases, times, problems reported.

    ``worst`` is the worst overall assessment among its forms (``<NA>`` when none was assessed);
    ``phases`` and ``problems`` name each once, in the order the forms give them; ``times`` are the forms'
    times (HH:MM) in order; ``latitude``/``longitude`` are the mean of the forms' coordinates. Counted by
    column, not per station (a drill-down into a region of 20,000 forms took 1.3 s station by station).
    """
    located = forms[forms["ps_id"].notna()]
    if located.empty:
        return pd.DataFrame(columns=["ps_id", "visits", "worst", "phases", "times", "problems", "latitude", "longitude", "region_code"])
    ps = located["ps_id"].to_numpy(dtype=object)
    g = located.groupby("ps_id", sort=True)
    out = pd.DataFrame(
        {
            "visits": g.size(),
            "worst": g["overall"].max(),
            "latitude": g["latitude"].mean(),
            "longitude": g["longitude"].mean(),
            "region_code": g["region_code"].first(),
        }
    )

    def joined(items: pd.DataFrame) -> pd.Series:
        """``items`` (ps_id, text), in order -> per station, its texts joined by commas ("" for none)."""
        items = items.sort_values("ps_id", kind="stable")
        keys, starts = np.unique(items["ps_id"].to_numpy(dtype=object), return_index=True)
        texts = items["text"].tolist()
        ends = [*starts[1:], len(texts)][: len(starts)]
        return pd.Series([", ".join(texts[a:b]) for a, b in zip(starts, ends, strict=True)], index=keys, dtype=object).reindex(
            out.index, fill_value=""
        )

    # The phases as people read them ("voting", Russian "голосование"); the codes are English data.
    phase_words = {ft: PHASE_LABELS[ft].lower() for ft in FORM_TYPES}
    phase_text = [phase_words.get(ft, ft) for ft in located["form_type"].astype(str)]
    phases = pd.DataFrame({"ps_id": ps, "text": np.array(phase_text, dtype=object)}).drop_duplicates()
    timed = located[located["observed_at"].notna()].sort_values("observed_at", kind="stable")
    times = pd.DataFrame(
        {"ps_id": timed["ps_id"].to_numpy(dtype=object), "text": timed["observed_at"].dt.strftime("%H:%M").to_numpy(dtype=object)}
    )
    said = []  # (form's position, question's position, station, label) of every "yes"
    for j, (col, label) in enumerate(PROBLEMS.items()):
        rows = np.flatnonzero(located[col].fillna(False).to_numpy(dtype=bool))
        said.append(pd.DataFrame({"form": rows, "question": j, "ps_id": ps[rows], "text": label}))
    problems = pd.concat(said).sort_values(["form", "question"]).drop_duplicates(["ps_id", "text"])
    out["phases"], out["times"], out["problems"] = joined(phases), joined(times), joined(problems)
    columns = ["visits", "worst", "phases", "times", "problems", "latitude", "longitude", "region_code"]
    return out[columns].rename_axis("ps_id").reset_index()


def tally_by_hour(forms: pd.DataFrame | Counted) -> pd.DataFrame:
    """Per whole hour since election-day midnight: n, assessed, negative. Forms without a time are left out;
    only hours with a form are listed."""
    c = Counted.of(forms)
    out = c.tally("hour", len(c.codes.hours)).set_axis(pd.Index(c.codes.hours, name="hour"))
    return out[out["n"] > 0].astype(int)
