"""Nothing silent in an import: whatever is dropped, repaired or assumed is one sentence in the report.

Each sentence is in ``report["warnings"]`` (import_report.json, ``ImportResult.report``, and the lines
the command line prints after "warning:"), names the file, and says what was done and why.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from geo.boundaries import load_boundaries
from geo.errors import InputError
from geo.importer import REPORT_FILE, import_mission
from geo.webgeom import web_feature_collection
from tests.geo.test_import import run_cli, squares, write_csv

FORMS = "form_id,form_type,region_code\n1,voting,AA\n2,voting,BB\n"


def warned(report: dict, *fragments: str) -> list[str]:
    """The report's warnings that contain every fragment."""
    return [w for w in report["warnings"] if all(f in w for f in fragments)]


def write_without_crs(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "'crs' was not provided": that is the point
        gdf.set_crs(None, allow_override=True).to_file(path, driver="GPKG")
    return path


def test_features_that_are_not_polygons_are_dropped_and_listed(tmp_path):
    path = tmp_path / "mixed.geojson"
    gpd.GeoDataFrame(
        {"code": ["AA", "BB", "CC", "DD", "EE"], "name": ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]},
        geometry=[
            box(0, 0, 1, 1),
            box(1, 0, 2, 1),
            Point(5, 5),  # a capital city in the polygon layer
            Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]),  # no area: invalid, and nothing left once repaired
            LineString([(0, 0), (1, 1)]),
        ],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    forms = write_csv(tmp_path / "f.csv", FORMS)
    result = import_mission(path, [forms], tmp_path / "out")
    r = result.report
    assert result.mission.regions["code"].tolist() == ["AA", "BB"]
    assert [(d["feature"], d["code"], d["name"]) for d in r["boundaries"]["dropped"]] == [
        (3, "CC", "Gamma"),
        (5, "EE", "Epsilon"),
        (4, "DD", "Delta"),
    ]
    assert warned(r, str(path), "dropped feature 3 (CC, Gamma)", "it is a Point, not a polygon")
    assert warned(r, str(path), "dropped feature 5 (EE, Epsilon)", "LineString, not a polygon")
    assert warned(r, str(path), "dropped feature 4 (DD, Delta)", "no area once repaired")
    assert r["boundaries"]["repaired"] == []  # DD was not repaired into a region: it was dropped
    assert r == json.loads((tmp_path / "out" / REPORT_FILE).read_text(encoding="utf-8"))


def test_dropped_features_do_not_count_in_code_checks(tmp_path):
    path = tmp_path / "b.geojson"
    gpd.GeoDataFrame(
        {"code": ["AA", "BB", "AA", None], "name": ["a", "b", "a (capital)", "label"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), Point(0.5, 0.5), Point(1.5, 0.5)],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    b = load_boundaries(path)  # neither the duplicate AA nor the empty code is a region
    assert b.regions["code"].tolist() == ["AA", "BB"]
    assert any("dropped feature 3 (AA, a (capital)), feature 4 (label): it is a Point" in n for n in b.notes)


def test_a_file_without_crs_is_taken_as_degrees_and_the_report_says_so(tmp_path):
    path = write_without_crs(squares(), tmp_path / "nocrs.gpkg")
    forms = write_csv(tmp_path / "f.csv", FORMS)
    r = import_mission(path, [forms], tmp_path / "out").report
    assert r["boundaries"]["crs_assumed"] is True and r["boundaries"]["source_crs"] is None
    assert warned(r, str(path), "has no CRS", "longitude/latitude degrees (EPSG:4326)")
    proc = run_cli("import", "--boundaries", str(path), "--forms", str(forms), "--out", str(tmp_path / "cli"))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {path}: has no CRS" in proc.stdout


def test_coordinates_that_are_not_degrees_need_a_crs(tmp_path):
    projected = squares().to_crs(32631)  # metres: x about 166,000-390,000
    path = write_without_crs(projected, tmp_path / "metres.gpkg")
    with pytest.raises(InputError, match=r"metres.gpkg: has no CRS and x up to [\d,]+ and y up to [\d,]+, .*a CRS is needed"):
        load_boundaries(path)
    # A GeoJSON is read as WGS84 whatever its coordinates: metres in one are caught after reading.
    geojson = tmp_path / "metres.geojson"
    geojson.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "AA", "name": "a"},
                        "geometry": json.loads(gpd.GeoSeries([projected.geometry.iloc[0]]).to_json())["features"][0]["geometry"],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"metres.geojson: read in EPSG:4326 .* not longitude/latitude degrees, so its CRS"):
        load_boundaries(geojson)


def test_names_taken_from_codes_and_a_chosen_layer_are_reported(tmp_path):
    path = tmp_path / "b.gpkg"
    gdf = squares(("code", "name"), names=("Alpha", None))
    gdf.to_file(path, layer="adm1", driver="GPKG")
    gpd.GeoDataFrame({"x": [1]}, geometry=[Point(0, 0)], crs=4326).to_file(path, layer="places", driver="GPKG")
    b = load_boundaries(path)
    assert b.regions["name"].tolist() == ["Alpha", "BB"]
    assert any("read layer 'adm1', its only polygon layer (the others, not read: places)" in n for n in b.notes)
    assert any("column 'name' is empty for feature(s) 2 (BB); their codes are used as names" in n for n in b.notes)
    nameless = tmp_path / "codes.geojson"
    gpd.GeoDataFrame({"code": ["AA"]}, geometry=[box(0, 0, 1, 1)], crs=4326).to_file(nameless, driver="GeoJSON")
    assert any("no name column found; the region codes are used as names" in n for n in load_boundaries(nameless).notes)


def test_districts_in_no_region_are_listed_and_written_as_valid_json(tmp_path):
    regions = tmp_path / "adm1.geojson"
    squares().to_file(regions, driver="GeoJSON")
    districts = tmp_path / "adm2.geojson"
    gpd.GeoDataFrame(
        {"code": ["AA01", "BB01", "ZZ01"], "name": ["a1", "b1", "far away"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(10, 10, 11, 11)],
        crs=4326,
    ).to_file(districts, driver="GeoJSON")
    forms = write_csv(tmp_path / "f.csv", FORMS)
    r = import_mission(regions, [forms], tmp_path / "out", districts=districts).report
    assert r["districts"]["without_parent"] == ["ZZ01"] and r["districts"]["districts"] == 3
    assert warned(r, str(districts), "district(s) ZZ01 overlap no region", "no parent region")

    def no_nan(token):
        raise AssertionError(f"districts.geojson holds {token}, which is not JSON")

    text = (tmp_path / "out" / "districts.geojson").read_text(encoding="utf-8")
    parents = {f["id"]: f["properties"]["parent"] for f in json.loads(text, parse_constant=no_nan)["features"]}
    assert parents == {"AA01": "AA", "BB01": "BB", "ZZ01": None}


def test_web_copy_fallback_and_budget_are_reported(tmp_path):
    overlapping = gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["a", "b"]}, geometry=[box(0, 0, 1.2, 1), box(1, 0, 2, 1)], crs=4326)
    notes: list[str] = []
    _, tolerance, size = web_feature_collection(overlapping, budget=100, notes=notes, label="regions")
    assert size > 100
    assert any(n.startswith("Web copy of the regions: they overlap one another") for n in notes)
    assert any(f"{size:,} bytes even at the largest simplification tolerance ({tolerance:.3f} degrees)" in n for n in notes)
    # Through an import: the report carries the fallback sentence.
    path = tmp_path / "overlap.geojson"
    overlapping.to_file(path, driver="GeoJSON")
    r = import_mission(path, [write_csv(tmp_path / "f.csv", FORMS)], tmp_path / "out").report
    assert warned(r, "Web copy of the regions: they overlap one another", "simplified on its own")


def test_region_codes_overridden_by_coordinates_are_reported(tmp_path):
    regions = tmp_path / "adm1.geojson"
    squares().to_file(regions, driver="GeoJSON")
    forms = write_csv(
        tmp_path / "f.csv",
        "form_id,form_type,region_code,latitude,longitude\n1,voting,AA,0.5,0.5\n2,voting,AA,0.5,1.5\n3,voting,Nowhere,0.5,1.5\n",
    )
    result = import_mission(regions, [forms], tmp_path / "out")
    assert result.mission.forms["region_code"].tolist() == ["AA", "BB", "BB"]
    assert warned(
        result.report, "2 accepted form(s) give a region_code other than", f"{forms} row 3, region_code 'AA'", "coordinates in BB"
    )


def test_registry_values_left_blank_and_stations_in_no_region_are_reported(tmp_path):
    regions = tmp_path / "adm1.geojson"
    squares().to_file(regions, driver="GeoJSON")
    registry = write_csv(
        tmp_path / "stations.csv",
        "ps_id,region_code,latitude,longitude,urban_rural,evoting\nP1,,0.5,0.5,suburb,yes\nP2,,5,5,urban,maybe\nP3,BB,0.5,0.5,rural,no\n",
    )
    forms = write_csv(tmp_path / "f.csv", "form_id,form_type,ps_id\n1,voting,P1\n")
    r = import_mission(regions, [forms], tmp_path / "out", stations=registry).report
    assert warned(r, str(registry), "1 station(s) with urban_rural not urban or rural (first 'suburb'); left blank")
    assert warned(r, str(registry), "1 station(s) with evoting not yes or no (first 'maybe'); left blank")
    assert warned(r, str(registry), "1 station(s) are in no region", "first ps_id 'P2'")
    assert warned(r, str(registry), "region_code other than the region their coordinates lie in", "first ps_id 'P3'")
