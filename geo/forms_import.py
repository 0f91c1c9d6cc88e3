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
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from geo.errors import InputError
from geo.schema import FORM_COLUMNS, PROBLEMS
from geo.values import (
    FORM_TYPE_VALUES,
    ORGANISATION_VALUES,
    OVERALL_VALUES,
    URBAN_RURAL_VALUES,
    YES_NO_VALUES,
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
PERSONAL_METADATA = {"_submitted_by", "username", "phonenumber", "submitterid", "submittername", "deviceid", "simserial", "email"}
# Where a tool keeps the submission's unique id, used as form_id when the form has none.
ID_FALLBACKS = ("_uuid", "meta-instanceID", "KEY", "instanceID")

REASONS = {
    "missing_form_id": "missing form_id",
    "duplicate_form_id": "duplicate form_id (first kept)",
    "form_type": "no or unknown form_type",
    "overall": "overall not very good/good/bad/very bad (or 1-4)",
    "answer": "yes/no answer not yes or no",
    "coordinates": "coordinates not numbers",
    "outside": "coordinates outside every region",
    "region_code": "unknown region code",
    "no_location": "no location (no coordinates, known ps_id or region code)",
}

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
            raise InputError(f"{path}: mapping file not found.") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: expected a TOML mapping file with [columns] and [values.<column>] tables ({exc}).") from exc
        columns = data.get("columns", {})
        values = data.get("values", {})
        unknown = sorted(set(columns.values()) - set(FORM_COLUMNS))
        if unknown:
            raise InputError(
                f"{path}: [columns] maps to {', '.join(unknown)}, which are not canonical columns ({', '.join(FORM_COLUMNS)})."
            )
        bad = sorted(set(values) - set(FORM_COLUMNS))
        if bad:
            raise InputError(f"{path}: [values.{bad[0]}] is not a canonical column.")
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


def _decode(path: Path, data: bytes) -> str:
    """Text of a CSV: UTF-8 or UTF-16 by their byte-order mark, else UTF-8, else CP1251."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                name = encoding.upper().removesuffix("-LE").removesuffix("-BE")
                raise InputError(
                    f"{path}: starts with a {name} byte-order mark but byte {exc.start + len(bom)} is not {name} text."
                ) from None
            break
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Field CSVs from Cyrillic Windows are CP1251; any byte string decodes, so check it looks like text.
            text = data.decode("cp1251")
    if "\x00" in text:
        raise InputError(f"{path}: expected a text CSV in UTF-8, UTF-16 (with byte-order mark) or CP1251, found binary data.")
    return text


def read_table(path: Path | str) -> pd.DataFrame:
    """All cells as strings (blank = ``<NA>``), header names trimmed; raises InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; expected a forms export (CSV or XLSX).")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            table = pd.read_excel(path, sheet_name=0, dtype=str)
        elif suffix in (".csv", ".txt", ".tsv"):
            text = _decode(path, path.read_bytes())
            if not text.strip():
                raise InputError(f"{path}: expected a header row and forms, found an empty file.")
            header = text.splitlines()[0]
            try:
                sep = csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
            except csv.Error:
                sep = ","
            table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
        else:
            raise InputError(f"{path}: expected a .csv, .tsv, .txt or .xlsx forms export, found a {suffix or 'nameless'} file.")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: could not be read as a forms table ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from exc
    table.columns = [str(c).strip().lstrip("\ufeff") for c in table.columns]
    table = table.astype("string")
    return table.mask(table.apply(lambda s: s.str.strip() == ""))


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
    ignored: list[str] = []
    lower = {c.lower(): c for c in columns}
    for col in columns:
        target = mapping.columns.get(col)
        if target is None:
            base = col.split("/")[-1]
            gps = _GPS_KOBO.match(base) or _GPS_ODK.match(base)
            if gps and _canonical_name(gps["q"]) not in ("latitude", "longitude"):
                target = gps["axis"].lower()
            elif col.lower() in TOOL_METADATA or base.lower() in TOOL_METADATA:
                ignored.append(col)
                continue
            else:
                target = _canonical_name(col)
        if target not in FORM_COLUMNS:
            ignored.append(col)
            continue
        if target in sources:
            # A column named exactly like the contract beats a GPS or group-path guess.
            if col.lower() == target:
                ignored.append(sources[target])
                sources[target] = col
            else:
                ignored.append(col)
            continue
        sources[target] = col
    id_fallback = {}
    if "form_id" not in sources:
        for name in ID_FALLBACKS:
            if name.lower() in lower:
                id_fallback["form_id"] = lower[name.lower()]
                break
    if "form_type" not in sources:
        found = ", ".join(columns[:12]) + (" ..." if len(columns) > 12 else "")
        raise InputError(f"{path}: expected the canonical columns form_id and form_type (or a --mapping that names them), found {found}.")
    if "form_id" not in sources and not id_fallback:
        raise InputError(f"{path}: expected a form_id column (or a tool id: _uuid, meta-instanceID or KEY), found none.")
    return sources, id_fallback, ignored


# ---------------------------------------------------------------------------------------- values
def read_forms(path: Path | str, mapping: Mapping | None = None) -> FormsRead:
    """Read one export; every row comes back, canonicalised, with ``_reason`` blank when usable.

    Reasons found here: missing form_id, unknown form_type, invalid overall or yes/no answer,
    coordinates that are not numbers. Location and duplicate checks need all files and the
    boundaries, and happen in :mod:`geo.importer`.
    """
    path = Path(path)
    table = read_table(path)
    read = canonicalise(table, path, mapping)
    read.table = table
    return read


def canonicalise(table: pd.DataFrame, path: Path | str, mapping: Mapping | None = None) -> FormsRead:
    """Canonical columns and row checks for a table of text cells (``<NA>`` = blank): a file's, or the
    records an ODK Central or KoboToolbox API returned, flattened as the tools' own exports name them.

    ``path`` names the source in reasons and errors (a file, or e.g. ``odk:https://host/...``).
    """
    mapping = mapping or Mapping()
    sources, id_fallback, ignored = canonical_columns(list(table.columns), mapping, Path(str(path)))
    n = len(table)
    out = pd.DataFrame(index=table.index)
    for col in FORM_COLUMNS:
        src = sources.get(col) or id_fallback.get(col)
        raw = table[src] if src else pd.Series(pd.NA, index=table.index, dtype="string")
        if col in mapping.values:
            translated = raw.map(lambda v, m=mapping.values[col]: m.get(v, v) if pd.notna(v) else v, na_action="ignore")
            raw = translated.astype("string")
        out[col] = raw.str.strip()
    out["_source"] = str(path)
    out["_row"] = table.index + 2  # the header is row 1, as in a spreadsheet
    keep = [c for c in table.columns if c.split("/")[-1].lower() not in PERSONAL_METADATA]
    out["_original"] = [
        json.dumps({k: v for k, v in row.items() if pd.notna(v)}, ensure_ascii=False, sort_keys=True)
        for row in table[keep].to_dict("records")
    ]
    reason = pd.Series(pd.NA, index=table.index, dtype="string")
    detail = pd.Series(pd.NA, index=table.index, dtype="string")

    def flag(mask: pd.Series, key: str, text: pd.Series | str | None = None) -> None:
        new = mask & reason.isna()
        reason[new] = REASONS[key]
        if text is not None:
            detail[new] = text[new] if isinstance(text, pd.Series) else text

    flag(out["form_id"].isna(), "missing_form_id")
    form_type, bad = map_values(out["form_type"], FORM_TYPE_VALUES)
    flag(bad | form_type.isna(), "form_type", "form_type = " + out["form_type"].fillna("(blank)"))
    out["form_type"] = form_type
    overall, bad = map_values(out["overall"], OVERALL_VALUES)
    flag(bad, "overall", "overall = " + out["overall"].fillna(""))
    out["overall"] = overall
    for col in (*PROBLEMS, "evoting"):
        values, bad = map_values(out[col], YES_NO_VALUES)
        flag(bad, "answer", f"{col} = " + out[col].fillna(""))
        out[col] = values
    setting, bad = map_values(out["urban_rural"], URBAN_RURAL_VALUES)
    warnings = []
    if bad.any():
        warnings.append(f"{path}: {int(bad.sum())} row(s) with urban_rural not urban or rural; left blank.")
    out["urban_rural"] = setting
    org_keys = out["observer_org"].map(normalise_token, na_action="ignore")
    out["observer_org"] = org_keys.map(ORGANISATION_VALUES).astype("string").fillna(out["observer_org"])
    lat = pd.to_numeric(out["latitude"], errors="coerce")
    lon = pd.to_numeric(out["longitude"], errors="coerce")
    given = out["latitude"].notna() | out["longitude"].notna()
    flag(
        given & (lat.isna() | lon.isna()),
        "coordinates",
        "latitude, longitude = " + out["latitude"].fillna("") + ", " + out["longitude"].fillna(""),
    )
    out["latitude"], out["longitude"] = lat, lon
    # Local time as the observer saw it: drop a tool's UTC offset and fractions of a second.
    local = out["observed_at"].str.replace(r"(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", "", regex=True).str.replace(" ", "T", n=1)
    when = pd.to_datetime(local, errors="coerce", format="ISO8601")
    unparsed = out["observed_at"].notna() & when.isna()
    if unparsed.any():
        warnings.append(f"{path}: {int(unparsed.sum())} row(s) with observed_at not an ISO 8601 date-time; kept, time unknown.")
    out["observed_at"] = when.dt.strftime("%Y-%m-%dT%H:%M").astype("string")
    out["_reason"] = reason
    out["_detail"] = detail
    if len(out) != n:  # every row read comes back: a broken invariant is a bug, not the user's file
        raise RuntimeError(f"{path}: {n} rows read but {len(out)} canonicalised; this is a bug in obsmap.")
    return FormsRead(out, ignored, warnings)
