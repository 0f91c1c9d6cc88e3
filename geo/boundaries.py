"""Read a mission's boundary file: any common format and CRS, code and name columns found, checked.

Supported: GeoJSON, GeoPackage (``layer`` when it has several), zipped Shapefile, GeoParquet, and
anything else GDAL reads. Output is always EPSG:4326 with columns ``code``, ``name``, ``geometry``, and
``name_ru`` (...) for each other shipped language the file has names in (:data:`LANGUAGE_PATTERNS`).

Nothing is done silently: every feature dropped (not a polygon, no geometry, nothing left once
repaired), every geometry repaired and everything assumed (a CRS, a layer, names taken from codes)
is one sentence in ``Boundaries.notes``, which the import copies into its report.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import shapely

from geo.errors import InputError
from geo.i18n import N_, SOURCE, _, languages, number
from geo.webgeom import polygonal

log = logging.getLogger(__name__)

# Column pairs of the common sources, most specific first: (code, name).
KNOWN_COLUMNS: dict[int, list[tuple[str, str]]] = {
    1: [
        ("iso_3166_2", "name"),  # Natural Earth admin-1
        ("shapeISO", "shapeName"),  # geoBoundaries
        ("shapeID", "shapeName"),
        ("ADM1_PCODE", "ADM1_EN"),  # OCHA COD
        ("GID_1", "NAME_1"),  # GADM
        ("code", "name"),  # obsmap's own files
    ],
    2: [
        ("shapeISO", "shapeName"),
        ("shapeID", "shapeName"),
        ("ADM2_PCODE", "ADM2_EN"),
        ("GID_2", "NAME_2"),
        ("code", "name"),
    ],
}


# The names in other languages than the name column's, stored beside it (boundaries.parquet, regions.geojson).
LANGUAGE_NAME = "name_{lang}"
# Columns of the common sources that give a unit's name in one language, case-insensitive (Natural Earth: name_ru;
# OpenStreetMap: name:ru; OCHA COD: ADM1_RU; GADM-like: NAME_RU).
LANGUAGE_PATTERNS = ("name_{lang}", "name:{lang}", "name-{lang}", "ADM{level}_{lang}", "ADM{level}_NAME_{lang}", "shapeName_{lang}")


def language_name_columns(columns: object) -> list[str]:
    """The stored names per language among ``columns``: ``name_ru``, ``name_kk``, ... (in their order).

    >>> language_name_columns(["code", "name", "name_ru", "name_KK", "geometry", "name_long"])
    ['name_ru']
    """
    return [c for c in columns if isinstance(c, str) and len(c) in (7, 8) and c.startswith("name_") and c[5:].isalpha() and c[5:].islower()]


def split_name_columns(values: str | list[str] | tuple[str, ...] | None) -> tuple[str | None, dict[str, str]]:
    """``--name-column`` values, each ``COLUMN`` (the names shown in English, and wherever no translation is given)
    or ``LANG=COLUMN`` (the names in that language: ``ru=ADM1_RU``), as (the name column, {language: column}).

    ``en=COLUMN`` is the name column itself. A language obsmap does not speak, or one given twice, is an
    :class:`InputError`.

    >>> split_name_columns(["ADM1_EN", "ru=ADM1_RU"]), split_name_columns("shapeName"), split_name_columns(None)
    (('ADM1_EN', {'ru': 'ADM1_RU'}), ('shapeName', {}), (None, {}))
    """
    if values is None:
        return None, {}
    main: str | None = None
    by_language: dict[str, str] = {}
    for value in [values] if isinstance(values, str) else values:
        lang, sep, column = value.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z]{2,3}", lang.strip()):
            lang, column = SOURCE, value
        lang, column = lang.strip().lower(), column.strip()
        if lang not in languages():
            raise InputError(
                _("--name-column {value}: {language} is not a language obsmap speaks; it speaks {languages}.").format(
                    value=value, language=lang, languages=", ".join(languages())
                )
            )
        if (main if lang == SOURCE else by_language.get(lang)) is not None:
            raise InputError(_("--name-column {value}: the names in {language} are given twice; give one column per language.").format(
                value=value, language=lang))  # fmt: skip
        if lang == SOURCE:
            main = column
        else:
            by_language[lang] = column
    return main, by_language


@dataclass
class Boundaries:
    """Checked boundaries plus what was done to them."""

    regions: gpd.GeoDataFrame  # code, name, geometry; EPSG:4326
    source: str
    code_column: str
    name_column: str | None
    repaired: list[str] = field(default_factory=list)  # codes whose geometry was invalid and repaired
    source_crs: str | None = None
    crs_assumed: bool = False  # the file had no CRS and was taken as EPSG:4326
    dropped: list[dict[str, object]] = field(default_factory=list)  # {"feature", "code", "name", "reason"}
    notes: list[str] = field(default_factory=list)  # one sentence each: what was dropped, repaired or assumed
    name_columns: dict[str, str] = field(default_factory=dict)  # language -> the column its names came from ("ru": "name_ru")


def _resolve_path(path: Path) -> str:
    """GDAL path: zipped shapefiles are read through /vsizip/."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
        if not shps:
            raise InputError(_("{file}: expected a zipped Shapefile (a .shp inside the zip), found none.").format(file=path))
        if len(shps) > 1:
            raise InputError(
                _("{file}: expected one Shapefile in the zip, found {n}: {names}.").format(file=path, n=len(shps), names=", ".join(shps))
            )
        return f"/vsizip/{path}/{shps[0]}"
    return str(path)


def read_vector(path: Path | str, layer: str | None = None, notes: list[str] | None = None) -> gpd.GeoDataFrame:
    """Read any supported vector file, naming the file in every error.

    A choice made for the caller (the only polygon layer among several; ``layer`` ignored for a
    GeoParquet file, which has none) is appended to ``notes`` as a sentence.
    """
    path = Path(path)
    notes = [] if notes is None else notes
    if not path.exists():
        raise InputError(
            _("{file}: file not found; expected a boundary file (GeoJSON, GeoPackage, zipped Shapefile or GeoParquet).").format(file=path)
        )
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            if layer is not None:
                notes.append(_("{file}: a GeoParquet file has no layers; --layer {layer!r} was ignored.").format(file=path, layer=layer))
            count = pq.ParquetFile(path).metadata.num_rows
            if count > MAX_FEATURES:
                raise InputError(
                    _("{file}: has {count} features; obsmap reads at most {limit} regions or districts per file.").format(
                        file=path, count=number(count), limit=number(MAX_FEATURES)
                    )
                )
            gdf = gpd.read_parquet(path)
            _check_vertices(gdf, path)
            return gdf
        source = _resolve_path(path)
        layers = pyogrio.list_layers(source)
        polygon_layers = [name for name, kind in layers if kind and "Polygon" in str(kind)]
        if layer is None and len(layers) > 1:
            if len(polygon_layers) == 1:
                layer = polygon_layers[0]
                others = ", ".join(str(name) for name, _kind in layers if name != layer)
                notes.append(
                    _("{file}: read layer {layer!r}, its only polygon layer (the others, not read: {others}).").format(
                        file=path, layer=layer, others=others
                    )
                )
            else:
                names = ", ".join(str(name) for name, _kind in layers)
                raise InputError(
                    _("{file}: has {n} layers ({names}); choose one with --layer.").format(file=path, n=len(layers), names=names)
                )
        if layer is not None and layer not in [name for name, _kind in layers]:
            names = ", ".join(str(name) for name, _kind in layers)
            raise InputError(_("{file}: no layer named {layer!r}; the file has {names}.").format(file=path, layer=layer, names=names))
        # Counted before anything is loaded: a file of millions of features ends in one sentence, in bounded memory.
        count = pyogrio.read_info(source, layer=layer).get("features", -1)
        if count > MAX_FEATURES:
            raise InputError(
                _(
                    "{file}: has {count} features; obsmap reads at most {limit} regions or districts per file "
                    "(select the country and level you need first, e.g. with ogr2ogr -where)."
                ).format(file=path, count=number(count), limit=number(MAX_FEATURES))
            )
        gdf = gpd.read_file(source, layer=layer)
        _check_vertices(gdf, path)
        return gdf
    except InputError:
        raise
    except Exception as exc:  # GDAL and pyarrow raise many kinds; the user needs one sentence
        raise InputError(
            _("{file}: could not be read as a boundary file ({error}).").format(
                file=path, error=f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
            )
        ) from exc


# Stated limits (README): beyond them a boundary file ends in one sentence, before its work grows without bound.
MAX_FEATURES = 20_000  # regions or districts in one file (the world's admin-1 is about 4,600; a country's admin-3, thousands)
MAX_VERTICES = 20_000_000  # coordinates in one file (a detailed national admin-2 has a few million)


def _check_vertices(gdf: gpd.GeoDataFrame, path: Path) -> None:
    vertices = int(shapely.get_num_coordinates(gdf.geometry.values).sum())
    if vertices > MAX_VERTICES:
        raise InputError(
            _(
                "{file}: has {count} vertices; obsmap reads at most {limit} per file (simplify it first, e.g. mapshaper -simplify 10%)."
            ).format(file=path, count=number(vertices), limit=number(MAX_VERTICES))
        )


def _pick_columns(gdf: gpd.GeoDataFrame, path: Path, level: int, code: str | None, name: str | None) -> tuple[str, str | None]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for flag, value in (("--code-column", code), ("--name-column", name)):
        if value is not None and value not in cols:
            raise InputError(
                _("{file}: no column {column!r} (given with {flag}); the file has {columns}.").format(
                    file=path, column=value, flag=flag, columns=", ".join(map(str, cols))
                )
            )
    if code is not None:
        return code, name
    lower = {c.lower(): c for c in cols}
    for code_col, name_col in KNOWN_COLUMNS[level]:
        if code_col.lower() in lower:
            found = lower[code_col.lower()]
            # geoBoundaries leaves shapeISO empty for many level-2 units: prefer shapeID then.
            if gdf[found].isna().all() or (gdf[found].astype(str).str.strip() == "").all():
                continue
            return found, name or lower.get(name_col.lower())
    raise InputError(
        _(
            "{file}: expected a region code column (iso_3166_2, shapeISO, shapeID, ADM{level}_PCODE, GID_{level} or code), "
            "found {columns}; name it with --code-column."
        ).format(file=path, level=level, columns=", ".join(map(str, cols)))
    )


def _pick_language_columns(gdf: gpd.GeoDataFrame, path: Path, level: int, name_col: str | None, given: dict[str, str]) -> dict[str, str]:
    """The column of names in each shipped language other than English: given (``--name-column ru=COLUMN``), else the
    first of :data:`LANGUAGE_PATTERNS` the file has (never the name column itself)."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for lang, column in given.items():
        if column not in cols:
            raise InputError(
                _("{file}: no column {column!r} (given with {flag}); the file has {columns}.").format(
                    file=path, column=column, flag=f"--name-column {lang}={column}", columns=", ".join(map(str, cols))
                )
            )
    lower = {str(c).lower(): c for c in cols}
    found: dict[str, str] = {}
    for lang in languages():
        if lang == SOURCE:
            continue
        if lang in given:
            found[lang] = given[lang]
            continue
        for pattern in LANGUAGE_PATTERNS:
            column = lower.get(pattern.format(lang=lang, level=level).lower())
            if column is not None and column != name_col:
                found[lang] = column
                break
    return found


def _feature_list(features: list[dict[str, object]], limit: int = 10) -> str:
    """``feature 3 (KZ-ALA, Almaty), feature 7 (...)``, at most ``limit`` of them, then how many more."""
    parts = []
    for f in features[:limit]:
        label = ", ".join(str(v) for v in (f["code"], f["name"]) if v not in (None, "") and v == v)
        parts.append((_("feature {n} ({label})") if label else _("feature {n}")).format(n=f["feature"], label=label))
    more = _(" and {n} more").format(n=len(features) - limit) if len(features) > limit else ""
    return ", ".join(parts) + more


def _reason_text(reason: str) -> str:
    """A reason a feature was dropped (English, as ``Boundaries.dropped`` keeps it) in the language of the moment."""
    kind = re.fullmatch(r"it is a (\w+), not a polygon", reason)
    return _("it is a {kind}, not a polygon").format(kind=kind[1]) if kind else _(reason)


def _check_degrees(gdf: gpd.GeoDataFrame, path: Path, crs_assumed: bool) -> None:
    """Coordinates in EPSG:4326 must be longitude/latitude degrees; if not, the CRS is missing or wrong."""
    xy = shapely.get_coordinates(gdf.geometry.values)
    if not len(xy):
        return
    finite = np.isfinite(xy).all()
    x, y = np.abs(xy[:, 0]).max(), np.abs(xy[:, 1]).max()
    if finite and x <= 180 and y <= 90:
        return
    reach = (
        _("x up to {x} and y up to {y}").format(x=number(x, 0), y=number(y, 0)) if finite else _("coordinates that cannot be reprojected")
    )
    if crs_assumed:
        raise InputError(
            _(
                "{file}: has no CRS and {reach}, which are not longitude/latitude degrees; a CRS is needed: "
                "give the file one (for a Shapefile, its .prj) or reproject it to EPSG:4326."
            ).format(file=path, reach=reach)
        )
    raise InputError(
        _(
            "{file}: read in {crs} and reprojected to EPSG:4326, it has {reach}, which are not "
            "longitude/latitude degrees, so its CRS is missing or wrong (a GeoJSON is always read as WGS84): "
            "reproject it to EPSG:4326 or use a format that records its CRS, such as GeoPackage."
        ).format(file=path, crs=gdf.crs.to_string(), reach=reach)
    )


def load_boundaries(
    path: Path | str,
    layer: str | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    level: int = 1,
    name_columns: dict[str, str] | None = None,
) -> Boundaries:
    """Read, check and normalise a boundary file.

    ``name_column`` is the column of the names (else the one of :data:`KNOWN_COLUMNS` the file has); it may also be
    a list of ``--name-column`` values, ``COLUMN`` or ``LANG=COLUMN`` (:func:`split_name_columns`). The names in each
    other shipped language are kept beside it as ``name_ru``, ...: from ``name_columns`` (``{"ru": "ADM1_RU"}``) or
    those values, else from the first column of :data:`LANGUAGE_PATTERNS` the file has (``name_ru``, ``ADM1_RU``, ...);
    a feature without a name in a language shows its own name there.

    Raises :class:`InputError` when the file is missing or unreadable, has no polygons, or its codes
    are empty or not unique (naming the features), or when its coordinates are not degrees once
    read in its CRS (a file without CRS is taken as EPSG:4326, and that is noted). Features that
    are not polygons are dropped and listed in ``Boundaries.dropped``; invalid geometries are
    repaired with ``make_valid`` and listed in ``Boundaries.repaired``; each of these, and
    everything else assumed, is one sentence in ``Boundaries.notes``.
    """
    path = Path(path)
    notes: list[str] = []
    gdf = read_vector(path, layer, notes)
    if gdf.geometry is None or gdf.empty:
        raise InputError(_("{file}: expected polygons of regions, found no features.").format(file=path))
    gdf = gdf.reset_index(drop=True)
    kinds = set(gdf.geom_type.dropna())
    if not kinds & {"Polygon", "MultiPolygon"}:
        raise InputError(
            _("{file}: expected polygons of regions, found {found}.").format(file=path, found=", ".join(sorted(kinds)) or _("no geometry"))
        )
    name_column, by_language = split_name_columns(name_column) if name_column is not None else (None, {})
    by_language = {**by_language, **(name_columns or {})}
    code_col, name_col = _pick_columns(gdf, path, level, code_column, name_column)
    language_cols = _pick_language_columns(gdf, path, level, name_col, by_language)
    all_codes = gdf[code_col].astype("string").str.strip()
    all_names = gdf[name_col].astype("string").str.strip() if name_col else pd.Series(pd.NA, index=gdf.index, dtype="string")

    dropped: list[dict[str, object]] = []

    def drop(mask: np.ndarray | pd.Series, reason: str | pd.Series) -> None:
        for i in all_codes.index[np.asarray(mask, dtype=bool)]:
            why = reason if isinstance(reason, str) else str(reason[i])
            code, name = all_codes[i], all_names[i]
            dropped.append(
                {
                    "feature": int(i) + 1,
                    "code": None if pd.isna(code) else str(code),
                    "name": None if pd.isna(name) else str(name),
                    "reason": why,
                }
            )

    # Features that cannot be regions are dropped (and reported) before codes are checked.
    geom_type = gdf.geom_type
    missing = gdf.geometry.isna().to_numpy()
    empty = ~missing & gdf.geometry.is_empty.to_numpy()
    drop(missing, N_("it has no geometry"))
    drop(empty, N_("its geometry is empty"))
    usable = ~missing & ~empty
    collection = usable & (geom_type == "GeometryCollection").to_numpy()
    if collection.any():
        parts = gdf.geometry[collection].map(polygonal)
        gdf.loc[collection, gdf.geometry.name] = parts
        nothing = np.zeros(len(gdf), dtype=bool)
        nothing[np.flatnonzero(collection)[parts.is_empty.to_numpy()]] = True
        drop(nothing, N_("it is a GeometryCollection without polygons"))
        trimmed = [i + 1 for i in np.flatnonzero(collection & ~nothing)]
        if trimmed:
            notes.append(
                _("{file}: kept only the polygons of GeometryCollection feature(s) {features}.").format(
                    file=path, features=", ".join(map(str, trimmed))
                )
            )
        usable &= ~nothing
    other = usable & ~gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    drop(other, "it is a " + geom_type.astype(str) + ", not a polygon")
    keep = usable & ~other
    gdf, codes, raw_names = gdf[keep], all_codes[keep], all_names[keep]

    empty_code = codes.isna() | (codes == "")
    if empty_code.any():
        rows = ", ".join(str(i + 1) for i in gdf.index[empty_code][:10])
        raise InputError(
            _("{file}: column {column!r} is empty for feature(s) {features}; every region needs a code.").format(
                file=path, column=code_col, features=rows
            )
        )
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        detail = "; ".join(
            _("{code} (features {features})").format(code=c, features=", ".join(str(i + 1) for i in dup.index[dup == c]))
            for c in dup.unique()[:5]
        )
        raise InputError(
            _("{file}: column {column!r} must hold a unique code per region; duplicated: {detail}.").format(
                file=path, column=code_col, detail=detail
            )
        )

    source_crs = gdf.crs.to_string() if gdf.crs is not None else None
    crs_assumed = gdf.crs is None
    if crs_assumed:
        _check_degrees(gdf, path, crs_assumed=True)
        log.warning("%s: no CRS given; assuming WGS84 longitude/latitude", path)
        notes.append(_("{file}: has no CRS; its coordinates were taken as longitude/latitude degrees (EPSG:4326).").format(file=path))
        gdf = gdf.set_crs(4326)
    gdf = gdf.to_crs(4326)
    _check_degrees(gdf, path, crs_assumed=False)

    geoms = gdf.geometry.values
    invalid = ~shapely.is_valid(geoms)
    repaired = codes[invalid].tolist()
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        geoms = geoms.copy()
        geoms[invalid] = [polygonal(g) for g in fixed]
        notes.append(
            _("{file}: invalid geometry of {codes} repaired (shapely make_valid, polygons kept).").format(
                file=path, codes=", ".join(repaired)
            )
        )
    gone = shapely.is_empty(geoms)
    if gone.any():
        before = len(dropped)
        drop(
            pd.Series(gone, index=gdf.index).reindex(all_codes.index, fill_value=False),
            N_("its geometry is invalid and has no area once repaired"),
        )
        repaired = [c for c in repaired if c not in {d["code"] for d in dropped[before:]}]
    if dropped:
        by_reason: dict[str, list[dict[str, object]]] = {}
        for d in dropped:
            by_reason.setdefault(str(d["reason"]), []).append(d)
        for reason, features in by_reason.items():
            notes.append(
                _("{file}: dropped {features}: {reason}.").format(file=path, features=_feature_list(features), reason=_reason_text(reason))
            )

    no_name = raw_names.isna() | (raw_names == "")
    if name_col is None:
        notes.append(_("{file}: no name column found; the region codes are used as names (name one with --name-column).").format(file=path))
    elif no_name.any():
        listed = ", ".join(f"{i + 1} ({c})" for i, c in zip(gdf.index[no_name][:10], codes[no_name][:10], strict=True))
        more = _(" and {n} more").format(n=int(no_name.sum()) - 10) if no_name.sum() > 10 else ""
        notes.append(
            _("{file}: column {column!r} is empty for feature(s) {features}{more}; their codes are used as names.").format(
                file=path, column=name_col, features=listed, more=more
            )
        )
    names = raw_names.mask(no_name, codes)
    columns = {"code": codes.to_numpy(), "name": names.to_numpy()}
    for lang, column in language_cols.items():
        given = gdf[column].astype("string").str.strip()
        given = given.mask(given == "")
        columns[LANGUAGE_NAME.format(lang=lang)] = given.to_numpy()
        lacking = given.isna() & ~pd.Series(gone, index=gdf.index)
        if lacking.any():
            listed = ", ".join(f"{i + 1} ({c})" for i, c in zip(gdf.index[lacking][:10], codes[lacking][:10], strict=True))
            more = _(" and {n} more").format(n=int(lacking.sum()) - 10) if lacking.sum() > 10 else ""
            notes.append(
                _(
                    "{file}: column {column!r}, the names in {language}, is empty for feature(s) {features}{more}; "
                    "their own names are shown there."
                ).format(
                    file=path, column=column, language=lang, features=listed, more=more
                )
            )  # fmt: skip
    regions = gpd.GeoDataFrame(columns, geometry=list(geoms), crs=4326)
    regions = regions[~gone]
    if regions.empty:
        raise InputError(_("{file}: expected polygons of regions, found none that are usable.").format(file=path))
    return Boundaries(
        regions.reset_index(drop=True), str(path), code_col, name_col, repaired, source_crs, crs_assumed, dropped, notes, language_cols
    )


def derive_parents(districts: gpd.GeoDataFrame, regions: gpd.GeoDataFrame) -> pd.Series:
    """For each district, the code of the region it overlaps most (in an equal-area CRS); ``None`` if it overlaps none."""
    eq = 6933  # World Cylindrical Equal Area
    d = districts[["code", "geometry"]].to_crs(eq).reset_index(drop=True)
    r = regions[["code", "geometry"]].to_crs(eq).rename(columns={"code": "parent"})
    pieces = gpd.overlay(d, r, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.area
    pieces = pieces[pieces["area"] > 0]
    best = pieces.sort_values("area", ascending=False).drop_duplicates("code").set_index("code")["parent"]
    parents = d["code"].map(best).astype(object)
    return parents.where(parents.notna(), None).set_axis(districts.index)
