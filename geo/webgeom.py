"""Boundary geometry prepared once for the browser: WGS84, coverage-simplified, rounded.

What the web copy could not do as intended (simplify the regions as a coverage, fit the byte
budget, draw a region too small for the rounding) is returned as sentences in ``notes`` and
reaches the import report; nothing about it is silent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.i18n import N_, _, number

# Degrees. 0.01 deg is about 1 km: invisible at country and region zoom. The web copy's budget
# is 200 KB of GeoJSON (the demo's 16 regions take 50 KB).
DEFAULT_TOLERANCE = 0.01
WEB_GEOJSON_BUDGET_BYTES = 200_000
MAX_ATTEMPTS = 12  # the tolerance grows 1.6-fold per attempt: up to 0.01 * 1.6**11, about 1.8 deg

log = logging.getLogger(__name__)
DEFAULT_DECIMALS = 3
# The start of each note about a web copy (by its label), whole: a language may decline the noun.
_WEB_COPY = {"regions": N_("Web copy of the regions"), "districts": N_("Web copy of the districts")}


def _simplify(regions: gpd.GeoDataFrame, tolerance: float, decimals: int) -> tuple[gpd.GeoDataFrame, str | None]:
    """:func:`simplify_for_web` plus why the regions were not simplified as a coverage (``None`` if they were)."""
    out = regions.to_crs(4326).copy()
    fallback = None
    geoms = out.geometry.values
    if shapely.coverage_is_valid(geoms):
        try:
            geoms = shapely.coverage_simplify(geoms, tolerance=tolerance, simplify_boundary=True)
        except shapely.errors.GEOSException as exc:
            fallback = _("coverage simplification failed ({error})").format(error=str(exc).splitlines()[0])
    else:
        # TRANSLATORS: "they" are the regions (or districts) of a boundary file.
        fallback = _("they overlap one another, so they are not a coverage")
    if fallback:
        # Overlapping or otherwise unusable input: simplify each shape on its own instead.
        log.warning("boundaries: %s; simplifying each region separately", fallback)
        geoms = shapely.simplify(out.geometry.values, tolerance, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    geoms = shapely.make_valid(geoms)
    # make_valid may return a GeometryCollection with stray lines; keep the polygonal part.
    geoms = [polygonal(g) for g in geoms]
    out["geometry"] = geoms
    return out, fallback


def simplify_for_web(regions: gpd.GeoDataFrame, tolerance: float = DEFAULT_TOLERANCE, decimals: int = DEFAULT_DECIMALS) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326, simplify as a coverage (shared borders stay shared), round coordinates.

    ``shapely.coverage_simplify`` simplifies each shared edge once, so neighbours keep an
    identical border and no gaps or slivers appear. Rounding snaps every vertex to a grid of
    ``10**-decimals`` degrees, which keeps shared vertices identical too. Regions that overlap
    are not a coverage: each is then simplified on its own (:func:`web_feature_collection` says so).
    """
    return _simplify(regions, tolerance, decimals)[0]


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a geometry (``make_valid`` can add stray lines or points); empty if none."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _json_value(value: Any) -> Any:
    """A property value as JSON: missing values (NaN, ``<NA>``) become null, never the invalid ``NaN``."""
    if value is None or isinstance(value, str):
        return value
    return None if pd.isna(value) else value


def to_feature_collection(regions: gpd.GeoDataFrame, properties: tuple[str, ...] = ("code", "name")) -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection whose feature ``id`` is the region code."""
    features = []
    for row in regions.itertuples(index=False):
        geom = shapely.geometry.mapping(row.geometry)
        features.append(
            {
                "type": "Feature",
                "id": row.code,
                "properties": {p: _json_value(getattr(row, p)) for p in properties},
                "geometry": json.loads(json.dumps(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def web_feature_collection(
    regions: gpd.GeoDataFrame,
    properties: tuple[str, ...] = ("code", "name"),
    budget: int = WEB_GEOJSON_BUDGET_BYTES,
    notes: list[str] | None = None,
    label: str = "regions",
) -> tuple[dict[str, Any], float, int]:
    """Simplify until the GeoJSON fits ``budget`` bytes; returns (collection, tolerance used, size).

    Appended to ``notes``, one sentence each, about the ``label`` (e.g. "regions", "districts"):
    a fallback to simplifying each shape on its own, a copy still over budget at the largest
    tolerance, and features too small to draw once rounded.
    """
    copy = _(_WEB_COPY[label]) if label in _WEB_COPY else _("Web copy of the {label}").format(label=label)
    tolerance = DEFAULT_TOLERANCE
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            tolerance *= 1.6
        simplified, fallback = _simplify(regions, tolerance, DEFAULT_DECIMALS)
        fc = to_feature_collection(simplified, properties)
        size = len(json.dumps(fc, separators=(",", ":")))
        if size <= budget:
            break
    else:
        log.warning("web geometry is %d bytes at tolerance %.3f deg, over the %d-byte budget", size, tolerance, budget)
        if notes is not None:
            notes.append(
                _(
                    "{web_copy}: {size} bytes even at the largest simplification tolerance ({tolerance} degrees), "
                    "over the {budget}-byte budget; the map will load more slowly."
                ).format(web_copy=copy, size=number(size), tolerance=number(tolerance, 3), budget=number(budget))
            )
    if notes is not None:
        if fallback:
            notes.append(
                _(
                    "{web_copy}: {why}; each was simplified on its own, so neighbouring borders may show small gaps or overlaps on the map."
                ).format(web_copy=copy, why=fallback)
            )
        lost = simplified.loc[simplified.geometry.is_empty, "code"].astype(str).tolist()
        if lost:
            notes.append(
                _(
                    "{web_copy}: {codes} are too small to draw at the web copy's precision "
                    "({precision} degrees) and do not show on the map, though their forms are counted."
                ).format(web_copy=copy, codes=", ".join(lost), precision=number(10**-DEFAULT_DECIMALS))
            )
    return fc, tolerance, size


@dataclass
class WebLayers:
    """The browser's copies of a mission's regions (and districts), and what was noted making them."""

    regions: dict[str, Any]
    tolerance: float
    size: int
    districts: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def web_layers(regions: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None = None) -> WebLayers:
    """Web copies of ``regions`` (code, name) and optional ``districts`` (code, name, parent)."""
    notes: list[str] = []
    fc, tolerance, size = web_feature_collection(regions[["code", "name", "geometry"]], notes=notes, label="regions")
    district_fc = None
    if districts is not None:
        district_fc, _tolerance, _size = web_feature_collection(districts, ("code", "name", "parent"), notes=notes, label="districts")
    return WebLayers(fc, tolerance, size, district_fc, notes)


def feature_bounds(collection: dict[str, Any]) -> dict[str, tuple[float, float, float, float]]:
    """(west, south, east, north) of each feature, by feature id; a feature with no coordinates has none."""
    out = {}
    for feature in collection["features"]:
        xy = shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))
        if not len(xy):
            continue
        out[feature["id"]] = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    return out
