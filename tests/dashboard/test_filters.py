"""The URL is the view: parsing is forgiving and says what it ignored; serialising round-trips."""

import pytest

from dashboard.analysis import Filters
from dashboard.urlstate import Known, parse_query, to_query

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
