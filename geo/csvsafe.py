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

import os
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
            starts = _starts_escaped(series)
            if starts.any():
                column = series.copy()
                column[starts] = [fn(v) if isinstance(v, str) else v for v in series[starts]]
                out.isetitem(i, column.astype(series.dtype))
    out.columns = [fn(c) if isinstance(c, str) else c for c in frame.columns]
    return out


def _starts_escaped(series: pd.Series) -> Any:
    """Which cells of a text column begin with a character :func:`neutralise` or :func:`restore` looks at (numpy bools)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(series.astype("string").array, type=pa.string())
    found = pc.match_substring_regex(text, r"^[=+\-@\t\r']")  # _ANY_START
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False).astype(bool)


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

    Returns the text when no ``path_or_buf`` is given, as ``to_csv`` does. A large frame of text and numbers
    written to a file is written a column at a time (:func:`write_csv_fast`), byte for byte as ``to_csv`` writes it.
    """
    kw.setdefault("index", False)
    kw.setdefault("lineterminator", "\n")
    safe = safe_frame(frame)
    plain = kw == {"index": False, "lineterminator": "\n"} and isinstance(path_or_buf, str | os.PathLike)
    if plain and len(safe) >= FAST_CSV_ROWS and write_csv_fast(safe, path_or_buf):
        return None
    return safe.to_csv(path_or_buf, **kw)


FAST_CSV_ROWS = 20_000  # below this, pandas' own writer (the time is nothing)
_CSV_QUOTE = '[,"\n]'  # what makes the csv module quote a cell (delimiter, quote, line terminator "\n")


def _csv_cells(column: pd.Series) -> Any:
    """The cells of ``column`` as ``to_csv`` writes them (a pyarrow array), or None for a type not handled here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        text = pa.array(column.astype("string").array, type=pa.string())
    elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        # A number as str() writes it (a float's shortest round-trip form, as numpy's and pandas' writer give it).
        values = column.astype(object).tolist()
        text = pa.array([None if v is None or v is pd.NA or v != v else str(v) for v in values], type=pa.string())
    else:
        return None
    needs = pc.fill_null(pc.match_substring_regex(text, _CSV_QUOTE), False)
    if pc.any(needs).as_py():
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(needs, quoted, text)
    return pc.fill_null(text, "")


def write_csv_fast(frame: pd.DataFrame, path: str | os.PathLike[str], chunk: int = 100_000) -> bool:
    """Write ``frame`` (two or more columns of text or numbers, text column names) to ``path`` as
    ``frame.to_csv(path, index=False, lineterminator="\\n")`` would, a column at a time; False (nothing written)
    for a frame it does not handle."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.shape[1] < 2 or not all(isinstance(c, str) for c in frame.columns) or not frame.columns.is_unique:
        return False
    header = _csv_cells(pd.Series(list(frame.columns), dtype="string"))
    if header is None:
        return False
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(header.to_pylist()) + "\n")
        for start in range(0, len(frame), chunk):
            part = frame.iloc[start : start + chunk]
            cells = [_csv_cells(part[c]) for c in part.columns]
            if any(c is None for c in cells):
                out.close()
                os.unlink(path)
                return False
            lines = pc.binary_join_element_wise(*cells, pa.scalar(","))
            out.write("\n".join(lines.to_pylist()) + "\n")
    return True
