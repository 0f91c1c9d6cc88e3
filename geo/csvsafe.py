"""CSV cells that cannot attack their reader (OWASP "CSV injection", also called formula injection).

A spreadsheet program opening a CSV reads a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and,
in some, a tab or a carriage return before one of those) as a formula: ``=HYPERLINK(...)`` becomes a
link, ``=cmd|' /C calc'!A0`` asks to run a program. Comments, team ids, organisation names and form
ids come from observers' forms and APIs, so every CSV obsmap writes goes through :func:`to_safe_csv`.

Such a cell is written with a leading apostrophe, as OWASP recommends: a spreadsheet shows it as
text and a person still reads the original after the apostrophe. A plain number (``-12.5``, ``+3``)
is left alone: a spreadsheet reads it as a number, never a formula. A cell that already begins with an
apostrophe gets one more, so :func:`restore` gives back exactly what was written: obsmap reads its own
files (a mission folder's ``forms.csv``, ``stations.csv``, ``teams.csv``) through :func:`restore_frame`,
and a comment like ``=HYPERLINK("http://x","y")`` round-trips unchanged. Files a user brings (forms
exports, registries) are the user's values and are never restored.
"""

from __future__ import annotations

import re
from typing import IO, Any

import pandas as pd

# What a spreadsheet may read as the start of a formula (OWASP), plus the apostrophe itself (for restore).
DANGEROUS_START = frozenset("=+-@\t\r")
_ESCAPED_START = DANGEROUS_START | {"'"}
_ANY_START = _ESCAPED_START  # a cell neutralise or restore can change begins with one of these
# A plain number: optional sign, digits, optional decimal part (ASCII digits only). "-2+3" is not one.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def neutralise(value: str) -> str:
    """``value`` as a CSV cell a spreadsheet shows as text: an apostrophe before a formula's first character.

    >>> neutralise('=HYPERLINK("http://x","y")'), neutralise("-12.5"), neutralise("-2+3"), neutralise("'=a"), neutralise("ok")
    ('\\'=HYPERLINK("http://x","y")', '-12.5', "'-2+3", "''=a", 'ok')
    """
    if not value or value[0] not in _ESCAPED_START:
        return value
    if value[0] != "'" and _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def restore(value: str) -> str:
    """The value :func:`neutralise` was given: one leading apostrophe removed before ``= + - @ tab CR '``.

    >>> restore("'=1+1"), restore("''=a"), restore("'quoted'"), restore("-12.5")
    ('=1+1', "'=a", "'quoted'", '-12.5')
    """
    if len(value) >= 2 and value[0] == "'" and value[1] in _ESCAPED_START:
        return value[1:]
    return value


def _text_column(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)


def _map_text(frame: pd.DataFrame, fn: Any) -> pd.DataFrame:
    """A copy of ``frame`` with ``fn`` applied to every ``str`` cell of its text columns and to its text column names."""
    out = frame.copy()
    for i in range(frame.shape[1]):
        series = frame.iloc[:, i]
        if isinstance(series.dtype, pd.CategoricalDtype):
            if all(isinstance(c, str) for c in series.cat.categories):  # fn is one-to-one: categories stay distinct
                out.isetitem(i, series.cat.rename_categories([fn(c) for c in series.cat.categories]))
        elif _text_column(series):
            # Only cells that begin with one of the characters concerned can change: find them in one pass.
            starts = series.astype("string").str.slice(0, 1).isin(list(_ANY_START)).fillna(False).to_numpy(dtype=bool)
            if starts.any():
                column = series.copy()
                column[starts] = [fn(v) if isinstance(v, str) else v for v in series[starts]]
                out.isetitem(i, column.astype(series.dtype))
    out.columns = [fn(c) if isinstance(c, str) else c for c in frame.columns]
    return out


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (object, string and text-category columns) and header are neutralised.

    Numbers, times and missing values are left as they are: a spreadsheet reads none of them as a formula.
    """
    return _map_text(frame, neutralise)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a frame read from a CSV obsmap wrote, with the values :func:`safe_frame` was given."""
    return _map_text(frame, restore)


def to_safe_csv(frame: pd.DataFrame, path_or_buf: str | Any | IO[str] | None = None, **kw: Any) -> str | None:
    """:meth:`pandas.DataFrame.to_csv` of :func:`safe_frame` (``index=False``, ``"\\n"`` line ends unless given).

    Returns the text when no ``path_or_buf`` is given, as ``to_csv`` does.
    """
    kw.setdefault("index", False)
    kw.setdefault("lineterminator", "\n")
    return safe_frame(frame).to_csv(path_or_buf, **kw)
