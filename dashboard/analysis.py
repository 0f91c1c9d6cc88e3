"""Pure analysis: forms + filter state in, small tables and numbers out. No I/O, no Dash.

Counting rules, used everywhere:
- one row per form: a station visited twice counts twice;
- an assessment share is negative (bad or very bad) forms / forms with an overall assessment;
- a problem share is "yes" answers / forms that answered the question; a blank is "not answered",
  never "no".
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from geo.schema import FORM_TYPES, PHASE_WORDING, PROBLEMS

SETTINGS = ("urban", "rural")
EVOTING = ("yes", "no")


@dataclass(frozen=True)
class Filters:
    """What the user chose. Empty ``regions`` means all regions; ``None`` means no restriction."""

    form_type: str = "counting"
    regions: tuple[str, ...] = field(default_factory=tuple)
    setting: str | None = None  # "urban" | "rural"
    evoting: str | None = None  # "yes" (electronic) | "no" (paper)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, known_regions: set[str] | None = None) -> Filters:
        """Build from JSON-like input, dropping values that are not allowed (never raising)."""
        data = data or {}
        form_type = data.get("form_type") if data.get("form_type") in FORM_TYPES else "counting"
        regions = tuple(r for r in (data.get("regions") or []) if isinstance(r, str) and (known_regions is None or r in known_regions))
        setting = data.get("setting") if data.get("setting") in SETTINGS else None
        evoting = data.get("evoting") if data.get("evoting") in EVOTING else None
        return cls(form_type=form_type, regions=regions, setting=setting, evoting=evoting)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regions"] = list(self.regions)
        return d

    def describe(self, region_names: dict[str, str] | None = None) -> str:
        """The non-phase filters in words, e.g. "Karaganda, Pavlodar · urban · electronic voting"."""
        parts = []
        if self.regions:
            names = region_names or {}
            parts.append(", ".join(names.get(r, r) for r in self.regions))
        if self.setting:
            parts.append(f"{self.setting} stations")
        if self.evoting:
            parts.append("electronic voting" if self.evoting == "yes" else "paper ballots")
        return " · ".join(parts) if parts else "all regions, all stations"


def filter_forms(forms: pd.DataFrame, filters: Filters, *, by_phase: bool = True) -> pd.DataFrame:
    """Forms matching ``filters``; with ``by_phase=False`` every phase is kept.

    A form whose urban/rural or e-voting value is blank does not match a filter on that value.
    """
    keep = pd.Series(True, index=forms.index)
    if by_phase:
        keep &= forms["form_type"] == filters.form_type
    if filters.regions:
        keep &= forms["region_code"].isin(filters.regions)
    if filters.setting:
        keep &= (forms["urban_rural"] == filters.setting).fillna(False)
    if filters.evoting:
        keep &= (forms["evoting"] == filters.evoting).fillna(False)
    return forms[keep.astype(bool)]


def assessment_tally(forms: pd.DataFrame) -> dict[str, int]:
    """``{"n", "assessed", "negative"}`` for a set of forms (all zero when empty)."""
    neg = forms["negative"]
    return {"n": int(len(forms)), "assessed": int(neg.count()), "negative": int(neg.sum(skipna=True))}


def tally_by_phase(forms: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Assessment tally for each of the four phases, in statement order, zeros included."""
    return {ft: assessment_tally(forms[forms["form_type"] == ft]) for ft in FORM_TYPES}


def negative_share_by_region(forms: pd.DataFrame, region_codes: list[str]) -> pd.DataFrame:
    """One row per region code (all of ``region_codes``, in order): n, assessed, negative, share.

    ``share`` is a proportion 0-1 and NaN where no form was assessed. Forms whose region is not in
    ``region_codes`` are ignored.
    """
    counts = pd.DataFrame(
        {
            "n": forms.groupby("region_code").size(),
            "assessed": forms.groupby("region_code")["negative"].count(),
            "negative": forms.groupby("region_code")["negative"].sum(),
        }
    )
    out = counts.reindex(region_codes).fillna(0).astype(int)
    out.index.name = "region_code"
    out["share"] = (out["negative"] / out["assessed"].where(out["assessed"] > 0)).astype(float)
    return out


def problem_rates(forms: pd.DataFrame) -> pd.DataFrame:
    """For each problem question: answered, yes, share (0-1, NaN when nobody answered).

    Rows are in checklist order; questions not on the phase's checklist have ``answered == 0``.
    """
    rows = []
    for col, label in PROBLEMS.items():
        answers = forms[col]
        answered = int(answers.count())
        yes = int(answers.sum(skipna=True))
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
    """``"58 %"`` for 23 of 40; ``"n/a"`` when nothing was counted."""
    value = whole_percent(part, whole)
    return "n/a" if value is None else f"{value} %"


def statement_sentence(form_type: str, negative: int, assessed: int) -> str:
    """The phase's finding in the register of a preliminary statement.

    >>> statement_sentence("counting", 57, 224)
    'The count was assessed as bad or very bad in 25 per cent of 224 counts observed.'
    """
    subject, observed = PHASE_WORDING[form_type]
    if assessed == 0:
        return f"{subject}: no {observed} with an overall assessment."
    pct = whole_percent(negative, assessed)
    return f"{subject} was assessed as bad or very bad in {pct} per cent of {assessed:,} {observed}."
