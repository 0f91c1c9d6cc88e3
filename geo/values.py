"""Value variants the import accepts for the canonical columns (the import contract; README.md, "The form columns").

Each table maps a normalised spelling (lower case, trimmed, ``_``/``-`` read as spaces) to the
canonical value. Anything else is not guessed: the row is set aside with its reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pandas as pd

FORM_TYPE_VALUES = {
    "opening": "opening",
    "open": "opening",
    "открытие": "opening",
    "voting": "voting",
    "vote": "voting",
    "polling": "voting",
    "голосование": "voting",
    "counting": "counting",
    "count": "counting",
    "closing and counting": "counting",
    "closing and count": "counting",
    "подсчет": "counting",
    "подсчёт": "counting",
    "подсчет голосов": "counting",
    "подсчёт голосов": "counting",
    "tabulation": "tabulation",
    "табулирование": "tabulation",
    "табуляция": "tabulation",
}

OVERALL_VALUES = {
    "very good": "very good",
    "good": "good",
    "bad": "bad",
    "very bad": "very bad",
    "1": "very good",
    "2": "good",
    "3": "bad",
    "4": "very bad",
    "очень хорошо": "very good",
    "хорошо": "good",
    "плохо": "bad",
    "очень плохо": "very bad",
}

YES_NO_VALUES = {
    "yes": "yes",
    "y": "yes",
    "1": "yes",
    "true": "yes",
    "да": "yes",
    "no": "no",
    "n": "no",
    "0": "no",
    "false": "no",
    "нет": "no",
}

URBAN_RURAL_VALUES = {"urban": "urban", "rural": "rural", "u": "urban", "r": "rural", "город": "urban", "село": "rural"}

ORGANISATION_VALUES = {"odihr": "ODIHR", "osce pa": "OSCE PA", "oscepa": "OSCE PA", "pace": "PACE", "ep": "EP", "other": "other"}


def normalise_token(value: str) -> str:
    """Lower case, trimmed, ``_``/``-`` as spaces, single spaces, "1.0" as "1"."""
    text = re.sub(r"[\s_\-]+", " ", str(value).strip().lower())
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


def fold(text: str) -> str:
    """Case- and accent-insensitive key: "Qyzylorda" == "qyzylórda"."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold().strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def map_distinct(values: pd.Series, fn: Callable[[str], str | None]) -> pd.Series:
    """``fn`` of each cell (``<NA>`` stays ``<NA>``, as does a cell ``fn`` maps to None), called once per distinct value."""
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    mapped = pd.array([fn(u) for u in uniques], dtype="string")
    return pd.Series(mapped.take(codes, allow_fill=True), index=values.index, dtype="string")


def map_values(raw: pd.Series, table: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map raw strings through ``table``.

    Returns ``(values, invalid)``: canonical values (``<NA>`` for blanks and for unknown values) and
    a boolean mask of the non-blank values that are not in the table.
    """
    text = raw.astype("string")
    blank = raw.isna() | (text.str.strip() == "")
    # Each distinct value is normalised once (a million forms hold a handful of spellings of "yes").
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    canonical = pd.array([table.get(normalise_token(u)) for u in uniques], dtype="string")
    values = pd.Series(canonical.take(codes, allow_fill=True), index=raw.index, dtype="string")
    invalid = ~blank & values.isna()
    return values.where(~blank), invalid.astype(bool)
