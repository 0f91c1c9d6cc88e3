"""Read a mission's boundary file: any common format and CRS, code and name columns found, checked.

Supported: GeoJSON, GeoPackage (``layer`` when it has several), zipped Shapefile, GeoParquet, and
anything else GDAL reads. Output is always EPSG:4326 with columns ``code``, ``name``, ``geometry``.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from geo.errors import InputError
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


@dataclass
class Boundaries:
    """Checked boundaries plus what was done to them."""

    regions: gpd.GeoDataFrame  # code, name, geometry; EPSG:4326
    source: str
    code_column: str
    name_column: str | None
    repaired: list[str] = field(default_factory=list)  # codes whose geometry was invalid and repaired
    source_crs: str | None = None


def _resolve_path(path: Path) -> str:
    """GDAL path: zipped shapefiles are read through /vsizip/."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            shps = [n for n in zf.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
        if not shps:
            raise InputError(f"{path}: expected a zipped Shapefile (a .shp inside the zip), found none.")
        if len(shps) > 1:
            raise InputError(f"{path}: expected one Shapefile in the zip, found {len(shps)}: {', '.join(shps)}.")
        return f"/vsizip/{path}/{shps[0]}"
    return str(path)


def read_vector(path: Path | str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read any supported vector file, naming the file in every error."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; expected a boundary file (GeoJSON, GeoPackage, zipped Shapefile or GeoParquet).")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        source = _resolve_path(path)
        layers = pyogrio.list_layers(source)
        polygon_layers = [name for name, kind in layers if kind and "Polygon" in str(kind)]
        if layer is None and len(layers) > 1:
            if len(polygon_layers) == 1:
                layer = polygon_layers[0]
            else:
                names = ", ".join(str(name) for name, _ in layers)
                raise InputError(f"{path}: has {len(layers)} layers ({names}); choose one with --layer.")
        if layer is not None and layer not in [name for name, _ in layers]:
            names = ", ".join(str(name) for name, _ in layers)
            raise InputError(f"{path}: no layer named {layer!r}; the file has {names}.")
        return gpd.read_file(source, layer=layer)
    except InputError:
        raise
    except Exception as exc:  # GDAL and pyarrow raise many kinds; the user needs one sentence
        raise InputError(f"{path}: could not be read as a boundary file ({type(exc).__name__}: {str(exc).splitlines()[0]}).") from exc


def _pick_columns(gdf: gpd.GeoDataFrame, path: Path, level: int, code: str | None, name: str | None) -> tuple[str, str | None]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for flag, value in (("--code-column", code), ("--name-column", name)):
        if value is not None and value not in cols:
            raise InputError(f"{path}: no column {value!r} (given with {flag}); the file has {', '.join(cols)}.")
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
        f"{path}: expected a region code column (iso_3166_2, shapeISO, shapeID, ADM{level}_PCODE, GID_{level} or code), "
        f"found {', '.join(cols)}; name it with --code-column."
    )


def load_boundaries(
    path: Path | str,
    layer: str | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    level: int = 1,
) -> Boundaries:
    """Read, check and normalise a boundary file.

    Raises :class:`InputError` when the file is missing or unreadable, has no polygons, or its codes
    are empty or not unique (naming the features). Invalid geometries are repaired with
    ``make_valid`` and listed in ``Boundaries.repaired``.
    """
    path = Path(path)
    gdf = read_vector(path, layer)
    if gdf.geometry is None or gdf.empty:
        raise InputError(f"{path}: expected polygons of regions, found no features.")
    kinds = set(gdf.geom_type.dropna())
    if not kinds & {"Polygon", "MultiPolygon"}:
        raise InputError(f"{path}: expected polygons of regions, found {', '.join(sorted(kinds)) or 'no geometry'}.")
    code_col, name_col = _pick_columns(gdf, path, level, code_column, name_column)

    codes = gdf[code_col].astype("string").str.strip()
    empty = codes.isna() | (codes == "")
    if empty.any():
        rows = ", ".join(str(i + 1) for i in gdf.index[empty][:10])
        raise InputError(f"{path}: column {code_col!r} is empty for feature(s) {rows}; every region needs a code.")
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        detail = "; ".join(f"{c} (features {', '.join(str(i + 1) for i in dup.index[dup == c])})" for c in dup.unique()[:5])
        raise InputError(f"{path}: column {code_col!r} must hold a unique code per region; duplicated: {detail}.")

    source_crs = gdf.crs.to_string() if gdf.crs is not None else None
    if gdf.crs is None:
        log.warning("%s: no CRS given; assuming WGS84 longitude/latitude", path)
        gdf = gdf.set_crs(4326)
    gdf = gdf.to_crs(4326)

    geoms = gdf.geometry.values
    invalid = ~shapely.is_valid(geoms)
    repaired = codes[invalid].tolist()
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        geoms = geoms.copy()
        geoms[invalid] = [polygonal(g) for g in fixed]
    names = gdf[name_col].astype("string").fillna(codes) if name_col else codes
    regions = gpd.GeoDataFrame({"code": codes.to_numpy(), "name": names.to_numpy()}, geometry=list(geoms), crs=4326)
    regions = regions[~regions.geometry.is_empty & regions.geom_type.isin(["Polygon", "MultiPolygon"])]
    if regions.empty:
        raise InputError(f"{path}: expected polygons of regions, found none that are usable.")
    return Boundaries(regions.reset_index(drop=True), str(path), code_col, name_col, repaired, source_crs)


def derive_parents(districts: gpd.GeoDataFrame, regions: gpd.GeoDataFrame) -> pd.Series:
    """For each district, the code of the region it overlaps most (in an equal-area CRS)."""
    eq = 6933  # World Cylindrical Equal Area
    d = districts[["code", "geometry"]].to_crs(eq).reset_index(drop=True)
    r = regions[["code", "geometry"]].to_crs(eq).rename(columns={"code": "parent"})
    pieces = gpd.overlay(d, r, how="intersection", keep_geom_type=True)
    pieces["area"] = pieces.area
    best = pieces.sort_values("area", ascending=False).drop_duplicates("code").set_index("code")["parent"]
    return d["code"].map(best).set_axis(districts.index)
