"""Locate forms (or stations) in regions with a spatial join."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd


def join_points_to_regions(
    points: pd.DataFrame,
    regions: gpd.GeoDataFrame,
    lat: str = "latitude",
    lon: str = "longitude",
    code: str = "code",
) -> pd.Series:
    """Return, for each row of ``points``, the code of the region that contains it.

    Parameters
    ----------
    points : DataFrame with WGS84 decimal-degree columns ``lat`` and ``lon``.
    regions : polygons with a unique ``code`` column, in any CRS.

    Returns
    -------
    Series aligned on ``points.index``: the region code, or ``<NA>`` when the point has no
    coordinates or falls outside every region. A point on a shared border goes to the
    region listed first, so every point gets at most one code.
    """
    if points.empty:
        return pd.Series(pd.NA, index=points.index, dtype="string")
    x = pd.to_numeric(points[lon], errors="coerce")
    y = pd.to_numeric(points[lat], errors="coerce")
    has_xy = x.notna() & y.notna()
    pts = gpd.GeoDataFrame(
        {"_row": points.index[has_xy]},
        geometry=gpd.points_from_xy(x[has_xy], y[has_xy]),
        crs=4326,
    )
    polys = regions[[code, "geometry"]].to_crs(4326).reset_index(drop=True)
    polys["_order"] = range(len(polys))
    joined = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    joined = joined.sort_values("_order").drop_duplicates("_row", keep="first")
    result = pd.Series(pd.NA, index=points.index, dtype="string")
    found = joined.dropna(subset=[code])
    result.loc[found["_row"].to_numpy()] = found[code].astype("string").to_numpy()
    return result
