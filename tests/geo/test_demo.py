"""The demo mission is calibrated to the Kazakhstan 2005 mission (press release of 5 December 2005), and reproducible."""

import filecmp

import numpy as np
import pandas as pd
import pytest

from geo.demo import N_EVOTING, N_STATIONS, PROBLEM_RATES, build_demo, load_demo_boundaries
from geo.join import join_points_to_regions
from geo.regions2005 import regions_2005
from geo.schema import PHASE_CHECKLIST
from tests.conftest import DEMO


@pytest.fixture(scope="module")
def raw_forms():
    """The committed forms.csv read with plain pandas, independent of geo.mission."""
    return pd.read_csv(DEMO / "forms.csv", dtype=str)


@pytest.fixture(scope="module")
def stations():
    return pd.read_csv(DEMO / "stations.csv", dtype={"ps_id": str})


def test_demo_is_reproducible_from_its_seed(tmp_path):
    build_demo(tmp_path / "demo")
    for name in ("mission.json", "regions.geojson", "forms.csv", "stations.csv", "teams.csv", "boundaries.parquet"):
        assert filecmp.cmp(tmp_path / "demo" / name, DEMO / name, shallow=False), f"{name} differs from a rebuild"


def test_registry_matches_2005_figures(stations):
    assert len(stations) == N_STATIONS == 9597
    assert (stations.evoting == "yes").sum() == N_EVOTING == 1447
    assert 8.8e6 < stations.registered_voters.sum() < 9.0e6
    assert stations.ps_id.is_unique
    assert set(stations.urban_rural) == {"urban", "rural"}


def test_registry_follows_population(stations):
    pop = regions_2005().set_index("code")["pop2005"]
    expected = N_STATIONS * pop / pop.sum()
    counts = stations.groupby("region_code").size().reindex(pop.index)
    assert (counts - expected).abs().max() < 1
    cities = stations[stations.region_code.isin(["KZ-ALA", "KZ-AST"])]
    assert (cities.urban_rural == "urban").all()


def test_every_station_lies_inside_its_region(stations):
    found = join_points_to_regions(stations, load_demo_boundaries())
    assert (found == stations.region_code).all()


def test_teams_observers_and_countries():
    teams = pd.read_csv(DEMO / "teams.csv")
    assert 220 <= len(teams) <= 240
    assert teams.observers.sum() == 460
    assert teams.countries.str.split(";").explode().nunique() == 43
    assert set(teams.observer_org) == {"ODIHR", "OSCE PA", "PACE", "EP"}


def test_each_team_opens_votes_and_counts(raw_forms):
    per_team = raw_forms.groupby(["team_id", "form_type"]).size().unstack(fill_value=0)
    assert (per_team["opening"] == 1).all()
    assert (per_team["counting"] == 1).all()
    assert per_team["voting"].between(7, 13).all()
    assert 9.6 <= per_team["voting"].mean() <= 10.4
    assert 0 < (per_team["tabulation"] > 0).mean() < 0.6
    # The count is observed at the team's last voting station, after the last visit.
    forms = raw_forms.assign(at=pd.to_datetime(raw_forms.observed_at)).sort_values("at")
    last_vote = forms[forms.form_type == "voting"].groupby("team_id").last()
    count = forms[forms.form_type == "counting"].set_index("team_id")
    assert (count.ps_id == last_vote.ps_id.reindex(count.index)).all()
    assert (count["at"] >= last_vote["at"].reindex(count.index)).all()


def test_visit_times_are_realistic(raw_forms):
    at = pd.to_datetime(raw_forms.observed_at)
    hours = at.dt.hour + at.dt.minute / 60
    day = at.dt.day
    voting = raw_forms.form_type == "voting"
    assert hours[voting].between(7, 20).all()  # polls open 07:00-20:00
    assert hours[raw_forms.form_type == "opening"].between(6, 7.25).all()
    assert (day[raw_forms.form_type == "tabulation"] == 5).all()  # after midnight


def _negative_share(forms, phase):
    f = forms[(forms.form_type == phase) & forms.overall.notna()]
    return f.overall.isin(["bad", "very bad"]).mean(), len(f)


def test_count_is_bad_in_about_one_in_four(raw_forms):
    share, n = _negative_share(raw_forms, "counting")
    assert 0.22 <= share <= 0.28
    assert n > 200


def test_voting_is_mostly_calm(raw_forms):
    share, _ = _negative_share(raw_forms, "voting")
    assert 0.01 < share < 0.06
    opening, _ = _negative_share(raw_forms, "opening")
    assert opening < 0.12


def test_some_forms_lack_an_assessment_and_some_carry_comments(raw_forms):
    assert 0.005 < raw_forms.overall.isna().mean() < 0.06
    assert raw_forms.comments.notna().sum() > 50


def test_problems_are_linked_plausibly(raw_forms):
    count = raw_forms[(raw_forms.form_type == "counting") & raw_forms.protocol_tampering.notna() & raw_forms.overall.notna()]
    negative = count.overall.isin(["bad", "very bad"])
    tampering = count.protocol_tampering == "yes"
    assert tampering[negative].mean() > 4 * tampering[~negative].mean()
    voting = raw_forms[(raw_forms.form_type == "voting") & raw_forms.overcrowding.notna() & raw_forms.secrecy_compromised.notna()]
    crowded = voting.overcrowding == "yes"
    secrecy = voting.secrecy_compromised == "yes"
    assert secrecy[crowded].mean() > 4 * secrecy[~crowded].mean()


def test_demo_asks_each_phase_its_checklist():
    assert {phase: set(rates) for phase, rates in PROBLEM_RATES.items()} == {p: set(c) for p, c in PHASE_CHECKLIST.items()}


def test_questions_off_a_phase_checklist_stay_blank(raw_forms):
    opening = raw_forms[raw_forms.form_type == "opening"]
    assert opening.multiple_voting.isna().all()
    assert opening.protocol_tampering.isna().all()


def test_teams_lean_urban_and_forms_are_located(raw_forms, stations):
    voting = raw_forms[raw_forms.form_type == "voting"]
    assert (voting.urban_rural == "urban").mean() > (stations.urban_rural == "urban").mean() + 0.1
    assert raw_forms.region_code.notna().all()
    assert raw_forms.form_id.is_unique
    # The join put each form in the region of the station it was made at (tabulation: the TEC's region).
    station_region = raw_forms.ps_id.map(stations.set_index("ps_id").region_code)
    tec = raw_forms.form_type == "tabulation"
    assert (station_region[~tec] == raw_forms.region_code[~tec]).all()
    assert ("KZ-" + raw_forms.ps_id[tec].str[4:] == raw_forms.region_code[tec]).all()


def test_no_observer_names_or_phones_in_demo_forms(raw_forms):
    assert not {"observer_name", "name", "phone", "observer_phone"} & set(raw_forms.columns)
    assert raw_forms.team_id.str.fullmatch(r"T\d{3}").all()
    text = " ".join(raw_forms.comments.dropna())
    assert not any(ch.isdigit() for ch in text.replace("5 m", "").replace("20", ""))  # no phone-like numbers


def test_synthetic_flag_in_metadata(demo):
    assert demo.meta["synthetic"] is True
    assert "synthetic" in demo.meta["notice"]
    assert np.isfinite(demo.forms.latitude).all()
