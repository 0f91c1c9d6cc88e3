import json

import geopandas as gpd
import numpy as np
import shapely

from geo.demo import load_demo_boundaries
from geo.webgeom import WEB_GEOJSON_BUDGET_BYTES, simplify_for_web, to_feature_collection


def test_simplified_demo_regions_keep_shared_borders_and_stay_small():
    full = load_demo_boundaries()
    web = simplify_for_web(full)
    assert web.is_valid.all()
    # No gaps or slivers: the pieces tile the same area as their union, and cover the original.
    areas = web.to_crs(6933).area
    union = web.to_crs(6933).union_all().area
    assert abs(areas.sum() - union) / union < 1e-4
    assert abs(union - full.to_crs(6933).union_all().area) / union < 5e-3
    size = len(json.dumps(to_feature_collection(web), separators=(",", ":")))
    assert size < WEB_GEOJSON_BUDGET_BYTES


def test_simplify_rounds_coordinates_and_reprojects():
    square = shapely.Polygon([(0, 0), (100_000.123456, 0), (100_000, 100_000), (0, 100_000)])
    gdf = gpd.GeoDataFrame({"code": ["X"], "name": ["X"]}, geometry=[square], crs=3857)
    web = simplify_for_web(gdf, decimals=3)
    assert web.crs.to_epsg() == 4326
    xy = shapely.get_coordinates(web.geometry.values)
    assert np.allclose(xy, np.round(xy, 3))
    assert 0.89 < xy[:, 0].max() < 0.91  # 100 km east of 0 is about 0.9 degrees


def test_feature_collection_uses_code_as_feature_id():
    web = simplify_for_web(load_demo_boundaries())
    fc = to_feature_collection(web)
    assert [f["id"] for f in fc["features"]] == web["code"].tolist()
    assert {"code", "name"} <= set(fc["features"][0]["properties"])
