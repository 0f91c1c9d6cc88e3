"""One filter spec: the URL, the store, the controls and the brief's flags all read it; parsing is
forgiving and says what it ignored; serialising round-trips any value."""

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.filters import (
    CONTROLS,
    SPEC,
    Filters,
    Known,
    add_flags,
    controls_from_filters,
    filters_from_controls,
    from_dict,
    from_flags,
    parse_query,
    to_query,
)

KNOWN = Known(regions=frozenset({"KZ-YUZ", "KZ-ZHA", "KZ-KAR"}), orgs=frozenset({"ODIHR", "OSCE PA"}), teams=frozenset({"T001", "T002"}))


def test_every_parameter_is_read():
    f, notices = parse_query(
        "?form=voting&region=KZ-YUZ,KZ-ZHA&metric=problem&problem=overcrowding&org=OSCE+PA&team=T002"
        "&setting=rural&evoting=no&overall=bad,very_bad&hours=8-20",
        KNOWN,
    )
    assert notices == []
    assert f == Filters(
        form_type="voting",
        regions=("KZ-YUZ", "KZ-ZHA"),
        setting="rural",
        evoting="no",
        orgs=("OSCE PA",),
        teams=("T002",),
        overall=("bad", "very bad"),
        hours=(8, 20),
        problem="overcrowding",
        metric="problem",
    )


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters("tabulation", regions=("KZ-KAR",), metric="coverage"),
        Filters("opening", orgs=("ODIHR", "OSCE PA"), overall=("very good",), hours=(0, 7)),
        Filters("counting", regions=("KZ-YUZ",), drill="KZ-YUZ", problem="protocol_tampering", evoting="yes"),
    ],
)
def test_serialising_round_trips(filters):
    query = to_query(filters)
    assert parse_query(query, KNOWN) == (filters, [])


def test_default_view_is_the_bare_url_and_export_links_name_the_phase():
    assert to_query(Filters()) == ""
    assert to_query(Filters(), always_form=True) == "?form=counting"


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("?colour=red", "Ignored unknown parameter 'colour'."),
        ("?a%0ab=1", "Ignored unknown parameter 'a\\nb'."),
        ("?hours=%D9%A8-%D9%A2%D9%A0", "Ignored hours="),
        ("?form=lunch", "Ignored form='lunch': expected one of opening, voting, counting, tabulation."),
        ("?region=KZ-XXX,KZ-YUZ", "Ignored region 'KZ-XXX': not a region of this mission."),
        ("?hours=20-8", "Ignored hours='20-8': expected a range like 8-20 within 0-30."),
        ("?hours=eight", "Ignored hours='eight'"),
        ("?team=T999", "Ignored team 'T999': not a team of this mission."),
        ("?drill=KZ-XXX", "Ignored drill='KZ-XXX': not a region of this mission."),
        ("?min_n=0", "Ignored min_n='0': expected a whole number from 1 to 1000."),
        ("?mode=party", "Ignored mode='party': expected one of analysis, briefing."),
        ("?form=voting&form=counting", "Parameter 'form' was given 2 times"),
        ("?metric=%3Cscript%3E", "Ignored metric='<script>'"),
    ],
)
def test_malformed_parameters_are_ignored_with_a_notice(query, notice):
    filters, notices = parse_query(query, KNOWN)
    assert any(n.startswith(notice) for n in notices), notices
    assert isinstance(filters, Filters)


def test_good_values_survive_next_to_bad_ones():
    f, notices = parse_query("?region=KZ-XXX,KZ-YUZ&form=voting&x=1", KNOWN)
    assert f.regions == ("KZ-YUZ",) and f.form_type == "voting" and len(notices) == 2


def test_drill_selects_its_region():
    f, _ = parse_query("?drill=KZ-KAR", KNOWN)
    assert f.drill == "KZ-KAR" and f.regions == ("KZ-KAR",)


def test_a_flood_of_bad_values_gives_a_short_notice_list():
    _, notices = parse_query("?" + "&".join(f"x{i}=1" for i in range(500)), KNOWN)
    assert len(notices) == 11 and notices[-1] == "… and 490 more ignored values."


def test_drill_with_another_region_says_the_region_was_ignored():
    f, notices = parse_query("?drill=KZ-KAR&region=KZ-YUZ", KNOWN)
    assert f.regions == ("KZ-KAR",) and notices == ["Ignored region=: drill=KZ-KAR shows that region only."]


# ------------------------------------------------------------------------------- any value round-trips
ODD = ("OSCE PA, Delegation", 'KZ-ÄÖ"1', "a&b=c", "50% + 1", "Наблюдатели", " spaced ", "x,y,,z", "#hash?q")


def test_organisation_with_a_comma_and_odd_region_codes_survive_the_url():
    known = Known(regions=frozenset({'KZ-ÄÖ"1', "KZ-KAR"}), orgs=frozenset({"OSCE PA, Delegation", "ODIHR"}))
    f = Filters("voting", regions=('KZ-ÄÖ"1', "KZ-KAR"), orgs=("OSCE PA, Delegation", "ODIHR"))
    query = to_query(f)
    assert parse_query(query, known) == (f, [])
    assert query.count(",") == 2  # the two separators; the comma inside the name is %2C


@given(
    orgs=st.lists(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s), min_size=1, max_size=4, unique=True),
    teams=st.lists(st.sampled_from(ODD), max_size=3, unique=True),
)
def test_any_value_round_trips_through_the_url(orgs, teams):
    known = Known(regions=frozenset(), orgs=frozenset(orgs), teams=frozenset(teams))
    f = Filters(orgs=tuple(orgs), teams=tuple(teams))
    assert parse_query(to_query(f), known) == (f, [])


# ---------------------------------------------------------------------------------- the store and controls
FULL = Filters(
    "tabulation",
    regions=("KZ-YUZ",),
    metric="problem",
    problem="protocol_tampering",
    orgs=("OSCE PA",),
    teams=("T001",),
    setting="urban",
    evoting="no",
    overall=("bad",),
    hours=(20, 30),
    drill="KZ-YUZ",
    min_n=5,
    mode="briefing",
)


@pytest.mark.parametrize("filters", [Filters(), FULL, Filters("voting", regions=("KZ-YUZ", "KZ-ZHA"), hours=(8, 9))])
def test_store_and_controls_round_trip(filters):
    assert from_dict(filters.to_dict(), KNOWN) == filters
    controls = controls_from_filters(filters)
    assert set(controls) == set(CONTROLS)
    assert filters_from_controls(controls, filters.to_dict(), KNOWN) == filters


def test_a_crafted_store_is_checked_like_a_url():
    crafted = {"form_type": "<script>", "regions": ["KZ-YUZ", "KZ-XXX", 3], "orgs": ["Nobody"], "hours": [5, 99], "min_n": 0}
    assert from_dict(crafted, KNOWN) == Filters(regions=("KZ-YUZ",))


def test_every_filter_has_a_url_parameter_and_a_label_and_the_controls_have_one_filter_each():
    params = [f.param for f in SPEC]
    assert len(set(params)) == len(params) and all(f.label and f.help for f in SPEC)
    assert len(set(CONTROLS)) == len(CONTROLS)


# ---------------------------------------------------------------------------------------- brief flags
def _flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return parser.parse_args(list(argv))


def test_brief_flags_are_the_url_parameters():
    known = Known(regions=frozenset({"KZ-YUZ", "KZ-ZHA"}), orgs=frozenset({"OSCE PA, Delegation", "ODIHR"}))
    args = _flags(
        "--form", "voting", "--region", "KZ-YUZ,KZ-ZHA", "--org", "OSCE PA, Delegation", "--org", "ODIHR", "--overall", "very_bad"
    )  # fmt: skip
    f, notices = from_flags(args, known)
    assert notices == []
    assert f == Filters("voting", regions=("KZ-YUZ", "KZ-ZHA"), orgs=("OSCE PA, Delegation", "ODIHR"), overall=("very bad",))
    _, notices = from_flags(_flags("--form", "lunch"), known)
    assert notices == ["Ignored form='lunch': expected one of opening, voting, counting, tabulation."]


def test_the_selection_line_names_each_filter():
    names = {"KZ-YUZ": "South Kazakhstan"}
    text = Filters("voting", regions=("KZ-YUZ",), setting="urban", evoting="yes", teams=("T1", "T2", "T3", "T4"), hours=(8, 26)).describe(
        names
    )
    assert text == "South Kazakhstan · urban stations · electronic voting · 4 teams · 08:00–02:00 +1"
    assert Filters(problem="overcrowding").describe() == "reporting overcrowding"
    assert Filters(problem="overcrowding", metric="problem").describe() == "all regions, all stations"
