"""Table frames: the forms behind the figures, the table by region, and the CSV export.

Pure: the mission, the view's forms (a :class:`~dashboard.selection.Selection`) and the filters in,
rows or a DataFrame out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from dashboard.analysis import interval_percent, negative_share_by_region, reported_problems, whole_percent
from dashboard.filters import Filters
from dashboard.selection import Selection
from geo.csvsafe import to_safe_csv
from geo.i18n import NP_, SOURCE, Labels, _, current
from geo.mission import MissionDataset
from geo.schema import FORM_COLUMNS, PROBLEMS

CSV_SLICE = 50_000  # forms per slice of a streamed CSV


# The forms' columns the table shows (dashboard.table_pages takes only these for a page of rows).
TABLE_SOURCE_COLUMNS = (
    "form_id", "form_type", "observed_at", "region_code", "ps_id", "team_id", "observer_org", "urban_rural", "evoting",
    "overall", "review", "conflict", *PROBLEMS, "comments",
)  # fmt: skip


# The grid's coded cells as people read them. English shows the data's own words (they are English), so the labels'
# msgids are the codes; another language shows its words, and the server's column filters and sort match those.
CELL_WORDS = Labels(
    {
        "opening": NP_("table cell", "opening"),
        "voting": NP_("table cell", "voting"),
        "counting": NP_("table cell", "counting"),
        "tabulation": NP_("table cell", "tabulation"),
        "very good": NP_("table cell", "very good"),
        "good": NP_("table cell", "good"),
        "bad": NP_("table cell", "bad"),
        "very bad": NP_("table cell", "very bad"),
        "urban": NP_("table cell", "urban"),
        "rural": NP_("table cell", "rural"),
        "yes": NP_("table cell", "yes"),
        "no": NP_("table cell", "no"),
        "pending": NP_("table cell", "pending"),
        "flagged": NP_("table cell", "flagged"),
        "approved": NP_("table cell", "approved"),
        "rejected": NP_("table cell", "rejected"),
        "conflict": NP_("table cell", "conflict"),
    },
    context="table cell",
)
CELL_FIELDS = ("form_type", "overall", "urban_rural", "evoting", "review")  # the columns whose values CELL_WORDS says


def cell_words(values: pd.Series) -> pd.Series:
    """A coded column's values in the current language (once per distinct value; blanks and unknown values as they are)."""
    if current() == SOURCE:
        return values
    words = {code: CELL_WORDS[code] for code in CELL_WORDS}
    return values.map(lambda v: words.get(v, v) if isinstance(v, str) else v)


def table_rows(mission: MissionDataset, forms: pd.DataFrame) -> list[dict[str, Any]]:
    """Forms (typed, as the mission holds them; a page of them) -> the grid's rows. Comments are plain strings (the
    grid shows text). Only the rows asked for are formatted: dashboard.table_pages picks them."""
    reported = reported_problems(forms).map(", ".join) if len(forms) else pd.Series(dtype="string")
    out = pd.DataFrame(
        {
            "form_id": forms["form_id"],
            "form_type": cell_words(forms["form_type"].astype("string")),
            "observed_at": forms["observed_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "region": forms["region_code"].map(mission.region_names),
            "ps_id": forms["ps_id"],
            "team_id": forms["team_id"],
            "observer_org": forms["observer_org"],
            "urban_rural": cell_words(forms["urban_rural"]),
            "evoting": cell_words(forms["evoting"]),
            "overall": cell_words(forms["overall"].astype("string")),
            "problems": reported,
            "comments": forms["comments"],
            "review": cell_words(forms["review"].astype("string")) if "review" in forms else pd.NA,
            "conflict": forms["conflict"].map({True: CELL_WORDS["conflict"], False: ""}) if "conflict" in forms else "",
        }
    )
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) or v is pd.NA else v) for k, v in row.items()} for row in out.to_dict("records")
    ]


def export_csv(selection: Selection, *, every_phase: bool = False, positions: np.ndarray | None = None) -> Iterator[str]:
    """Exactly the filtered forms, one row per form, in the canonical columns with the resolved region_code, as CSV
    text (cells a spreadsheet could run neutralised), a slice of forms at a time: a million forms stream in the
    memory of one slice.

    ``positions``: the forms the table lists, in its order (:func:`dashboard.table_pages.positions`: its search,
    column filters, sort, "only new"), instead of every form of the view.
    """
    header = True
    if positions is None:
        chunks = selection.row_chunks(every_phase)
    else:
        chunks = (selection.forms.iloc[positions[start : start + CSV_SLICE]] for start in range(0, len(positions), CSV_SLICE))
    for chunk in chunks:
        yield to_safe_csv(export_rows(chunk), header=header)
        header = False
    if header:  # no form: the header alone
        yield to_safe_csv(export_rows(selection.rows(every_phase).iloc[:0]))


def export_rows(forms: pd.DataFrame) -> pd.DataFrame:
    """Forms (typed, as the mission holds them) -> the export's columns, as text."""
    out = forms[list(FORM_COLUMNS)].copy()
    out["observed_at"] = forms["observed_at"].dt.strftime("%Y-%m-%dT%H:%M")
    out["overall"] = forms["overall"].astype("string")
    for col in PROBLEMS:
        out[col] = forms[col].map({True: "yes", False: "no"}).astype("string")
    return out


def region_table(mission: MissionDataset, selection: Selection, filters: Filters, private: bool = False) -> list[dict[str, Any]]:
    """Per region, for the chosen phase: forms, assessed, bad or very bad, share with its Wilson interval, flag.

    Shares behind fewer than ``min_n`` assessed forms are given but flagged "too few"; with ``private``
    (aggregates-only accounts) such a row has no number at all, only "too few".
    """
    codes = list(filters.regions) if filters.regions else list(mission.region_codes)
    names = mission.region_names
    rows = []
    t = negative_share_by_region(selection.phase, codes)
    for code, n, assessed, negative in zip(t.index, t["n"].tolist(), t["assessed"].tolist(), t["negative"].tolist(), strict=True):
        ci = interval_percent(negative, assessed)
        rows.append(
            {
                "region": names.get(code, code),
                "code": code,
                "forms": n,
                "assessed": assessed,
                "negative": negative,
                "share": whole_percent(negative, assessed),
                "ci_low": None if ci is None else ci[0],
                "ci_high": None if ci is None else ci[1],
                "note": _("no assessed form") if not assessed else (_("too few") if assessed < filters.min_n else ""),
            }
        )
        if private and (0 < assessed < filters.min_n or 0 < n < filters.min_n):
            rows[-1].update(forms=None, assessed=None, negative=None, share=None, ci_low=None, ci_high=None, note=_("too few"))
    return rows
