"""Every case of the hostile-file corpus (tests/geo/hostile_corpus.py) through `obsmap import`, as a user runs it.

No case gives a traceback; no case exits 0 with rows unaccounted for; a refusal is one sentence and leaves the
previous mission exactly as it was; no file the user owns is touched; nothing personal reaches the mission.
"""

import json
import re

import pytest

from dashboard.cli import main
from geo.mission import load_mission
from tests.geo.hostile_corpus import BUILDERS, GOOD_ROWS, forms, write


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()} if folder.exists() else {}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_hostile_case(name, tmp_path, capsys):
    here = tmp_path / name
    here.mkdir()
    case = BUILDERS[name](here)
    mission = here / "mission"
    if case.previous:
        write(here, "good.csv", forms(GOOD_ROWS))
        assert (
            main(["import", "--boundaries", str(here / "regions.geojson"), "--forms", str(here / "good.csv"), "--out", str(mission)]) == 0
        )
        for rel, text in case.user_files.items():
            write(here, rel, text)
    capsys.readouterr()
    before = _files(mission)

    code = main(["import", *case.args])

    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == case.code, err[-2000:]
    for rel, text in case.user_files.items():
        assert (here / rel).read_text(encoding="utf-8") == text, f"{rel} was touched"
    if code != 0:
        lines = [line for line in err.splitlines() if line.startswith("obsmap:")]
        assert len(lines) == 1 and re.search(case.message, lines[0]), lines
        if case.previous:
            assert _files(mission) == before, "the previous mission changed"
        return
    report = json.loads((mission / "import_report.json").read_text(encoding="utf-8"))
    assert report["read"] == report["accepted"] + report["set_aside"]  # nothing lost
    assert (report["read"], report["accepted"], report["set_aside"]) == case.counts, report
    if case.reason:
        assert case.reason in report["reasons"], report["reasons"]
    loaded = load_mission(mission)  # it serves, every accepted form
    if not case.previous:
        assert len(loaded.forms) == report["accepted"], "forms accepted but not served"
    everything = b"".join(_files(mission).values()) + b"".join(_files(here / ".mission-store").values())
    assert b"Petrov" not in everything and b"701 555" not in everything and b"\x00" not in (mission / "forms.csv").read_bytes()
    if name == "one_bad_byte_in_russian_utf8" or name == "cp1251_file":
        assert loaded.forms.set_index("form_id").loc["7", "overall"] == "bad"  # "плохо", read right
    if name == "boundaries_with_a_null_and_an_empty_geometry":
        assert sorted(loaded.region_codes) == ["AA", "BB"] and any("CC" in w and "DD" not in w or "DD" in w for w in report["warnings"])
