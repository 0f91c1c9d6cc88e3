"""`obsmap summary --json` against an independent tally of the files."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from dashboard.cli import main
from tests.conftest import DEMO, build_tiny, wilson_reference


def test_summary_json_of_the_demo():
    out = subprocess.run([sys.executable, "-m", "dashboard.cli", "summary", "--json"], capture_output=True, text=True, check=True)
    s = json.loads(out.stdout)
    raw = pd.read_csv(DEMO / "forms.csv", dtype=str)
    stations = pd.read_csv(DEMO / "stations.csv", dtype=str)
    assert s["regions"] == 16
    assert s["polling_stations"] == len(stations) == 9597
    assert s["evoting_stations"] == (stations.evoting == "yes").sum()
    assert abs(s["evoting_stations"] / s["polling_stations"] - 0.15) < 0.005
    assert s["observers"] == 460 and s["countries"] == 43
    assert s["teams"] == raw.team_id.nunique()
    count = s["forms"]["counting"]
    assert 0.22 <= count["negative"] / count["assessed"] <= 0.28
    cell = s["by_region"]["KZ-YUZ"]["counting"]
    f = raw[(raw.region_code == "KZ-YUZ") & (raw.form_type == "counting")]
    k, n = int(f.overall.isin(["bad", "very bad"]).sum()), int(f.overall.notna().sum())
    assert {key: cell[key] for key in ("n", "assessed", "negative")} == {"n": len(f), "assessed": n, "negative": k}
    assert cell["ci95"] == pytest.approx(list(wilson_reference(k, n)), abs=1e-4)
    assert cell["too_few"] is (0 < n < 10)
    assert s["by_region"]["KZ-AST"]["tabulation"]["too_few"] is True  # a handful of commission visits
    assert sum(s["by_region"][r]["voting"]["n"] for r in s["by_region"]) == s["forms"]["voting"]["n"]
    assert s["statements"]["counting"].startswith("The count was assessed as bad or very bad in")


def test_summary_of_a_mission_without_registry_or_teams(tmp_path, capsys):
    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "team_id": "X1", "overall": "bad"}])
    assert main(["summary", "--data", str(mission.path), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["polling_stations"] is None and s["evoting_stations"] is None
    assert s["observers"] is None and s["countries"] is None and s["teams"] == 1
    assert s["by_region"]["BB"]["voting"] == {"n": 0, "assessed": 0, "negative": 0, "ci95": None, "too_few": False}


def test_missing_data_folder_is_one_sentence_not_a_traceback(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "summary", "--data", str(tmp_path / "none")], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert str(tmp_path / "none") in out.stderr and out.stderr.count("\n") == 1


def test_serve_debug_turns_off_the_dev_tools_version_check(monkeypatch, tmp_path):
    """`obsmap serve --debug` runs Dash's dev tools, whose page would otherwise ask dash-version.plotly.com for news."""
    import dash

    seen = {}
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kwargs: seen.update(kwargs))
    assert main(["serve", "--debug", "--port", "8999"]) == 0
    assert seen["debug"] is True and seen["dev_tools_disable_version_check"] is True
