"""Read form exports (CSV or XLSX; canonical, KoboToolbox or ODK Central) into canonical columns.

Nothing here drops a row: :func:`read_forms` returns every row read, canonicalised, with a
``_reason`` column that is blank for usable rows and names why the others are set aside.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.i18n import N_, _, ngettext, number
from geo.schema import FORM_COLUMNS, PROBLEMS, STATION_COLUMNS
from geo.values import (
    FORM_TYPE_VALUES,
    ORGANISATION_VALUES,
    OVERALL_VALUES,
    URBAN_RURAL_VALUES,
    YES_NO_VALUES,
    map_distinct,
    map_values,
    normalise_token,
)

# Columns written by the data-collection tools, not by observers.
TOOL_METADATA = {
    # KoboToolbox
    "_id", "_uuid", "_submission_time", "_validation_status", "_submitted_by", "_index", "_notes", "_status",
    "_tags", "_version_", "_xform_id_string", "_attachments", "_geolocation", "__version__", "_parent_index",
    "_parent_table_name", "start", "end", "today", "deviceid", "username", "phonenumber", "audit", "instanceid",
    # ODK Central
    "submissiondate", "key", "submitterid", "submittername", "attachmentspresent", "attachmentsexpected", "status",
    "reviewstate", "edits", "formversion", "meta-instanceid", "meta-instancename", "instancename",
}  # fmt: skip
# Tool columns that name or identify the person who submitted: never copied anywhere, not even set aside.
# Columns a mission adds that name or reach a person (observers, team leaders) are found by pattern: see looks_personal.
PERSONAL_METADATA = {
    "_submitted_by", "username", "phonenumber", "submitterid", "submittername", "deviceid", "simserial", "email", "imei",
    "name", "surname", "full_name", "first_name", "last_name", "phone", "mobile", "passport", "observer_name",
    "observer_names", "observer_phone", "leader_name", "leader_phone", "leader_email",
}  # fmt: skip
# Where a tool keeps the submission's unique id, used as form_id when the form has none.
ID_FALLBACKS = ("_uuid", "meta-instanceID", "KEY", "instanceID")

# Why a row is set aside: code -> the reason in English. The English text is the reason's stable key: ``_reason``,
# the store and import_report.json keep it, and rows are grouped and counted by it whatever the language of the
# import. A person reads it translated, at the moment it is shown (reason_text, reason_texts).
REASONS = {
    "missing_form_id": N_("missing form_id"),
    "duplicate_form_id": N_("duplicate form_id (first kept)"),
    "form_type": N_("no or unknown form_type"),
    "overall": N_("overall not very good/good/bad/very bad (or 1-4)"),
    "answer": N_("yes/no answer not yes or no"),
    "coordinates": N_("coordinates not numbers"),
    "outside": N_("coordinates outside every region"),
    "region_code": N_("unknown region code"),
    "no_location": N_("no location (no coordinates, known ps_id or region code)"),
    "no_time": N_("observed_at has a date but no time"),
    "window": N_("observed_at outside the election window"),
}
REASON_CODES = {text: code for code, text in REASONS.items()}


def reason_code(reason: object) -> str | None:
    """The stable code of a reason (``"region_code"`` for "unknown region code"); None for any other sentence.

    >>> reason_code("unknown region code"), reason_code("something else")
    ('region_code', None)
    """
    return REASON_CODES.get(reason) if isinstance(reason, str) else None


def reason_text(reason: str) -> str:
    """A reason (its English text, as ``_reason`` keeps it) in the current language; any other sentence as it is."""
    return _(reason) if reason in REASON_CODES else reason


def reason_texts(reasons: pd.Series) -> pd.Series:
    """:func:`reason_text` of a column of reasons, translated once per distinct reason (blank stays blank)."""
    return map_distinct(reasons, reason_text)


def reason_codes(reasons: pd.Series) -> pd.Series:
    """:func:`reason_code` of a column of reasons, once per distinct reason (``<NA>`` for a free sentence)."""
    return map_distinct(reasons, reason_code)


def reason_lines(counts: dict[str, int]) -> list[str]:
    """One line per reason of ``{reason: rows}`` (as import_report.json counts them), in the current language.

    >>> reason_lines({"unknown region code": 12, "missing form_id": 1})
    ['12 rows set aside: unknown region code', '1 row set aside: missing form_id']
    """
    return [
        ngettext("{n} row set aside: {reason}", "{n} rows set aside: {reason}", int(n)).format(n=number(int(n)), reason=reason_text(r))
        for r, n in counts.items()
    ]


# ------------------------------------------------------------------------------- the election window
# Hours relative to election-day midnight (local time) within which a form's observed_at must lie:
# from a day before (preparations, early opening) to two days after (a long count, late tabulation).
WINDOW_HOURS = (-24, 48)
# A mission.json's own window_hours must lie within this many hours of election-day midnight.
WINDOW_LIMIT_HOURS = 7 * 24
_TIME_FORMAT = "%Y-%m-%dT%H:%M"  # how canonical rows write observed_at: compares as text, any year 0001-9999


@dataclass(frozen=True)
class ElectionWindow:
    """``[start, end)`` of local times a form may carry: election-day midnight plus ``hours``."""

    election_date: pd.Timestamp  # midnight of election day
    hours: tuple[int, int] = WINDOW_HOURS
    inferred: bool = False

    @property
    def start(self) -> pd.Timestamp:
        return self.election_date + pd.Timedelta(hours=self.hours[0])

    @property
    def end(self) -> pd.Timestamp:
        return self.election_date + pd.Timedelta(hours=self.hours[1])

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"

    def report(self) -> dict[str, Any]:
        """As the import report and mission.json state it."""
        return {
            "election_date": f"{self.election_date:%Y-%m-%d}",
            "from": f"{self.start:{_TIME_FORMAT}}",
            "to": f"{self.end:{_TIME_FORMAT}}",
            "window_hours": list(self.hours),
            "inferred": self.inferred,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], where: str = "mission.json") -> ElectionWindow | None:
        """The window a mission.json declares (``election_date``, optional ``window_hours``), or None.

        A window the import inferred and wrote down (``time_window.inferred``) comes back inferred.
        Raises :class:`InputError` (one sentence) for a date or hours obsmap cannot use.
        """
        date = meta.get("election_date")
        if not date:
            return None
        try:
            day = pd.Timestamp(str(date)).normalize()
        except (ValueError, TypeError):
            raise InputError(
                _("{where}: election_date {date} is not a date like 2005-12-04.").format(where=where, date=repr(date))
            ) from None
        if day.tzinfo is not None:
            day = day.tz_localize(None)
        if not ELECTION_YEARS[0] <= day.year <= ELECTION_YEARS[1]:
            raise InputError(
                _("{where}: election_date {date} is not a year from {first} to {last}.").format(
                    where=where, date=repr(date), first=ELECTION_YEARS[0], last=ELECTION_YEARS[1]
                )
            )
        hours = meta.get("window_hours", list(WINDOW_HOURS))
        ok = (
            isinstance(hours, list | tuple)
            and len(hours) == 2
            and all(isinstance(h, int) and not isinstance(h, bool) for h in hours)
            and -WINDOW_LIMIT_HOURS <= hours[0] < hours[1] <= WINDOW_LIMIT_HOURS
        )
        if not ok:
            raise InputError(
                _(
                    "{where}: window_hours {hours} should be two whole numbers of hours relative to election-day midnight, "
                    "the first smaller, both within ±{limit} (e.g. {example})."
                ).format(where=where, hours=repr(hours), limit=WINDOW_LIMIT_HOURS, example=list(WINDOW_HOURS))
            )
        window = cls(day, (int(hours[0]), int(hours[1])))
        stated = meta.get("time_window")  # what an import wrote; an election_date edited since is declared
        inferred = isinstance(stated, dict) and bool(stated.get("inferred")) and stated.get("election_date") == f"{day:%Y-%m-%d}"
        return cls(day, window.hours, inferred)


ELECTION_YEARS = (1900, 2100)  # an election day outside these years is a typing error, never a window


def infer_window(observed_at: pd.Series) -> ElectionWindow | None:
    """The default window around the commonest date among canonical times (ties: the middle one), or None."""
    dates = observed_at.dropna().astype(str).str[:10]
    years = pd.to_numeric(dates.str[:4], errors="coerce")
    dates = dates[(years >= ELECTION_YEARS[0]) & (years <= ELECTION_YEARS[1])]  # a year 0001 or 9999 is never election day
    if dates.empty:
        return None
    counts = dates.value_counts()
    top = sorted(counts[counts == counts.max()].index)
    return ElectionWindow(pd.Timestamp(top[len(top) // 2]), WINDOW_HOURS, inferred=True)


def _outside(observed_at: pd.Series, window: ElectionWindow) -> pd.Series:
    """Canonical times (text) outside ``window``; blank times are not."""
    start, end = f"{window.start:{_TIME_FORMAT}}", f"{window.end:{_TIME_FORMAT}}"
    when = observed_at.astype("string")
    return (when.notna() & ((when < start) | (when >= end))).fillna(False).astype(bool)


def set_aside_outside(rows: pd.DataFrame, window: ElectionWindow | None) -> pd.DataFrame:
    """Set aside usable rows whose observed_at lies outside ``window``, the value and the window in ``_detail``."""
    if window is None or rows.empty:
        return rows
    when = rows["observed_at"].astype("string")
    outside = rows["_reason"].isna() & _outside(when, window)
    if not outside.any():
        return rows
    rows = rows.copy()
    rows.loc[outside, "_reason"] = REASONS["window"]
    rows.loc[outside, "_detail"] = "observed_at = " + when[outside] + _window_detail(window)
    return rows


def _window_detail(window: ElectionWindow) -> str:
    # TRANSLATORS: follows "observed_at = <time>" in a set-aside row's detail; {window} is "2005-12-03 00:00 – 2005-12-06 00:00".
    return _("; window {window}").format(window=window.describe())


# A time after the date (T or spaces), then fractions of a second and a UTC offset, both dropped.
_LOCAL_TIME = re.compile(r"^(?P<date>[^T\s]+)(?:T|\s+)(?P<time>\d{1,2}(?::?\d{2}){0,2})(?:[.,]\d+)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$")


def _parse_one(value: str) -> pd.Timestamp:
    try:
        t = pd.to_datetime(value, format="ISO8601")
    except (ValueError, OverflowError):
        return pd.NaT
    return t.tz_localize(None) if t.tzinfo is not None else t


def local_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Observed times as the observer saw them: ``(when, has_time)``.

    One rule for every value: the local wall-clock time written is kept and a tool's UTC offset
    (``Z``, ``+06``, ``+06:00``, ``+0600``) and fractions of a second are dropped, so naive and
    offset times mix freely. ``has_time`` is False for a value that parses but names no time
    ("2005-12-04"). Unparsed values are ``NaT``.
    """
    # Each distinct value once (a million forms hold a few thousand distinct times), then spread back.
    codes, uniques = pd.factorize(values.astype("string").str.strip(), use_na_sentinel=True)
    local = pd.Series(uniques, dtype="string").str.replace(_LOCAL_TIME, r"\g<date>T\g<time>", regex=True)
    try:
        when = pd.to_datetime(local, errors="coerce", format="ISO8601")
        if getattr(when.dt, "tz", None) is not None:
            when = when.dt.tz_localize(None)
    except (ValueError, OverflowError, TypeError):  # e.g. an offset the pattern does not know, among naive times
        when = pd.Series([_parse_one(v) if pd.notna(v) else pd.NaT for v in local], dtype="datetime64[us]")
    has_time = local.str.contains("T", regex=False).fillna(False).astype(bool)
    # Code -1 (a blank cell) takes the value appended last: no time.
    spread_when = np.append(when.to_numpy(), np.array(["NaT"], dtype=when.dtype))[codes]
    spread_time = np.append(has_time.to_numpy(), False)[codes]
    return pd.Series(spread_when, index=values.index, dtype=when.dtype), pd.Series(spread_time, index=values.index, dtype=bool)


_GPS_KOBO = re.compile(r"^_(?P<q>.+)_(?P<axis>latitude|longitude)$", re.IGNORECASE)
_GPS_ODK = re.compile(r"^(?P<q>.+)-(?P<axis>latitude|longitude)$", re.IGNORECASE)


@dataclass
class Mapping:
    """A user's ``--mapping`` file: column renames and value translations (applied before anything else)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str | None) -> Mapping:
        if path is None:
            return cls()
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise InputError(_("{path}: mapping file not found.").format(path=path)) from exc
        except OSError as exc:
            raise InputError(
                _("{path}: could not be read as a mapping file ({error}).").format(path=path, error=exc.strerror or type(exc).__name__)
            ) from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(
                _("{path}: expected a TOML mapping file with [columns] and [values.<column>] tables ({error}).").format(
                    path=path, error=exc
                )
            ) from exc
        columns = data.get("columns", {})
        values = data.get("values", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise InputError(_('{path}: [columns] must be a table of "column in the file" = "canonical column" pairs.').format(path=path))
        if not isinstance(values, dict) or not all(isinstance(m, dict) for m in values.values()):
            raise InputError(
                _('{path}: [values] must hold one table per column, [values.<column>], of "as written" = "canonical value".').format(
                    path=path
                )
            )
        unknown = sorted(set(columns.values()) - set(FORM_COLUMNS))
        if unknown:
            raise InputError(
                _("{path}: [columns] maps to {found}, which are not canonical columns ({expected}).").format(
                    path=path, found=", ".join(unknown), expected=", ".join(FORM_COLUMNS)
                )
            )
        bad = sorted(set(values) - set(FORM_COLUMNS))
        if bad:
            raise InputError(_("{path}: [values.{column}] is not a canonical column.").format(path=path, column=bad[0]))
        return cls({str(k): str(v) for k, v in columns.items()}, {c: {str(k): str(v) for k, v in m.items()} for c, m in values.items()})


@dataclass
class FormsRead:
    """Every row of one file in canonical columns, with provenance and (for unusable rows) a reason."""

    rows: pd.DataFrame  # FORM_COLUMNS + _source, _row, _original, _reason, _detail
    ignored_columns: list[str]
    warnings: list[str]
    table: pd.DataFrame | None = None  # the file's own cells, for what the tool says about each row (ids, times, review)


# ------------------------------------------------------------------------------------------ reading
# Byte-order marks: Excel's "Unicode text" (.txt) is UTF-16 LE with a BOM, tab-separated.
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
# Control characters a person cannot see or type (tab, line feed and carriage return are kept).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bytes that are not UTF-8, kept by "surrogateescape" decoding until each cell is checked.
_BAD_BYTE = re.compile(r"[\udc80-\udcff]")
# Header names (canonical) that must not appear twice: forms, registry and teams columns, tool ids.
_UNIQUE_COLUMNS = {*FORM_COLUMNS, *STATION_COLUMNS, "observers", "countries", *(n.lower() for n in ID_FALLBACKS)}


def _lines(numbers: list[int], limit: int = 10) -> str:
    numbers = sorted(set(numbers))
    listed = ", ".join(map(str, numbers[:limit]))
    if len(numbers) <= limit:
        return listed
    # TRANSLATORS: {listed} is a list of line numbers, "3, 7, 12"; {n} how many more there are.
    return _("{listed} and {n} more").format(listed=listed, n=number(len(numbers) - limit))


def _column_letter(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA, as a spreadsheet names columns."""
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _decode(path: Path, data: bytes, notes: list[str] | None = None) -> str:
    """Text of a CSV: UTF-8 or UTF-16 by their byte-order mark, else UTF-8, else CP1251.

    A UTF-8 file with a few bytes that are not UTF-8 stays UTF-8: those bytes come back as lone
    surrogates (``surrogateescape``) for :func:`read_table` to name by line and replace with U+FFFD.
    CP1251 is used only when the file as a whole is not UTF-8: fewer of its non-ASCII bytes form
    valid UTF-8 characters than do not (Cyrillic CP1251 text is almost entirely invalid as UTF-8).
    """
    notes = [] if notes is None else notes
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                name = encoding.upper().removesuffix("-LE").removesuffix("-BE")
                if encoding != "utf-8":
                    raise InputError(
                        _("{path}: starts with a {encoding} byte-order mark but byte {byte} is not {encoding} text.").format(
                            path=path, encoding=name, byte=exc.start + len(bom)
                        )
                    ) from None
                text = data[len(bom) :].decode("utf-8", errors="surrogateescape")
            break
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="surrogateescape")
            bad = len(_BAD_BYTE.findall(text))
            valid = len(data.translate(None, bytes(range(128)))) - bad  # non-ASCII bytes that are valid UTF-8
            if valid <= bad:
                # Field CSVs from Cyrillic Windows are CP1251; any byte string decodes, so check it looks like text.
                text = data.decode("cp1251")
                notes.append(_("{path}: not UTF-8 text; read as CP1251 (Cyrillic Windows).").format(path=path))
    nul = text.count("\x00")
    if nul and nul * 20 > len(text):  # UTF-16 without a byte-order mark, a spreadsheet or an image: not a few stray NULs
        raise InputError(
            _("{path}: expected a text CSV in UTF-8, UTF-16 (with byte-order mark) or CP1251, found binary data.").format(path=path)
        )
    return text


def _csv_records(path: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(first line, values)`` of each non-blank record, line numbers as in a text editor.

    A record that runs over several lines is a quoted value with line breaks inside: a comment typed
    on two lines, which imports. But when the lines inside the quotes look like forms themselves (as
    many values as the header), a quote was left open and swallowed them: the file is refused, naming
    the line where the quote opens. Refusing rather than setting those lines aside, because where the
    swallowed text splits back into forms is a guess (the closing quote is another typo), and a person
    fixes one character and imports again with every form; read = accepted + set aside then counts
    the lines a person sees. A quote still open at the end of the file is refused the same way.
    """
    header_line = text.splitlines()[0]
    try:
        sep = csv.Sniffer().sniff(header_line, delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    raw_lines: list[str] = []  # read only when a record runs over several lines
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for values in reader:
            first, last = previous + 1, reader.line_num
            previous = last
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = values
                continue
            if last > first:
                raw_lines = raw_lines or io.StringIO(text, newline="").readlines()
                raw = "".join(raw_lines[first - 1 : last])
                if raw.count('"') % 2:
                    raise InputError(
                        _(
                            "{path}: line {line} opens a quote that is never closed, so every line after it would be one "
                            'value; close the quote (a quote inside a value is written twice: "") and import again.'
                        ).format(path=path, line=first)
                    )
                for i, value in enumerate(values):
                    inner = value.splitlines()[1:]
                    looks = [s for s in inner if len(next(csv.reader([s], delimiter=sep), [])) >= max(len(header), 3)]
                    if looks:
                        column = header[i] if i < len(header) else _column_letter(i)
                        raise InputError(
                            ngettext(
                                "{path}: line {line} opens a quote in column {column} that closes only on line {last}, "
                                "swallowing {n} line(s) that look like forms; close the quote (a quote inside a value "
                                'is written twice: "") and import again.',
                                "{path}: line {line} opens a quote in column {column} that closes only on line {last}, "
                                "swallowing {n} line(s) that look like forms; close the quote (a quote inside a value "
                                'is written twice: "") and import again.',
                                len(looks),
                            ).format(path=path, line=first, column=column, last=last, n=number(len(looks)))
                        )
            records.append((first, values))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputError(
                _(
                    "{path}: line {line} starts a value longer than {limit} characters, most likely a "
                    'quote that is never closed; close the quote (a quote inside a value is written twice: "") and import again.'
                ).format(path=path, line=previous + 1, limit=number(csv.field_size_limit()))
            ) from None
        raise InputError(
            _("{path}: could not be read as a forms table (line {line}: {error}).").format(path=path, line=reader.line_num, error=exc)
        ) from None
    return header or [], records


_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _check_merges(path: Path) -> None:
    """Refuse a sheet whose merged ranges span more cells than obsmap reads, before a spreadsheet library
    expands them (a 5 KB file merging A2:XFD1048576 would take gigabytes). The sheets' XML is scanned in chunks."""
    try:
        with zipfile.ZipFile(path) as book:
            for name in (n for n in book.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                with book.open(name) as sheet:
                    tail = b""
                    while chunk := sheet.read(1 << 20):
                        text = tail + chunk
                        for match in _MERGE.finditer(text):
                            c0, r0, c1, r1 = match.groups()
                            area = (abs(int(r1) - int(r0)) + 1) * (abs(_column_number(c1) - _column_number(c0)) + 1)
                            if area > MAX_XLSX_CELLS:
                                cells = f"{c0.decode()}{r0.decode()}:{c1.decode()}{r1.decode()}"
                                raise InputError(
                                    _("{path}: merges {cells}, {area} cells; obsmap reads at most {limit} (unmerge it).").format(
                                        path=path, cells=cells, area=number(area), limit=number(MAX_XLSX_CELLS)
                                    )
                                )
                        tail = text[-200:]
    except zipfile.BadZipFile as exc:
        raise InputError(
            _("{path}: could not be read as a forms table (not an XLSX workbook: it is not a zip file).").format(path=path)
        ) from exc


MAX_XLSX_CELLS = 20_000_000  # cells with a header, down to the last row holding a value (about 500,000 forms)


def _xlsx_records(path: Path, notes: list[str]) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """Header and ``(row number, values)`` of the first visible sheet, from the values Excel cached.

    Formula cells give their cached value; a formula without one (a file written by a program that
    never calculated it) would read as blank, so the file is refused naming the cells. Merged cells
    take the value of their top-left cell. Hidden sheets and sheets after the first are named.
    """
    import openpyxl

    _check_merges(path)
    values_book = openpyxl.load_workbook(path, data_only=True)
    visible = [ws for ws in values_book.worksheets if ws.sheet_state == "visible"]
    if not visible:
        raise InputError(_("{path}: every sheet is hidden; expected the forms on a visible sheet.").format(path=path))
    ws = visible[0]
    hidden = [s.title for s in values_book.worksheets if s.sheet_state != "visible"]
    if hidden:
        notes.append(
            _("{path}: hidden sheet(s) {sheets} not read; forms read from sheet {sheet}.").format(
                path=path, sheets=", ".join(map(repr, hidden)), sheet=repr(ws.title)
            )
        )
    others = [s.title for s in visible[1:]]
    if others:
        notes.append(
            _("{path}: sheet(s) {sheets} not read; forms read from the first sheet, {sheet}.").format(
                path=path, sheets=", ".join(map(repr, others)), sheet=repr(ws.title)
            )
        )
    # Only the cells that hold values: a sheet can declare a million rows and hundreds of columns (one styled cell far
    # away) while holding fifty forms, and reading its whole rectangle would take minutes and gigabytes.
    header_row = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
    width = max((i + 1 for i, v in enumerate(header_row) if v not in (None, "")), default=0)
    cells = getattr(ws, "_cells", None)  # openpyxl keeps the cells present in the file here, keyed by (row, column)
    if cells is not None:
        last = max((r for (r, c), cell in cells.items() if c <= width and cell.value not in (None, "")), default=1)
    else:
        last = ws.max_row
    if last * max(width, 1) > MAX_XLSX_CELLS:
        raise InputError(
            _(
                "{path}: sheet {sheet} holds {rows} rows of {columns} columns; obsmap reads at most {limit} cells "
                "from a spreadsheet (export it as CSV)."
            ).format(path=path, sheet=repr(ws.title), rows=number(last), columns=width, limit=number(MAX_XLSX_CELLS))
        )
    grid = [list(row) for row in ws.iter_rows(max_row=last, max_col=max(width, 1), values_only=True)]
    merged = [str(r) for r in ws.merged_cells.ranges]
    for rng in ws.merged_cells.ranges:
        if rng.min_row > len(grid) or rng.min_col > len(grid[rng.min_row - 1]):
            continue  # a merge outside the forms' rectangle: nothing to fill
        top = grid[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row, min(rng.max_row, len(grid)) + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                if c <= len(grid[r - 1]):
                    grid[r - 1][c - 1] = top
    if merged:
        listed = ", ".join(merged[:10]) + (" ..." if len(merged) > 10 else "")
        notes.append(_("{path}: merged cells {cells} read as the top-left value in each cell.").format(path=path, cells=listed))
    # Formulas without a cached value: only the cells blank in the cached values can be such.
    blanks = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v is None}
    uncached: list[str] = []
    if blanks:
        formula_book = openpyxl.load_workbook(path, read_only=True, data_only=False)
        try:
            for r, row in enumerate(formula_book[ws.title].iter_rows(values_only=True)):
                for c, v in enumerate(row):
                    if (r, c) in blanks and isinstance(v, str) and v.startswith("="):
                        uncached.append(f"{_column_letter(c)}{r + 1}")
        finally:
            formula_book.close()
    if uncached:
        listed = ", ".join(uncached[:10])
        if len(uncached) > 10:
            listed = _("{listed} and {n} more").format(listed=listed, n=number(len(uncached) - 10))
        raise InputError(
            _(
                "{path}: sheet {sheet} has formulas without a calculated value ({cells}); open and save it in a "
                "spreadsheet program (or paste the values) and import again."
            ).format(path=path, sheet=repr(ws.title), cells=listed)
        )

    def text(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    header: list[str] | None = None
    records: list[tuple[int, list[object]]] = []
    for r, row in enumerate(grid, start=1):
        cells = [text(v) for v in row]
        if not any(v.strip() for v in cells):
            continue
        if header is None:
            header = cells
        else:
            records.append((r, cells))
    return header or [], records


def _column_names(path: Path, header: list[Any], blank_column: Any, notes: list[str]) -> tuple[list[str], set[int]]:
    """The table's column names and the header positions left out (``blank_column(i)``: no value in column ``i``)."""
    # Header: trimmed, blank ones named as pandas names them, and no name twice.
    names = [_CONTROL.sub("", _BAD_BYTE.sub("\ufffd", str(c))).strip().lstrip("\ufeff") for c in header]
    names = [n or f"Unnamed: {i}" for i, n in enumerate(names)]
    # A column without a header and without a value (a spreadsheet's formatted margin) is not a column.
    empty = {i for i, n in enumerate(names) if n.startswith("Unnamed: ") and blank_column(i)}
    letters = [_column_letter(i) for i in range(len(names)) if i not in empty]  # as the file names its columns
    if empty:
        names = [n for i, n in enumerate(names) if i not in empty]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name not in seen:
            seen[name] = i
            continue
        first = letters[seen[name]]
        if _canonical_name(name) in _UNIQUE_COLUMNS or name.lower() in _UNIQUE_COLUMNS:
            # Two answers to one question: either could be the right one, so neither is guessed (pandas would read
            # the second as "overall.1", which feeds nothing, without a word). Refused, naming both columns.
            raise InputError(
                _("{path}: columns {first} and {second} are both named {name}; delete or rename one of them and import again.").format(
                    path=path, first=first, second=letters[i], name=repr(name)
                )
            )
        names[i] = f"{name} ({letters[i]})"
        notes.append(
            _("{path}: column {column} repeats the header {name} of column {first}; read as {read_as}.").format(
                path=path, column=letters[i], name=repr(name), first=first, read_as=repr(names[i])
            )
        )
    return names, empty


# Control characters (as _CONTROL) and a carriage return in a value, for pyarrow: a file holding one is read the careful
# way, which removes and counts them.
_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\r]"
FAST_CHECK_LINES = 50_000  # lines with quotes compared with Python's csv module at a time


def _fast_csv(path: Path, data: bytes) -> pd.DataFrame | None:
    """The table :func:`read_table` makes of a plain UTF-8 CSV, read by pyarrow (seconds and a few hundred MB for a
    million forms, not a minute and gigabytes); None for any file this path cannot vouch for, which the careful
    path then reads: not UTF-8, a control character, a bare carriage return, a blank line, a line with more or fewer
    values than the header, a value over several lines, or any line with a quote that Python's csv module (the
    careful path's reader) splits otherwise. Every line is one record, so its index is its line number minus 2."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    if not data.strip():
        return None
    end = data.find(b"\n")
    try:
        first = (data if end < 0 else data[:end]).decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError:
        return None
    if first.splitlines() != [first] or _CONTROL.search(first) or first.count('"') % 2:
        return None
    try:
        sep = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    header = next(csv.reader([first], delimiter=sep), [])
    if not any(v.strip() for v in header):
        return None
    ncols = len(header)
    body = b"" if end < 0 else data[end + 1 :]
    lines = body.count(b"\n") + (0 if not body or body.endswith(b"\n") else 1)
    try:
        read = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(ncols)], block_size=16 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=sep, quote_char='"', double_quote=True, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys([f"c{i}" for i in range(ncols)], pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    if read.num_rows != lines:
        return None
    # Lines with a quote: the careful path's reader must split them the same way (a quote left open, text after a
    # closing quote, a quote inside a value that is not quoted...): compared, a chunk at a time.
    quoted: list[tuple[int, bytes]] = []
    at = line_no = 0
    pos = body.find(b'"')
    try:
        while pos >= 0:
            start = body.rfind(b"\n", 0, pos) + 1
            stop = body.find(b"\n", pos)
            stop = len(body) if stop < 0 else stop
            line_no += body.count(b"\n", at, start)
            at = start
            quoted.append((line_no, body[start:stop]))
            if len(quoted) >= FAST_CHECK_LINES:
                if not _same_split(read, quoted, sep):
                    return None
                quoted = []
            pos = body.find(b'"', stop)
        if quoted and not _same_split(read, quoted, sep):
            return None
    except csv.Error:  # e.g. a value longer than the csv module reads: the careful path says so
        return None
    columns, blank_all = [], None
    for i in range(ncols):
        cells = read.column(i)
        limit = csv.field_size_limit()
        if len(cells) and (pc.max(pc.binary_length(cells)).as_py() or 0) > limit and (pc.max(pc.utf8_length(cells)).as_py() or 0) > limit:
            return None  # the careful path refuses a value that long, naming its line
        if pc.any(pc.match_substring_regex(cells, _CONTROL_RE2)).as_py():
            return None  # control characters (or a carriage return alone): the careful path removes and counts them
        # Blank: nothing but white space (as str.strip() finds it) or nothing at all.
        blank = pc.or_(pc.equal(pc.binary_length(cells), 0), pc.utf8_is_space(cells))
        blank_all = blank if blank_all is None else pc.and_(blank_all, blank)
        columns.append((cells, blank))
    if blank_all is not None and pc.any(blank_all).as_py():
        return None  # a line of blank values is not a record: the careful path skips it and counts lines
    notes: list[str] = []
    no_value = [pc.all(blank).as_py() is not False for _, blank in columns]
    names, empty = _column_names(path, header, lambda i: no_value[i], notes)
    kept = [pc.if_else(blank, pa.scalar(None, pa.string()), cells) for i, (cells, blank) in enumerate(columns) if i not in empty]
    del read, columns
    index = pd.Index(np.arange(lines, dtype="int64"))  # each column made on it: nothing to align
    table = pd.DataFrame({j: pd.Series(pd.arrays.ArrowStringArray(col), index=index, dtype="string") for j, col in enumerate(kept)})
    table.columns = names
    table.attrs["warnings"] = notes
    return table


def _same_split(read: Any, quoted: list[tuple[int, bytes]], sep: str) -> bool:
    """Whether Python's csv module splits these lines (line number in the body, text) as pyarrow did."""
    import pyarrow as pa

    rows = read.take(pa.array([n for n, _ in quoted], type=pa.int64())).to_pylist()
    for (_line, raw), row in zip(quoted, rows, strict=True):
        values = next(csv.reader([raw.decode("utf-8").removesuffix("\r")], delimiter=sep), [])
        if values != list(row.values()):
            return False
    return True


def read_table(path: Path | str) -> pd.DataFrame:
    """All cells as strings (blank = ``<NA>``), header names trimmed; raises InputError naming the file.

    The index is the line (CSV) or row (XLSX) where each record starts, minus 2, so that
    ``index + 2`` names it as a person finds it; blank lines are not records. What reading changed or
    left out (bytes not UTF-8, control characters, merged cells, hidden sheets, repeated headers) is
    one sentence each in ``table.attrs["warnings"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(_("{path}: file not found; expected a forms export (CSV or XLSX).").format(path=path))
    suffix = path.suffix.lower()
    notes: list[str] = []
    try:
        if suffix in (".xlsx", ".xlsm"):
            header, records = _xlsx_records(path, notes)
        elif suffix in (".csv", ".txt", ".tsv"):
            data = path.read_bytes()
            fast = _fast_csv(path, data)
            if fast is not None:
                return fast
            text = _decode(path, data, notes)
            del data
            if not text.strip():
                raise InputError(_("{path}: expected a header row and forms, found an empty file.").format(path=path))
            header, records = _csv_records(path, text)
        else:
            if suffix:
                raise InputError(
                    _("{path}: expected a .csv, .tsv, .txt or .xlsx forms export, found a {suffix} file.").format(path=path, suffix=suffix)
                )
            raise InputError(_("{path}: expected a .csv, .tsv, .txt or .xlsx forms export, found a nameless file.").format(path=path))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            _("{path}: could not be read as a forms table ({error}).").format(
                path=path, error=f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            )
        ) from exc
    if not header:
        raise InputError(_("{path}: expected a header row and forms, found an empty file.").format(path=path))
    ncols = len(header)
    rows: list[list[str]] = []
    for line, values in records:
        cells = [str(v) for v in values]
        if len(cells) > ncols:
            if any(v.strip() for v in cells[ncols:]):
                raise InputError(
                    _("{path}: line {line} has {n} values but the header has {columns} columns.").format(
                        path=path, line=line, n=len(cells), columns=ncols
                    )
                )
            cells = cells[:ncols]
        rows.append(cells + [""] * (ncols - len(cells)))

    names, empty = _column_names(path, header, lambda i: not any(row[i].strip() for row in rows), notes)
    if empty:
        rows = [[v for i, v in enumerate(row) if i not in empty] for row in rows]

    # Cells: bytes that are not UTF-8 shown as U+FFFD and named; control characters (NUL, ...) removed and counted.
    bad_lines: dict[int, set[str]] = {}
    bad_bytes = controls = 0
    control_lines: list[int] = []
    for (line, _values), cells in zip(records, rows, strict=True):
        joined = "\t".join(cells)
        if not (_BAD_BYTE.search(joined) or _CONTROL.search(joined)):
            continue
        for j, v in enumerate(cells):
            if _BAD_BYTE.search(v):
                bad_bytes += len(_BAD_BYTE.findall(v))
                bad_lines.setdefault(line, set()).add(names[j])
                v = _BAD_BYTE.sub("\ufffd", v)
            if _CONTROL.search(v):
                controls += len(_CONTROL.findall(v))
                control_lines.append(line)
                v = _CONTROL.sub("", v)
            cells[j] = v
    if bad_bytes:
        columns = sorted({c for cs in bad_lines.values() for c in cs})
        notes.append(
            ngettext(
                "{path}: {n} byte(s) not valid UTF-8 on line(s) {lines} (column(s) {columns}); "
                "the rest of the file is UTF-8 and was read as such, each bad byte shown as \ufffd.",
                "{path}: {n} byte(s) not valid UTF-8 on line(s) {lines} (column(s) {columns}); "
                "the rest of the file is UTF-8 and was read as such, each bad byte shown as \ufffd.",
                bad_bytes,
            ).format(path=path, n=number(bad_bytes), lines=_lines(list(bad_lines)), columns=", ".join(columns))
        )
    if controls:
        if suffix in (".xlsx", ".xlsm"):
            text = ngettext(
                "{path}: {n} control character(s) (NUL and the like) removed from cells on row(s) {lines}.",
                "{path}: {n} control character(s) (NUL and the like) removed from cells on row(s) {lines}.",
                controls,
            )
        else:
            text = ngettext(
                "{path}: {n} control character(s) (NUL and the like) removed from cells on line(s) {lines}.",
                "{path}: {n} control character(s) (NUL and the like) removed from cells on line(s) {lines}.",
                controls,
            )
        notes.append(text.format(path=path, n=number(controls), lines=_lines(control_lines)))
    index = pd.Index([line - 2 for line, _values in records], dtype="int64")
    table = pd.DataFrame(rows, columns=names, index=index, dtype="string") if rows else pd.DataFrame(columns=names, dtype="string")
    table = table.astype("string")
    table = table.mask(table.apply(lambda s: s.str.strip() == ""))
    table.attrs["warnings"] = notes
    return table


def table_warnings(table: pd.DataFrame) -> list[str]:
    """What :func:`read_table` changed or left out of a table, one sentence each."""
    return list(table.attrs.get("warnings", []))


# Words in a column name that make it look like it holds a person's name or contact (English, Russian).
_PERSONAL_WORDS = {
    "name", "names", "surname", "surnames", "firstname", "lastname", "fullname", "middlename", "patronymic", "fio",
    "phone", "phones", "phonenumber", "mobile", "cellphone", "tel", "telephone", "whatsapp", "telegram", "viber",
    "email", "mail", "passport", "address", "birth", "birthday", "dob", "username", "iin", "ssn",
    "имя", "фамилия", "отчество", "фио", "телефон", "тел", "паспорт", "почта", "адрес",
}  # fmt: skip
# ... unless the name is about something that is not a person: a place, an organisation, a team, a form.
_NOT_PERSON_WORDS = {
    "org", "organisation", "organization", "region", "district", "station", "polling", "ps", "team", "form", "file",
    "place", "location", "country", "city", "village", "settlement", "school", "building", "party", "candidate",
    "sheet", "layer", "regions", "stations",
}  # fmt: skip


def looks_personal(column: str) -> bool:
    """True for a column name that looks like it holds who someone is: names, phones, e-mail, passport."""
    base = column.split("/")[-1]
    if base.lower() in PERSONAL_METADATA:
        return True
    if _canonical_name(column) in FORM_COLUMNS:
        return False
    spaced = re.sub(r"(?<=[a-zа-я])(?=[A-ZА-Я])", " ", base)  # leaderName -> leader Name
    words = {w for w in re.split(r"[^0-9a-zа-яё]+|(?<=[a-zа-я])(?=\d)|(?<=\d)(?=[a-zа-я])", spaced.lower()) if w}
    return bool(words & _PERSONAL_WORDS) and not words & _NOT_PERSON_WORDS


def drop_personal(table: pd.DataFrame, path: Path | str, keep: set[str] | frozenset[str] = frozenset()) -> tuple[pd.DataFrame, list[str]]:
    """``table`` without the columns that look personal (except those in ``keep``), and the sentence naming them."""
    personal = [c for c in table.columns if c not in keep and looks_personal(c)]
    if not personal:
        return table, []
    kept = table.drop(columns=personal)
    kept.attrs = {**table.attrs, "personal": personal}
    return kept, [
        _("{path}: column(s) {columns} look personal (names, phones, e-mail) and were dropped, not copied.").format(
            path=path, columns=", ".join(personal)
        )
    ]


# --------------------------------------------------------------------------------------- columns
def _canonical_name(column: str) -> str:
    """``grp/sub/overall`` -> ``overall``; ``g1-overall`` -> ``overall``; ``Overall`` -> ``overall``."""
    name = column.split("/")[-1]
    if "-" in name:
        name = name.split("-")[-1]
    return name.strip().lower()


def canonical_columns(columns: list[str], mapping: Mapping, path: Path) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Decide which source column feeds each canonical column.

    Returns ``(sources, id_fallback, ignored)``: canonical -> source column, the tool id column to use
    as form_id when needed, and the source columns that feed nothing.
    """
    sources: dict[str, str] = {}
    rank: dict[str, int] = {}
    ignored: list[str] = []
    lower = {c.lower(): c for c in columns}
    for col in columns:
        target = mapping.columns.get(col)
        if target is not None:
            how = 3  # named by the user's --mapping
        else:
            base = col.split("/")[-1]
            gps = _GPS_KOBO.match(base) or _GPS_ODK.match(base)
            if gps and _canonical_name(gps["q"]) not in ("latitude", "longitude"):
                target = gps["axis"].lower()
            elif col.lower() in TOOL_METADATA or base.lower() in TOOL_METADATA:
                ignored.append(col)
                continue
            else:
                target = _canonical_name(col)
            how = 2 if col.lower() == target else 1  # the contract's own name, or a GPS or group-path guess
        if target not in FORM_COLUMNS:
            ignored.append(col)
            continue
        if target in sources:
            # A --mapping beats the contract's own name, which beats a GPS or group-path guess; the other column is
            # listed as ignored. Two columns of the same standing are two answers to one question: refused, not guessed.
            if how == rank[target]:
                raise InputError(
                    _(
                        "{path}: columns {first} and {second} both give {column}; delete one, or name the one to use "
                        'in a --mapping [columns] table ({second} = "{column}").'
                    ).format(path=path, first=repr(sources[target]), second=repr(col), column=target)
                )
            if how > rank[target]:
                ignored.append(sources[target])
                sources[target], rank[target] = col, how
            else:
                ignored.append(col)
            continue
        sources[target], rank[target] = col, how
    id_fallback = {}
    if "form_id" not in sources:
        for name in ID_FALLBACKS:
            if name.lower() in lower:
                id_fallback["form_id"] = lower[name.lower()]
                break
    if "form_type" not in sources:
        found = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise InputError(
            _("{path}: expected the canonical columns form_id and form_type (or a --mapping that names them), found {found}.").format(
                path=path, found=found
            )
        )
    if "form_id" not in sources and not id_fallback:
        raise InputError(
            _("{path}: expected a form_id column (or a tool id: _uuid, meta-instanceID or KEY), found none.").format(path=path)
        )
    return sources, id_fallback, ignored


# ---------------------------------------------------------------------------------------- values
def original_values(table: pd.DataFrame, labels: Any) -> pd.Series:
    """The original values of the rows of ``table`` at index ``labels`` (each a JSON object of its non-blank cells,
    tool columns naming the submitter left out): what a row set aside keeps."""
    keep = [c for c in table.columns if c.split("/")[-1].lower() not in PERSONAL_METADATA]
    part = table.loc[labels, keep]
    texts = [
        json.dumps({k: v for k, v in row.items() if pd.notna(v)}, ensure_ascii=False, sort_keys=True) for row in part.to_dict("records")
    ]
    return pd.Series(texts, index=part.index, dtype="string")


def read_forms(path: Path | str, mapping: Mapping | None = None, *, originals: bool = True) -> FormsRead:
    """Read one export; every row comes back, canonicalised, with ``_reason`` blank when usable.

    Reasons found here: missing form_id, unknown form_type, invalid overall or yes/no answer,
    coordinates that are not numbers. Location and duplicate checks need all files and the
    boundaries, and happen in :mod:`geo.importer`.
    """
    path = Path(path)
    table = read_table(path)
    # Columns that look personal never reach canonicalise: not in forms.csv, set_aside.csv or the store.
    named = set((mapping or Mapping()).columns)
    table, personal = drop_personal(table, path, keep=named)
    read = canonicalise(table, path, mapping, originals=originals)
    read.ignored_columns += [c for c in table.attrs.get("personal", []) if c not in read.ignored_columns]
    read.warnings[:0] = table_warnings(table) + personal
    read.table = table
    return read


def canonicalise(
    table: pd.DataFrame, path: Path | str, mapping: Mapping | None = None, window: ElectionWindow | None = None, *, originals: bool = True
) -> FormsRead:
    """Canonical columns and row checks for a table of text cells (``<NA>`` = blank): a file's, or the
    records an ODK Central or KoboToolbox API returned, flattened as the tools' own exports name them.

    ``path`` names the source in reasons and errors (a file, or e.g. ``odk:https://host/...``).
    ``window``: rows observed outside this election window are set aside (the import, which infers
    the window from all its files, applies :func:`set_aside_outside` itself). ``originals`` False leaves
    ``_original`` blank, for the caller to fill for the rows it sets aside (:func:`original_values`).
    """
    mapping = mapping or Mapping()
    sources, id_fallback, ignored = canonical_columns(list(table.columns), mapping, Path(str(path)))
    n = len(table)
    out = pd.DataFrame(index=table.index)
    for col in FORM_COLUMNS:
        src = sources.get(col) or id_fallback.get(col)
        raw = table[src] if src else pd.Series(pd.NA, index=table.index, dtype="string")
        if col in mapping.values:
            raw = map_distinct(raw, lambda v, m=mapping.values[col]: m.get(v, v))
        out[col] = raw.str.strip()
    out["_source"] = str(path)
    out["_row"] = table.index + 2  # the header is row 1, as in a spreadsheet
    # A row's original values are kept only if it is set aside: a caller that sets rows aside later (duplicates,
    # location) passes originals=False and fills them then for those rows alone (original_values).
    out["_original"] = original_values(table, table.index) if originals else pd.Series(pd.NA, index=table.index, dtype="string")
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    detail = pd.Series(pd.NA, index=table.index, dtype="string")

    def flag(mask: pd.Series, key: str, text: Callable[[pd.Series], pd.Series] | str | None = None) -> None:
        """Set aside the rows of ``mask`` not set aside yet; ``text(rows)`` gives their detail (made for those rows only)."""
        new = mask & reason.isna()
        if not new.any():
            return
        reason[new] = REASONS[key]
        if text is not None:
            detail[new] = text(new) if callable(text) else text

    flag(out["form_id"].isna(), "missing_form_id")
    form_type, bad = map_values(out["form_type"], FORM_TYPE_VALUES)
    # TRANSLATORS: a blank cell, in a set-aside row's detail: "form_type = (blank)".
    blank = _("(blank)")
    flag(bad | form_type.isna(), "form_type", lambda m: "form_type = " + out.loc[m, "form_type"].fillna(blank))
    out["form_type"] = form_type
    overall, bad = map_values(out["overall"], OVERALL_VALUES)
    flag(bad, "overall", lambda m: "overall = " + out.loc[m, "overall"].fillna(""))
    out["overall"] = overall
    for col in (*PROBLEMS, "evoting"):
        values, bad = map_values(out[col], YES_NO_VALUES)
        flag(bad, "answer", lambda m, c=col: f"{c} = " + out.loc[m, c].fillna(""))
        out[col] = values
    setting, bad = map_values(out["urban_rural"], URBAN_RURAL_VALUES)
    warnings = []
    if bad.any():
        count = int(bad.sum())
        warnings.append(
            ngettext(
                "{path}: {n} row(s) with urban_rural not urban or rural; left blank.",
                "{path}: {n} row(s) with urban_rural not urban or rural; left blank.",
                count,
            ).format(path=path, n=number(count))
        )
    out["urban_rural"] = setting
    organisation = map_distinct(out["observer_org"], lambda v: ORGANISATION_VALUES.get(normalise_token(v)))
    out["observer_org"] = organisation.fillna(out["observer_org"])
    lat = pd.to_numeric(out["latitude"], errors="coerce")
    lon = pd.to_numeric(out["longitude"], errors="coerce")
    given = out["latitude"].notna() | out["longitude"].notna()
    flag(
        given & (lat.isna() | lon.isna()),
        "coordinates",
        lambda m: "latitude, longitude = " + out.loc[m, "latitude"].fillna("") + ", " + out.loc[m, "longitude"].fillna(""),
    )

    out["latitude"], out["longitude"] = lat, lon
    # Local time as the observer saw it: a tool's UTC offset and fractions of a second dropped (see local_times).
    when, has_time = local_times(out["observed_at"])
    unparsed = out["observed_at"].notna() & when.isna()
    if unparsed.any():
        count = int(unparsed.sum())
        warnings.append(
            ngettext(
                "{path}: {n} row(s) with observed_at not an ISO 8601 date-time; kept, time unknown.",
                "{path}: {n} row(s) with observed_at not an ISO 8601 date-time; kept, time unknown.",
                count,
            ).format(path=path, n=number(count))
        )
    flag(when.notna() & ~has_time, "no_time", lambda m: "observed_at = " + out.loc[m, "observed_at"].fillna(""))
    # Written as text once per distinct time (a million forms hold a few thousand), then spread back.
    codes, uniques = pd.factorize(when.where(has_time), use_na_sentinel=True)
    texts = pd.array(list(pd.DatetimeIndex(uniques).strftime(_TIME_FORMAT)), dtype="string")
    out["observed_at"] = pd.Series(texts.take(codes, allow_fill=True), index=out.index, dtype="string")
    if window is not None:
        shown = _window_detail(window)
        flag(_outside(out["observed_at"], window), "window", lambda m: "observed_at = " + out.loc[m, "observed_at"].fillna("") + shown)
    out["_reason"] = reason
    out["_detail"] = detail
    if len(out) != n:  # every row read comes back: a broken invariant is a bug, not the user's file
        raise RuntimeError(f"{path}: {n} rows read but {len(out)} canonicalised; this is a bug in obsmap.")
    return FormsRead(out, ignored, warnings)
