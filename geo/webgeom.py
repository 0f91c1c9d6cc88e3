"""Boundary geometry prepared once for the browser: WGS84, coverage-simplified, rounded."""

from __future__ import annotations

import json
import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

# Degrees. 0.01 deg is about 1 km: invisible at country and region zoom. The web copy's budget
# is 200 KB of GeoJSON (the demo's 16 regions take 50 KB).
DEFAULT_TOLERANCE = 0.01
WEB_GEOJSON_BUDGET_BYTES = 200_000

log = logging.getLogger(__name__)
DEFAULT_DECIMALS = 3


def simplify_for_web(regions: gpd.GeoDataFrame, tolerance: float = DEFAULT_TOLERANCE, decimals: int = DEFAULT_DECIMALS) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326, simplify as a coverage (shared borders stay shared), round coordinates.

    ``shapely.coverage_simplify`` simplifies each shared edge once, so neighbours keep an
    identical border and no gaps or slivers appear. Rounding snaps every vertex to a grid of
    ``10**-decimals`` degrees, which keeps shared vertices identical too.
    """
    out = regions.to_crs(4326).copy()
    if shapely.coverage_is_valid(out.geometry.values):
        geoms = shapely.coverage_simplify(out.geometry.values, tolerance=tolerance, simplify_boundary=True)
    else:
        # Overlapping or gapped input is not a coverage; simplify each shape on its own instead.
        log.warning("boundaries overlap or leave gaps; simplifying each region separately")
        geoms = shapely.simplify(out.geometry.values, tolerance, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    geoms = shapely.make_valid(geoms)
    # make_valid may return a GeometryCollection with stray lines; keep the polygonal part.
    geoms = [polygonal(g) for g in geoms]
    out["geometry"] = geoms
    return out


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of a geometry (``make_valid`` can add stray lines or points); empty if none."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def to_feature_collection(regions: gpd.GeoDataFrame, properties: tuple[str, ...] = ("code", "name")) -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection whose feature ``id`` is the region code."""
    features = []
    for row in regions.itertuples(index=False):
        geom = shapely.geometry.mapping(row.geometry)
        features.append(
            {
                "type": "Feature",
                "id": row.code,
                "properties": {p: getattr(row, p) for p in properties},
                "geometry": json.loads(json.dumps(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def web_feature_collection(
    regions: gpd.GeoDataFrame,
    properties: tuple[str, ...] = ("code", "name"),
    budget: int = WEB_GEOJSON_BUDGET_BYTES,
) -> tuple[dict[str, Any], float, int]:
    """Simplify until the GeoJSON fits ``budget`` bytes; returns (collection, tolerance used, size)."""
    tolerance = DEFAULT_TOLERANCE
    for attempt in range(12):
        if attempt:
            tolerance *= 1.6
        fc = to_feature_collection(simplify_for_web(regions, tolerance), properties)
        size = len(json.dumps(fc, separators=(",", ":")))
        if size <= budget:
            break
    else:
        log.warning("web geometry is %d bytes at tolerance %.3f deg, over the %d-byte budget", size, tolerance, budget)
    return fc, tolerance, size


def feature_bounds(collection: dict[str, Any]) -> dict[str, tuple[float, float, float, float]]:
    """(west, south, east, north) of each feature, by feature id."""
    out = {}
    for feature in collection["features"]:
        xy = shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))
        out[feature["id"]] = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    return out
