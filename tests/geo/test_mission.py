import json

import pandas as pd
import pytest

from geo.mission import MissionDataError, build_mission, load_mission
from tests.conftest import build_tiny, form_rows, two_regions


def test_build_joins_by_coordinates_and_keeps_given_codes(tmp_path):
    mission = build_tiny(
        tmp_path,
        [
            {"form_type": "voting", "latitude": 0.5, "longitude": 1.5, "region_code": "AA", "overall": "good"},  # coordinates win
            {"form_type": "voting", "region_code": "AA", "overall": "bad"},  # no coordinates: code kept
        ],
    )
    assert mission.forms["region_code"].tolist() == ["BB", "AA"]
    assert mission.regions["code"].tolist() == ["AA", "BB"]
    assert [f["id"] for f in mission.geojson["features"]] == ["AA", "BB"]


def test_problem_answers_are_three_valued(tmp_path):
    mission = build_tiny(
        tmp_path,
        [
            {"form_type": "counting", "region_code": "AA", "protocol_tampering": "yes"},
            {"form_type": "counting", "region_code": "AA", "protocol_tampering": "no"},
            {"form_type": "counting", "region_code": "AA"},
        ],
    )
    col = mission.forms["protocol_tampering"]
    assert col.sum() == 1 and col.count() == 2 and col.isna().sum() == 1
    assert mission.forms["negative"].isna().all()  # no overall assessment anywhere


def test_load_missing_folder_names_it(tmp_path):
    with pytest.raises(MissionDataError, match="nowhere"):
        load_mission(tmp_path / "nowhere")


def test_load_missing_file_names_it(tmp_path):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}])
    (mission.path / "forms.csv").unlink()
    with pytest.raises(MissionDataError, match="forms.csv"):
        load_mission(mission.path)


def test_failed_build_leaves_existing_folder_as_it_was(tmp_path):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}])
    before = {p.name: p.read_bytes() for p in mission.path.iterdir()}
    bad_stations = pd.DataFrame({"ps_id": ["1"]})  # lacks the registry's columns
    with pytest.raises(KeyError):
        build_mission(mission.path, two_regions(), form_rows([{"form_type": "voting"}]), {"name": "x"}, stations=bad_stations)
    assert {p.name: p.read_bytes() for p in mission.path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["mission"]  # no temporary folder left behind
    assert json.loads(before["mission.json"])["name"] == "Tiny"


def _hand_made(tmp_path, forms_csv: str):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}])
    (mission.path / "forms.csv").write_text(forms_csv, encoding="utf-8")
    return mission.path


def test_hand_made_folder_values_are_read_with_the_contracts_variants(tmp_path):
    path = _hand_made(tmp_path, "form_id,form_type,region_code,overall,overcrowding\n1,Counting,AA,Bad,Да\n2,voting,BB,4,0\n")
    forms = load_mission(path).forms
    assert forms["form_type"].tolist() == ["counting", "voting"]
    assert forms["negative"].tolist() == [True, True]
    assert forms["overcrowding"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("form_id,form_type,region_code,overall\n1,voting,AA,excellent\n", r"row 2: overall not .*overall = excellent"),
        ("form_id,form_type,region_code\n1,voting,AA\n1,voting,BB\n", "row 3: duplicate form_id"),
        ("form_id,form_type,region_code\n1,lunch,AA\n", "row 2: no or unknown form_type"),
        ("form_id,form_type,region_code\n1,voting,AA\n2,voting,ZZ\n", "row 3: region_code 'ZZ' is not a region"),
        ("form_id,form_type\n1,voting\n", "row 2: region_code <NA> is not a region"),
    ],
)
def test_hand_made_folder_with_unusable_rows_is_refused_with_the_row(tmp_path, csv, message):
    path = _hand_made(tmp_path, csv)
    with pytest.raises(MissionDataError, match=message):
        load_mission(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("mission.json", "{not json", r"mission.json: expected a JSON object of the mission's facts .*, found text that is not valid JSON"),
        ("mission.json", "[1, 2]", r"mission.json: expected a JSON object .*, found an array\."),
        ("mission.json", b"\xff\xfe{}", r"mission.json: expected a JSON object .*not valid JSON"),
        ("regions.geojson", "null", r"regions.geojson: expected a GeoJSON FeatureCollection of the regions, found null\."),
        ("regions.geojson", '{"type": "FeatureCollection"}', r"regions.geojson: expected .* with a list of 'features', found none"),
    ],
)
def test_malformed_json_in_a_mission_folder_names_the_file(tmp_path, name, content, message):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}])
    file = mission.path / name
    file.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(MissionDataError, match=message):
        load_mission(mission.path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta, gj: meta.update(data_as_of=20051205), r"mission.json: 'data_as_of' should be text, found int"),
        (lambda meta, gj: meta.update(election_date="2005-13-45"), r"election_date '2005-13-45' is not a date"),
        (lambda meta, gj: gj["features"][1].pop("id"), r"regions.geojson: feature 2 has no text id"),
        (
            lambda meta, gj: meta.update(map_notes=[{"name": "Baikonur", "note": "leased", "lon": 63.4, "lat": "45.9"}]),
            r"mission.json: map note 1 should have a name and a note \(text\) and lon, lat in degrees, found .*45.9",
        ),
        (lambda meta, gj: meta.update(map_notes=[{"name": "X", "note": "y", "lon": 200, "lat": 0}]), r"map note 1 .*lon, lat in degrees"),
    ],
)
def test_mission_facts_obsmap_cannot_use_are_named(tmp_path, change, message):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA"}])
    meta = json.loads((mission.path / "mission.json").read_text(encoding="utf-8"))
    geojson = json.loads((mission.path / "regions.geojson").read_text(encoding="utf-8"))
    change(meta, geojson)
    (mission.path / "mission.json").write_text(json.dumps(meta), encoding="utf-8")
    (mission.path / "regions.geojson").write_text(json.dumps(geojson), encoding="utf-8")
    with pytest.raises(MissionDataError, match=message):
        load_mission(mission.path)
