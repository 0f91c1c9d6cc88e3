"""Aggregations against a plain pandas tally of the raw CSV."""

import math
from fractions import Fraction

import pandas as pd
import pytest

from dashboard.analysis import (
    Filters,
    filter_forms,
    negative_share_by_region,
    percent,
    problem_rates,
    statement_sentence,
    tally_by_phase,
    whole_percent,
)
from geo.schema import FORM_TYPES, PROBLEMS
from tests.conftest import DEMO, build_tiny


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(DEMO / "forms.csv", dtype=str)


def test_tally_by_phase_matches_plain_pandas(demo, raw):
    got = tally_by_phase(demo.forms)
    for ft in FORM_TYPES:
        f = raw[raw.form_type == ft]
        assert got[ft] == {
            "n": len(f),
            "assessed": int(f.overall.notna().sum()),
            "negative": int(f.overall.isin(["bad", "very bad"]).sum()),
        }


@pytest.mark.parametrize(
    "filters",
    [
        Filters("counting"),
        Filters("voting", regions=("KZ-KAR", "KZ-PAV"), setting="rural"),
        Filters("opening", evoting="yes"),
        Filters("tabulation", setting="urban"),
    ],
)
def test_negative_share_by_region_matches_plain_pandas(demo, raw, filters):
    f = raw[raw.form_type == filters.form_type]
    if filters.regions:
        f = f[f.region_code.isin(filters.regions)]
    if filters.setting:
        f = f[f.urban_rural == filters.setting]
    if filters.evoting:
        f = f[f.evoting == filters.evoting]
    codes = demo.regions["code"].tolist()
    table = negative_share_by_region(filter_forms(demo.forms, filters), codes)
    assert table.index.tolist() == codes
    for code in codes:
        here = f[(f.region_code == code) & f.overall.notna()]
        neg = here.overall.isin(["bad", "very bad"]).sum()
        assert table.loc[code, "assessed"] == len(here)
        assert table.loc[code, "negative"] == neg
        assert table.loc[code, "n"] == (f.region_code == code).sum()
        if len(here):
            assert table.loc[code, "share"] == pytest.approx(neg / len(here))
        else:
            assert math.isnan(table.loc[code, "share"])


def test_problem_rates_count_blanks_as_not_answered(demo, raw):
    f = raw[raw.form_type == "counting"]
    rates = problem_rates(filter_forms(demo.forms, Filters("counting")))
    for col in PROBLEMS:
        answered = f[col].notna().sum()
        yes = (f[col] == "yes").sum()
        assert rates.loc[col, "answered"] == answered
        assert rates.loc[col, "yes"] == yes
    assert rates.loc["multiple_voting", "answered"] == 0  # not on the count checklist
    assert math.isnan(rates.loc["multiple_voting", "share"])


def test_filters_on_blank_values_do_not_match(tmp_path):
    mission = build_tiny(
        tmp_path,
        [
            {"form_type": "tabulation", "region_code": "AA", "urban_rural": "urban", "evoting": None, "overall": "bad"},
            {"form_type": "tabulation", "region_code": "AA", "urban_rural": "urban", "evoting": "no", "overall": "good"},
        ],
    )
    assert len(filter_forms(mission.forms, Filters("tabulation", evoting="no"))) == 1
    assert len(filter_forms(mission.forms, Filters("tabulation"))) == 2


def test_region_with_only_unassessed_forms_has_no_share(tmp_path):
    mission = build_tiny(
        tmp_path, [{"form_type": "counting", "region_code": "AA"}, {"form_type": "counting", "region_code": "BB", "overall": "very bad"}]
    )
    table = negative_share_by_region(mission.forms, ["AA", "BB"])
    assert table.loc["AA"].tolist()[:3] == [1, 0, 0] and math.isnan(table.loc["AA", "share"])
    assert table.loc["BB", "share"] == 1.0


def test_statement_sentence_in_the_missions_register():
    assert statement_sentence("counting", 57, 229) == "The count was assessed as bad or very bad in 25 per cent of 229 counts observed."
    assert statement_sentence("voting", 71, 2152) == "Voting was assessed as bad or very bad in 3 per cent of 2,152 polling station visits."
    assert "no openings observed" in statement_sentence("opening", 0, 0)


def test_rounding_is_half_up_and_the_same_everywhere():
    # 23 of 40 is 57.5 %: a float share rounds it to 57 (0.575 is 0.57499... in binary); people say 58.
    assert whole_percent(23, 40) == 58 and percent(23, 40) == "58 %"
    assert "58 per cent of 40" in statement_sentence("counting", 23, 40)
    assert whole_percent(1, 8) == 13 and whole_percent(0, 5) == 0 and whole_percent(5, 5) == 100
    assert whole_percent(0, 0) is None and percent(0, 0) == "n/a"
    for whole in range(1, 401):
        for part in range(whole + 1):
            assert whole_percent(part, whole) == math.floor(Fraction(100 * part, whole) + Fraction(1, 2))


def test_colour_axis_places_values_in_their_class():
    from dashboard import theme

    assert theme.value_to_z(0) == 0.0 and theme.value_to_z(9) == 9.0 and theme.value_to_z(10) == 10.0
    assert theme.value_to_z(25) == 25.0 and theme.value_to_z(40) == 40.0 and theme.value_to_z(55) == 49.9
    assert theme.value_to_z(150, (0, 50, 100, 150, 200)) == 30.0  # counts: class 150-200 is the fourth
    assert theme.nice_breaks(230) == (0, 50, 100, 150, 200)
    assert theme.nice_breaks(26) == (0, 5, 10, 15, 20)
    assert theme.nice_breaks(100) == (0, 20, 40, 60, 80) and theme.nice_breaks(0) == (0, 1, 2, 3, 4)
    greys = ["not<br>selected", "no data", "too few<br>(N < 10)"]
    assert theme.class_labels((0, 10, 20, 30, 40), 10) == [*greys, "0–10", "10–20", "20–30", "30–40", "40+"]
    # Breaks over a narrow spread: coverage of 1.77-3.41 % in five classes of half a point from 1.5.
    assert theme.range_breaks([1.77, 2.2, 3.41]) == (1.5, 2.0, 2.5, 3.0, 3.5)
    assert theme.range_breaks([16.1, 29.02]) == (15, 20, 25, 30, 35) and theme.range_breaks([]) == (0, 1, 2, 3, 4)
