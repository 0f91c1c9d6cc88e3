"""Turn a mission's own boundary file and form exports into a mission folder, nothing lost.

    read = accepted + set aside, exactly.

Every row read ends up either in ``forms.csv`` or in ``set_aside.csv`` (with its source file, row
number, original values and reason); ``import_report.json`` counts both. Everything else the
import drops, repairs or assumes (boundary features that are not polygons, a CRS taken as
EPSG:4326, districts in no region, a web copy over its budget, a region_code overridden by the
coordinates, ...) is one sentence in the report's ``warnings``, which the command line prints.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.boundaries import Boundaries, derive_parents, language_name_columns, load_boundaries
from geo.errors import InputError, MissionDataError
from geo.forms_import import (
    REASONS,
    ElectionWindow,
    FormsRead,
    Mapping,
    canonical_columns,
    drop_personal,
    infer_window,
    original_values,
    read_forms,
    read_table,
    reason_codes,
    reason_text,
    reason_texts,
    set_aside_outside,
    table_warnings,
)
from geo.i18n import SOURCE, _, languages, ngettext, number, use
from geo.ingest import ingest_checked_rows
from geo.join import join_points_to_regions
from geo.mission import MissionDataset, build_mission, check_out_dir, load_mission, write_snapshot_of
from geo.schema import FORM_COLUMNS, STATION_COLUMNS
from geo.store import REVIEW_STATES, open_store
from geo.values import URBAN_RURAL_VALUES, YES_NO_VALUES, fold, map_distinct, map_values
from geo.webgeom import web_layers

SET_ASIDE_FILE = "set_aside.csv"
REPORT_FILE = "import_report.json"


@dataclass
class ImportResult:
    mission: MissionDataset
    report: dict[str, Any]


def _region_lookup(regions: gpd.GeoDataFrame) -> dict[str, str]:
    """Codes and names, case- and accent-insensitive, to the region code. Codes win over names."""
    lookup = {}
    for column in language_name_columns(regions.columns):  # a name in another language (Russian) names the region too
        lookup.update({fold(n): c for c, n in zip(regions["code"], regions[column], strict=True) if isinstance(n, str) and n})
    lookup.update({fold(n): c for c, n in zip(regions["code"], regions["name"], strict=True)})
    lookup.update({fold(c): c for c in regions["code"]})
    return lookup


def resolve_region_codes(values: pd.Series, regions: gpd.GeoDataFrame) -> pd.Series:
    """Region codes or names as written in a file -> codes of the boundary file (``<NA>`` if unknown)."""
    lookup = _region_lookup(regions)
    return map_distinct(values, lambda v: lookup.get(fold(v)))


def _override_mask(located: pd.Series, given: pd.Series, resolved: pd.Series) -> pd.Series:
    """Rows whose coordinates placed them somewhere other than the code they gave (coordinates win)."""
    return (located.notna() & given.notna() & (resolved.isna() | (resolved != located))).fillna(False).astype(bool)


def read_registry(path: Path | str, regions: gpd.GeoDataFrame, notes: list[str] | None = None) -> pd.DataFrame:
    """A polling-station registry (``ps_id`` required), located by coordinates or region code.

    Values left blank or overridden are appended to ``notes``, one sentence each: urban/rural or
    e-voting values not in the contract, stations placed in no region, region codes overridden by
    the station's coordinates.
    """
    path = Path(path)
    notes = [] if notes is None else notes
    table = read_table(path)
    notes += table_warnings(table)
    cols = {c.lower(): c for c in table.columns}
    if "ps_id" not in cols:
        raise InputError(
            _("{file}: expected a polling-station registry with a ps_id column, found {columns}.").format(
                file=path, columns=", ".join(table.columns)
            )
        )
    st = pd.DataFrame({c: table[cols[c]] if c in cols else pd.Series(pd.NA, index=table.index, dtype="string") for c in STATION_COLUMNS})
    st["latitude"] = pd.to_numeric(st["latitude"], errors="coerce")
    st["longitude"] = pd.to_numeric(st["longitude"], errors="coerce")
    for col, table_ in (("urban_rural", URBAN_RURAL_VALUES), ("evoting", YES_NO_VALUES)):
        values, bad = map_values(st[col], table_)
        if bad.any():
            first, n = st.loc[bad, col].iloc[0], int(bad.sum())
            if col == "urban_rural":
                sentence = ngettext(
                    "{file}: {n} station(s) with {column} not urban or rural (first {first!r}); left blank.",
                    "{file}: {n} station(s) with {column} not urban or rural (first {first!r}); left blank.",
                    n,
                )
            else:
                sentence = ngettext(
                    "{file}: {n} station(s) with {column} not yes or no (first {first!r}); left blank.",
                    "{file}: {n} station(s) with {column} not yes or no (first {first!r}); left blank.",
                    n,
                )
            notes.append(sentence.format(file=path, n=n, column=col, first=first))
        st[col] = values
    dup = st["ps_id"].duplicated()
    if dup.any():
        first = st.loc[dup, "ps_id"].iloc[0]
        n = int(dup.sum())
        sentence = ngettext(
            "{file}: ps_id must be unique in a registry; {n} duplicate(s), first {first!r}.",
            "{file}: ps_id must be unique in a registry; {n} duplicate(s), first {first!r}.",
            n,
        )
        raise InputError(sentence.format(file=path, n=n, first=first))
    located = join_points_to_regions(st, regions)
    by_code = resolve_region_codes(st["region_code"], regions)
    overridden = _override_mask(located, st["region_code"], by_code)
    if overridden.any():
        i = overridden.idxmax()
        n = int(overridden.sum())
        sentence = ngettext(
            "{file}: {n} station(s) have a region_code other than the region their coordinates lie in "
            "(first ps_id {ps_id!r}: region_code {code!r}, coordinates in {region}); the coordinates were used.",
            "{file}: {n} station(s) have a region_code other than the region their coordinates lie in "
            "(first ps_id {ps_id!r}: region_code {code!r}, coordinates in {region}); the coordinates were used.",
            n,
        )
        notes.append(sentence.format(file=path, n=n, ps_id=st.at[i, "ps_id"], code=st.at[i, "region_code"], region=located[i]))
    st["region_code"] = located.fillna(by_code)
    nowhere = st["region_code"].isna()
    if nowhere.any():
        n = int(nowhere.sum())
        sentence = ngettext(
            "{file}: {n} station(s) are in no region (coordinates outside every region, or no coordinates "
            "and no known region_code; first ps_id {ps_id!r}); forms at them are located by their own coordinates or region_code.",
            "{file}: {n} station(s) are in no region (coordinates outside every region, or no coordinates "
            "and no known region_code; first ps_id {ps_id!r}); forms at them are located by their own coordinates or region_code.",
            n,
        )
        notes.append(sentence.format(file=path, n=n, ps_id=st.loc[nowhere, "ps_id"].iloc[0]))
    return st


def locate_forms(forms: pd.DataFrame, regions: gpd.GeoDataFrame, registry: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``region_code`` and set location reasons, in the order of the import contract.

    1. coordinates: spatial join (outside every region -> set aside);
    2. else ``ps_id`` found in the registry: the station's region;
    3. else ``region_code`` (a code of the boundary file, or a region name);
    4. else set aside, "no location".
    Blank urban/rural and e-voting values are taken from the registry when the ps_id is known.
    """
    forms = forms.copy()
    open_ = forms["_reason"].isna()
    has_xy = forms["latitude"].notna() & forms["longitude"].notna()
    by_xy = join_points_to_regions(forms, regions)
    by_ps = pd.Series(pd.NA, index=forms.index, dtype="string")
    if registry is not None:
        st = registry.set_index("ps_id")
        by_ps = forms["ps_id"].map(st["region_code"]).astype("string")
        for col in ("urban_rural", "evoting"):
            forms[col] = forms[col].fillna(forms["ps_id"].map(st[col]).astype("string"))
    by_code = resolve_region_codes(forms["region_code"], regions)
    given_code = forms["region_code"].notna()

    region = by_xy.where(has_xy, by_ps.fillna(by_code))
    reason = forms["_reason"].copy()
    detail = forms["_detail"].copy()
    outside = open_ & has_xy & by_xy.isna()
    reason[outside] = REASONS["outside"]
    if outside.any():  # the detail made for those rows only
        detail[outside] = (
            "latitude, longitude = "
            + forms.loc[outside, "latitude"].astype("string")
            + ", "
            + forms.loc[outside, "longitude"].astype("string")
        )
    unknown = open_ & ~has_xy & by_ps.isna() & given_code & by_code.isna()
    reason[unknown] = REASONS["region_code"]
    if unknown.any():
        detail[unknown] = "region_code = " + forms.loc[unknown, "region_code"]
    nowhere = open_ & ~has_xy & by_ps.isna() & ~given_code
    reason[nowhere] = REASONS["no_location"]
    forms["region_code"] = region
    forms["_reason"] = reason
    forms["_detail"] = detail
    return forms


def mark_duplicates(forms: pd.DataFrame) -> pd.DataFrame:
    """Set aside every repeat of a form_id (the first row read is kept)."""
    forms = forms.copy()
    repeat = forms["form_id"].notna() & forms["form_id"].duplicated(keep="first")
    new = repeat & forms["_reason"].isna()
    if not new.any():
        return forms
    first_at = forms[forms["form_id"].isin(forms.loc[new, "form_id"])].drop_duplicates("form_id").set_index("form_id")
    # TRANSLATORS: where a form_id was first read, e.g. "forms.csv row 12"
    at = _("{file} row {row}")
    places = zip(first_at["_source"], first_at["_row"], strict=True)
    first_seen = pd.Series([at.format(file=f, row=r) for f, r in places], index=first_at.index)
    where = forms.loc[new, "form_id"].map(first_seen)
    forms.loc[new, "_reason"] = REASONS["duplicate_form_id"]
    before, after = _("first seen in {where}").split("{where}", 1)  # one lookup, then joined for every row at once
    forms.loc[new, "_detail"] = before + where + after
    # A repeat already set aside for another reason keeps that reason; it is still not accepted.
    return forms


def fill_originals(rows: pd.DataFrame, reads: list[FormsRead], sizes: list[int]) -> None:
    """Fill ``_original`` of the rows set aside (``rows``: the reads' rows, ``sizes`` of each, concatenated in order)
    from each file's table."""
    start = 0
    aside = rows["_reason"].notna().to_numpy()
    for r, size in zip(reads, sizes, strict=True):
        stop = start + size
        here = aside[start:stop].nonzero()[0]
        if len(here) and r.table is not None:
            texts = original_values(r.table, (rows["_row"].iloc[start + here] - 2).to_numpy())
            rows.iloc[start + here, rows.columns.get_loc("_original")] = texts.to_numpy()
        start = stop


def _modified(path: Path | str) -> str:
    """A file's modification time, as a version's time (UTC, microseconds)."""
    return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _deliveries_of(table: pd.DataFrame, path: Path, written: str, mapping: Mapping) -> pd.DataFrame:
    """What the tool says of each row of a forms file (:func:`geo.sync.file_deliveries`), as columns ``form_key``,
    ``submitted_at``, ``version_id``, ``previous_id``, ``review``; a canonical file's a column at a time."""
    lower = {c.lower() for c in table.columns}
    if "key" in lower or "_uuid" in lower:  # ODK Central's, KoboToolbox's: the tools' own rules, row by row
        from geo.sync import file_deliveries

        listed = file_deliveries(table, path, written, mapping)
        fields = ("form_key", "submitted_at", "version_id", "previous_id", "review")
        return pd.DataFrame({f: [getattr(d, f) for d in listed] for f in fields}, columns=list(fields))
    sources, fallback, _columns = canonical_columns(list(table.columns), mapping, path)
    ids = table[sources.get("form_id") or fallback["form_id"]].astype(object).tolist()
    keys = [("" if v is None or v is pd.NA else str(v)).strip() for v in ids]  # as file_deliveries: the form_id, trimmed
    return pd.DataFrame({"form_key": pd.array(keys, dtype="string"), "submitted_at": written}, index=range(len(keys)))


def _translate_generated(mission_meta: dict[str, Any], given: dict[str, Any], boundaries: Path | str, forms: list[Path | str]) -> None:
    """The texts an import writes itself into mission.json (the default name, the sources lines), in every shipped
    language, as its "translations" (:meth:`geo.mission.MissionDataset.text`); texts the caller gave are left alone."""
    translations: dict[str, dict[str, Any]] = {}
    for lang in languages():
        if lang == SOURCE:
            continue
        with use(lang):
            texts: dict[str, Any] = {}
            if "name" not in given:
                texts["name"] = _("Imported mission")
            if "sources" not in given:
                texts["sources"] = [
                    _("Boundaries: {file}").format(file=Path(boundaries).name),
                    *(_("Forms: {file}").format(file=Path(p).name) for p in forms),
                ]
        if texts:
            translations[lang] = {**texts, **((given.get("translations") or {}).get(lang) or {})}
    if translations:
        mission_meta["translations"] = {**(given.get("translations") or {}), **translations}


def _boundary_report(b: Boundaries) -> dict[str, Any]:
    return {
        "file": b.source,
        "code_column": b.code_column,
        "name_column": b.name_column,
        "name_columns": b.name_columns,
        "source_crs": b.source_crs,
        "crs_assumed": b.crs_assumed,
        "repaired": b.repaired,
        "dropped": b.dropped,
    }


# Stated limits (README): a forms file beyond them ends in one sentence before it is read.
MAX_FORM_FILE_BYTES = 2_000_000_000  # a CSV of about 5 million forms
MAX_XLSX_BYTES = 100_000_000  # spreadsheets unpack to many times their size in memory: use CSV for more


def check_form_file_size(path: Path | str) -> None:
    """Refuse, in one sentence, a forms file too large to read in bounded memory."""
    path = Path(path)
    if not path.is_file():
        return  # read_forms names a missing file
    size = path.stat().st_size
    limit = MAX_XLSX_BYTES if path.suffix.lower() in (".xlsx", ".xlsm") else MAX_FORM_FILE_BYTES
    if size > limit:
        raise InputError(
            _("{file}: {size} MB; obsmap reads forms files of at most {limit} MB (export as CSV, or split it).").format(
                file=path, size=number(size / 1e6, 0), limit=number(limit / 1e6, 0)
            )
        )


def _check_report_path(report: Path, inputs: list[Path | str | None]) -> None:
    """A --report is a new file, or an earlier report: never a folder, an input, or another file of the user's."""
    if not report.parent.is_dir():
        raise InputError(_("--report {file}: its folder does not exist; give a file in an existing folder.").format(file=report))
    if report.is_dir():
        raise InputError(_("--report {file}: is a folder; give the name of a .json file to write.").format(file=report))
    given = {Path(p).resolve() for p in inputs if p is not None}
    if report.resolve() in given:
        raise InputError(_("--report {file}: is one of the import's own input files; give another name.").format(file=report))
    if report.exists() and report.suffix.lower() != ".json":
        raise InputError(_("--report {file}: exists and is not a .json report; obsmap does not overwrite it.").format(file=report))


MIN_ACCEPTED_SHARE = 0.5  # an import keeping fewer of its rows than this does not replace a mission without --force


@contextmanager
def import_lock(out: Path | str) -> Iterator[None]:
    """One import at a time into ``out``: a second one, started meanwhile, is refused with one sentence
    (never two imports racing to replace the same folder, the last silently winning)."""
    out = Path(out).absolute()
    home = out.parent / f".{out.name}-store"  # beside the folder, with the live store every import writes into
    try:
        home.mkdir(parents=True, exist_ok=True)
        handle = open(home / "import.lock", "a+", encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(
            _("{folder}: cannot write beside it ({error}); choose a folder you can write to.").format(
                folder=out, error=exc.strerror or type(exc).__name__
            )
        ) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or _("another process")
            raise InputError(
                _("{folder}: another import into this folder is running ({holder}); wait for it to end.").format(folder=out, holder=holder)
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            # A refused import leaves nothing beside --out: the lock's folder goes when no store lives in it.
            if not any(p.name != "import.lock" for p in home.iterdir()):
                with suppress(OSError):
                    (home / "import.lock").unlink()
                    home.rmdir()


@contextmanager
def _store_write(out: Path | str) -> Iterator[None]:
    """The import's write into the live store, after the new folder is in place: a failure there (a database gone, a
    full disk) is said in one sentence, with what to do. The store's batch is one transaction, so it added nothing;
    the forms are in the folder and in the files given, and the same import again adds them (nothing twice)."""
    import sqlite3

    import psycopg

    try:
        yield
    except (sqlite3.Error, psycopg.Error, OSError, MissionDataError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise MissionDataError(
            _(
                "{folder}: the mission folder is written, but its forms did not reach the live store ({reason}); the store "
                "is as it was: run the same import again once that is fixed (no form is imported twice)."
            ).format(folder=out, reason=reason)
        ) from exc


def check_before_replacing(out: Path | str, rows: pd.DataFrame, accepted: pd.DataFrame, regions: gpd.GeoDataFrame, force: bool) -> None:
    """Refuse, in one sentence naming the likely cause, an import that would leave a mission with no forms, or
    replace one with a small part of its rows (``--force`` overrides): coordinates swapped or in metres, an empty file."""
    read, kept = len(rows), len(accepted)
    exists = (Path(out) / "mission.json").exists()
    if force or (kept > 0 and (not exists or kept >= MIN_ACCEPTED_SHARE * read)):
        return
    cause = _diagnose(rows, regions)
    if kept == 0 and not exists:
        sentence = _(
            "{folder}: this import would keep no form{cause}; it does not make a mission without --force "
            "(see the set-aside reasons with --report)."
        )
    elif kept == 0:
        sentence = _(
            "{folder}: this import would keep no form{cause}; it does not replace the mission there without --force "
            "(see the set-aside reasons with --report)."
        )
    else:
        sentence = _(
            "{folder}: this import would keep only {kept} of {read} rows{cause}; it does not replace the mission there without "
            "--force (see the set-aside reasons with --report)."
        )
    raise InputError(sentence.format(folder=out, cause=cause, kept=number(kept), read=number(read)))


def _diagnose(rows: pd.DataFrame, regions: gpd.GeoDataFrame) -> str:
    """Why so few rows were kept, when the coordinates say so: swapped, in metres; or an empty file."""
    if rows.empty:
        return _(": the forms files hold a header and no rows")
    outside = rows[rows["_reason"] == REASONS["outside"]]
    if len(outside):
        big = (outside["latitude"].abs() > 90) | (outside["longitude"].abs() > 180)
        if big.mean() > 0.5:
            return _(
                ": {n} of {total} rows outside every region have coordinates beyond ±90/±180, like metres of a projected CRS, not degrees"
            ).format(n=number(int(big.sum())), total=number(len(outside)))
        swapped = outside.assign(latitude=outside["longitude"], longitude=outside["latitude"])
        inside = join_points_to_regions(swapped, regions).notna()
        if inside.mean() > 0.5:
            return _(
                ": latitude and longitude look swapped ({n} of {total} rows outside every region fall inside regions when swapped)"
            ).format(n=number(int(inside.sum())), total=number(len(outside)))
    reasons = rows["_reason"].value_counts()
    if not len(reasons):
        return ""
    return _(": most rows set aside as {reason!r} ({n})").format(reason=reason_text(reasons.index[0]), n=number(int(reasons.iloc[0])))


def election_window(out: Path | str, meta: dict[str, Any] | None, rows: pd.DataFrame, warnings: list[str]) -> ElectionWindow | None:
    """The mission's election window: declared (``meta``, else the mission.json already at ``out``, unless the
    import inferred it there), else inferred from the commonest date of the forms' times (a sentence in ``warnings``)."""
    declared = meta or {}
    where = _("election date")  # names what was given, in the messages of ElectionWindow.from_meta
    if not declared.get("election_date"):
        try:
            declared = json.loads((Path(out) / "mission.json").read_text(encoding="utf-8"))
            where = str(Path(out) / "mission.json")
        except (OSError, ValueError):
            declared = {}
    window = ElectionWindow.from_meta(declared if isinstance(declared, dict) else {}, where)
    if window is not None and not window.inferred:  # a window an earlier import inferred is inferred again
        return window
    window = infer_window(rows["observed_at"])
    if window is None:
        warnings.append(_("No form has an observed_at date and time, and no election date was given: no election window is checked."))
    else:
        timed = rows["observed_at"].notna()
        on_day = int((rows.loc[timed, "observed_at"].astype(str).str[:10] == f"{window.election_date:%Y-%m-%d}").sum())
        warnings.append(
            _(
                "No election date given: election day taken as {date}, the commonest date of the forms' times "
                "({n} of {total} timed rows); forms observed outside {window} are set aside."
            ).format(date=f"{window.election_date:%Y-%m-%d}", n=number(on_day), total=number(int(timed.sum())), window=window.describe())
        )
    return window


def import_mission(
    boundaries: Path | str,
    forms: list[Path | str],
    out: Path | str,
    *,
    layer: str | None = None,
    code_column: str | None = None,
    name_column: str | list[str] | None = None,
    districts: Path | str | None = None,
    district_layer: str | None = None,
    district_code_column: str | None = None,
    district_name_column: str | list[str] | None = None,
    mapping: Path | str | None = None,
    stations: Path | str | None = None,
    teams: Path | str | None = None,
    meta: dict[str, Any] | None = None,
    report_path: Path | str | None = None,
    progress: Callable[[str], None] = lambda message: None,
    force: bool = False,
) -> ImportResult:
    """Import a mission. Whole-file problems raise :class:`InputError` before anything is written.

    ``name_column`` and ``district_name_column``: a column, or a list of ``--name-column`` values (``COLUMN`` and
    ``LANG=COLUMN``, e.g. ``["ADM1_EN", "ru=ADM1_RU"]``); see :func:`geo.boundaries.load_boundaries`.
    """
    check_out_dir(out)  # before any work: an --out that is not a mission folder is refused, untouched
    if report_path is not None:
        _check_report_path(Path(report_path), [boundaries, *forms, districts, mapping, stations, teams])
    with import_lock(out):
        return _import_locked(
            boundaries, forms, out, layer=layer, code_column=code_column, name_column=name_column, districts=districts,
            district_layer=district_layer, district_code_column=district_code_column, district_name_column=district_name_column,
            mapping=mapping, stations=stations, teams=teams, meta=meta, report_path=report_path, progress=progress, force=force,
        )  # fmt: skip


def _import_locked(boundaries, forms, out, *, layer, code_column, name_column, districts, district_layer, district_code_column,
                   district_name_column, mapping, stations, teams, meta, report_path, progress, force) -> ImportResult:  # fmt: skip
    progress(_("reading boundaries {file}").format(file=boundaries))
    bounds: Boundaries = load_boundaries(boundaries, layer=layer, code_column=code_column, name_column=name_column)
    regions = bounds.regions
    progress(
        "  "
        + ngettext(
            "{n} regions (codes from {code!r}, names from {name!r})", "{n} regions (codes from {code!r}, names from {name!r})", len(regions)
        ).format(n=len(regions), code=bounds.code_column, name=bounds.name_column)
    )
    for lang, column in bounds.name_columns.items():
        progress("  " + _("names in {language} from {column!r}").format(language=lang, column=column))
    if bounds.repaired:
        progress("  " + _("repaired invalid geometry of {codes}").format(codes=", ".join(bounds.repaired)))
    warnings: list[str] = list(bounds.notes)
    district_gdf = None
    district_report = None
    if districts is not None:
        progress(_("reading districts {file}").format(file=districts))
        dist = load_boundaries(districts, district_layer, district_code_column, district_name_column, level=2)
        district_gdf = dist.regions.assign(parent=derive_parents(dist.regions, regions))
        orphans = district_gdf.loc[district_gdf["parent"].isna(), "code"].tolist()
        warnings += dist.notes
        if orphans:
            listed = ", ".join(orphans[:20]) + (_(" and {n} more").format(n=len(orphans) - 20) if len(orphans) > 20 else "")
            warnings.append(
                _(
                    "{file}: district(s) {districts} overlap no region of {regions}; they have no parent region and "
                    "do not show when a region is drilled into."
                ).format(file=districts, districts=listed, regions=boundaries)
            )
        district_report = {**_boundary_report(dist), "districts": len(district_gdf), "without_parent": orphans}
        progress(
            "  "
            + ngettext("{n} districts, parents derived spatially", "{n} districts, parents derived spatially", len(district_gdf)).format(
                n=len(district_gdf)
            )
        )
    mapping_ = Mapping.load(mapping)
    registry = None
    if stations is not None:
        progress(_("reading polling-station registry {file}").format(file=stations))
        registry = read_registry(stations, regions, warnings)
        progress("  " + ngettext("{n} stations", "{n} stations", len(registry)).format(n=number(len(registry))))
    teams_df = None
    if teams is not None:
        teams_df = read_table(teams)
        if "team_id" not in teams_df.columns:
            raise InputError(
                _("{file}: expected a teams table with a team_id column, found {columns}.").format(
                    file=teams, columns=", ".join(teams_df.columns)
                )
            )
        # Leaders' names and phones are not copied into the mission folder: teams.csv keeps the rest.
        teams_df, personal = drop_personal(teams_df, teams)
        warnings += table_warnings(teams_df) + personal

    reads, files = [], []
    for path in forms:
        progress(_("reading forms {file}").format(file=path))
        check_form_file_size(path)
        r = read_forms(path, mapping_, originals=False)  # original values: only for the rows set aside, below
        progress("  " + ngettext("{n} rows", "{n} rows", len(r.rows)).format(n=number(len(r.rows))))
        reads.append(r)
    rows = pd.concat([r.rows for r in reads], ignore_index=True)
    sizes = [len(r.rows) for r in reads]
    sources = [r.rows["_source"].iloc[0] if len(r.rows) else None for r in reads]
    for r in reads:
        r.rows = r.rows.iloc[:0]  # its rows live on in `rows`: not held twice
    window = election_window(out, meta, rows, warnings)
    rows = set_aside_outside(rows, window)
    progress(ngettext("checking and locating {n} forms", "checking and locating {n} forms", len(rows)).format(n=number(len(rows))))
    rows = mark_duplicates(rows)
    given_region = rows["region_code"]
    rows = locate_forms(rows, regions, registry)
    has_xy = rows["latitude"].notna() & rows["longitude"].notna()
    open_ = rows["_reason"].isna()
    overridden = open_ & has_xy & _override_mask(rows["region_code"], given_region, resolve_region_codes(given_region, regions))
    if overridden.any():
        i = overridden.idxmax()
        n = int(overridden.sum())
        sentence = ngettext(
            "{n} accepted form(s) give a region_code other than the region their coordinates lie in "
            "(first: {file} row {row}, region_code {code!r}, coordinates in {region}); the coordinates were used.",
            "{n} accepted form(s) give a region_code other than the region their coordinates lie in "
            "(first: {file} row {row}, region_code {code!r}, coordinates in {region}); the coordinates were used.",
            n,
        )
        warnings.append(
            sentence.format(n=n, file=rows.at[i, "_source"], row=rows.at[i, "_row"], code=given_region[i], region=rows.at[i, "region_code"])
        )
    if district_gdf is not None:
        by_district = join_points_to_regions(rows, district_gdf)
        given_district = rows["district_code"]
        by_code = resolve_region_codes(given_district, district_gdf)
        overridden = open_ & _override_mask(by_district, given_district, by_code)
        if overridden.any():
            i = overridden.idxmax()
            n = int(overridden.sum())
            sentence = ngettext(
                "{n} accepted form(s) give a district_code other than the district their coordinates lie "
                "in (first: {file} row {row}, district_code {code!r}, coordinates in {district}); the coordinates were used.",
                "{n} accepted form(s) give a district_code other than the district their coordinates lie "
                "in (first: {file} row {row}, district_code {code!r}, coordinates in {district}); the coordinates were used.",
                n,
            )
            warnings.append(
                sentence.format(n=n, file=rows.at[i, "_source"], row=rows.at[i, "_row"], code=given_district[i], district=by_district[i])
            )
        rows["district_code"] = by_district.fillna(by_code)
        lost = open_ & (has_xy | given_district.notna()) & rows["district_code"].isna()
        if lost.any():
            i = lost.idxmax()
            n = int(lost.sum())
            sentence = ngettext(
                "{n} accepted form(s) have no district: their coordinates lie in no district of {districts} "
                "and their district_code, if any, is not one of its codes (first: {file} row {row}); the district is left blank.",
                "{n} accepted form(s) have no district: their coordinates lie in no district of {districts} "
                "and their district_code, if any, is not one of its codes (first: {file} row {row}); the district is left blank.",
                n,
            )
            warnings.append(sentence.format(n=n, districts=districts, file=rows.at[i, "_source"], row=rows.at[i, "_row"]))

    fill_originals(rows, reads, sizes)
    accepted = rows.loc[rows["_reason"].isna(), list(FORM_COLUMNS)]
    set_aside = rows[rows["_reason"].notna()]
    set_aside_out = pd.DataFrame(
        {
            "source_file": set_aside["_source"],
            "row": set_aside["_row"],
            # A stable code beside the sentence in the import's language (the report's "reasons" keep the English key)
            "reason_code": reason_codes(set_aside["_reason"]),
            "reason": reason_texts(set_aside["_reason"]),
            "detail": set_aside["_detail"],
            "form_id": set_aside["form_id"],
            "original_values": set_aside["_original"],
        }
    )
    for r, src in zip(reads, sources, strict=True):
        here = rows[rows["_source"] == src]
        files.append(
            {
                "file": src,
                "read": len(here),
                "accepted": int(here["_reason"].isna().sum()),
                "set_aside": int(here["_reason"].notna().sum()),
                "ignored_columns": r.ignored_columns,
            }
        )
    warnings += [w for r in reads for w in r.warnings]
    progress(_("preparing the web copy of the boundaries"))
    web = web_layers(regions, district_gdf)
    warnings += web.notes
    report = {
        "read": len(rows),
        "accepted": len(accepted),
        "set_aside": len(set_aside),
        "reasons": {k: int(v) for k, v in set_aside["_reason"].value_counts().sort_index().items()},
        "files": files,
        "warnings": warnings,
        "boundaries": {**_boundary_report(bounds), "regions": len(regions)},
        "time_window": window.report() if window is not None else None,
    }
    if district_report is not None:
        report["districts"] = district_report
    if report["read"] != report["accepted"] + report["set_aside"]:  # nothing lost: a broken invariant is a bug
        raise RuntimeError(f"import: {report['read']} rows read but {report['accepted']} accepted and {report['set_aside']} set aside.")

    observed = pd.to_datetime(accepted["observed_at"], errors="coerce")
    mission_meta = {
        "name": "Imported mission",
        "synthetic": False,
        "data_as_of": observed.max().strftime("%Y-%m-%dT%H:%M") if observed.notna().any() else None,
        "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": [f"Boundaries: {Path(boundaries).name}", *(f"Forms: {Path(p).name}" for p in forms)],
        **(meta or {}),
    }
    _translate_generated(mission_meta, meta or {}, boundaries, forms)
    if window is not None:  # the dashboard's election day, and the window a later sync or watch folder checks against
        mission_meta.update(election_date=f"{window.election_date:%Y-%m-%d}", window_hours=list(window.hours), time_window=window.report())
    check_before_replacing(out, rows, accepted, regions, force)
    # What each tool says of its rows (the logical form, the version's time, review), for the live store below.
    delivered = [
        _deliveries_of(r.table, Path(path), _modified(path), mapping_) for path, r in zip(forms, reads, strict=True) if r.table is not None
    ]
    every = pd.concat(delivered, ignore_index=True) if delivered else None
    keyed = every.iloc[accepted.index.to_numpy()].reset_index(drop=True) if every is not None and len(every) == len(rows) else None
    del rows, delivered, every  # a million forms' cells: only the accepted rows and those set aside go on
    for r in reads:
        r.table = None
    progress(_("writing {folder}").format(folder=out))
    build_mission(  # read back once, below, with the live store filled
        Path(out),
        regions,
        accepted[list(FORM_COLUMNS)],
        mission_meta,
        stations=registry,
        teams=teams_df,
        districts=district_gdf,
        extra_files={SET_ASIDE_FILE: set_aside_out, REPORT_FILE: report},
        join=False,
        web=web,
        symlink=True,
        load=False,
    )
    # The live store: the forms join those already there (earlier imports, a sync); the same export twice changes nothing.
    if keyed is not None:
        keys = keyed["form_key"]
        if (keys.isna() | (keys == "")).any() or keys.duplicated().any():
            keyed = None  # the tool's ids are blank or repeated here: each accepted row is the form of its own form_id
    with _store_write(out):  # only the store's write: a failure after its commit (the snapshot) is another matter
        store = open_store(out)
        try:
            stored = ingest_checked_rows(store, accepted, set_aside, "import:" + ", ".join(Path(p).name for p in forms), keyed)
        except BaseException:
            store.close()
            raise
    with store:
        counts = store.counts()
        report["store"] = {"new": stored.new, "updated": stored.updated, "unchanged": stored.unchanged, **counts}
        made_all = counts["forms"] + counts["deleted"] == stored.new == len(accepted) > 0
        if made_all and store.path is not None and store.data_version() == stored.data_version:  # SQLite: snapshot beside it
            # Every form of the store is one this import just made: its snapshot is written from the rows in memory
            # (what reading them back would give), not by reading a million rows back from the store.
            # Text as the store keeps it; the coordinates stay numbers (text that reads back as the same floats).
            current = pd.DataFrame(
                {
                    col: accepted[col].reset_index(drop=True).astype("Float64" if col in ("latitude", "longitude") else "string")
                    for col in FORM_COLUMNS
                }
            )
            current["form_key"] = keyed["form_key"].astype("string") if keyed is not None else current["form_id"]
            current["form_id"] = current["form_key"]
            review = keyed["review"] if keyed is not None and "review" in keyed else pd.Series(None, index=current.index, dtype=object)
            current["review"] = review.where(review.isin(REVIEW_STATES), "pending").to_numpy(dtype=object)
            current["first_data_version"] = stored.data_version
            if not current["form_key"].is_monotonic_increasing:  # in the store's order (a file is often in it already)
                current = current.sort_values("form_key", kind="stable", ignore_index=True)
            write_snapshot_of(store.path, current, stored.data_version, store.store_id())
    (Path(out) / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    del accepted, set_aside, set_aside_out, reads, keyed  # a million forms' frames: freed before the read-back
    mission = load_mission(out)
    if report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ImportResult(mission, report)
