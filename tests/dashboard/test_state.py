"""How clicks, controls and the URL move the view (the view callback's logic)."""

from dashboard.filters import Filters, Known, controls_from_filters
from dashboard.state import next_view

KNOWN = Known(regions=frozenset({"AA", "BB"}), orgs=frozenset({"ODIHR"}), teams=frozenset({"T1"}))


def step(trigger, current: Filters, **kw):
    args = {"search": None, "controls": controls_from_filters(current), "map_click": None, "bar_click": None}
    args.update(kw)
    return next_view(trigger, current=current.to_dict(), known=KNOWN, **args)


def test_first_load_reads_the_url():
    f, notices = step(None, Filters(), search="?form=voting&oops=1")
    assert f.form_type == "voting" and notices == ["Ignored unknown parameter 'oops'."]


def test_click_on_a_region_drills_in_and_back_returns_to_the_country():
    click = {"points": [{"curveNumber": 0, "location": "BB"}]}
    f, _ = step("region-map", Filters("voting", metric="forms"), map_click=click)
    assert f.drill == "BB" and f.regions == ("BB",) and f.form_type == "voting" and f.metric == "forms"
    back, _ = step("back", f)
    assert back.drill is None and back.regions == () and back.form_type == "voting"


def test_click_on_a_station_point_does_not_drill():
    f, _ = step("region-map", Filters(), map_click={"points": [{"curveNumber": 4, "lat": 0.5, "lon": 0.5}]})
    assert f == Filters()


def test_click_on_a_bar_selects_its_problem_and_a_second_click_clears_it():
    click = {"points": [{"y": "Tampering with result protocols  (3 of 9)", "customdata": [3, 9, "protocol_tampering"]}]}
    f, _ = step("problem-chart", Filters(), bar_click=click)
    assert f.problem == "protocol_tampering"
    f2, _ = step("problem-chart", f, bar_click=click)
    assert f2.problem is None


def test_controls_build_the_view_and_changing_regions_leaves_the_drill():
    drilled = Filters(regions=("AA",), drill="AA")
    controls = controls_from_filters(drilled) | {"phase": "opening"}
    f, _ = step("phase", drilled, controls=controls)
    assert f.form_type == "opening" and f.drill == "AA"
    controls = controls_from_filters(drilled) | {"regions": ["AA", "BB"]}
    f, _ = step("regions", drilled, controls=controls)
    assert f.drill is None and f.regions == ("AA", "BB")


def test_reset_returns_to_the_default_view():
    f, _ = step("reset", Filters("voting", regions=("AA",), hours=(8, 12)))
    assert f == Filters()
