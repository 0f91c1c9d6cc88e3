"""Browser tests in headless Debian chromium (dash_duo). Kept few; each says what it checks."""

import io
import time

import pandas as pd
import pytest
import requests
from selenium.webdriver.common.by import By

from dashboard.app import create_app
from dashboard.figures import map_view
from tests.conftest import DEMO, build_tiny
from tests.dashboard.browser_wait import wait as _wait

# One worker runs them all, one after the other: dash_duo serves on a fixed port.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

GD = "document.querySelector('#region-map .js-plotly-plot')"
Z = f"const gd = {GD}; const t = gd && gd._fullData && gd._fullData.find(t => t.name === 'Regions'); return t ? Array.from(t.z) : null;"
RENDERED = f"""
const gd = {GD};
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
if (!sub || !sub.map || !sub.map.loaded()) return -1;
return sub.map.queryRenderedFeatures().length;
"""
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"
# Whether the map shows the whole box (west, south, east, north) given as the argument.
SHOWS = f"""
const sub = {GD}._fullLayout.map._subplot, b = sub.map.getBounds(), [w, s, e, n] = arguments[0];
return b.getWest() <= w && b.getEast() >= e && b.getSouth() <= s && b.getNorth() >= n;
"""
ZOOM = f"return {GD}._fullLayout.map.zoom;"


def _z(dash_duo):
    return dash_duo.driver.execute_script(Z)


def test_map_renders_offline_and_phase_change_updates_values(dash_duo, demo):
    """The map draws its regions, a click on another phase changes the map's values, the console stays clean,
    and no request leaves the local server."""
    dash_duo.start_server(create_app(demo))
    dash_duo.wait_for_text_to_equal("#map-title", "Counting: share of forms assessed bad or very bad, by region", timeout=20)
    dash_duo._wait_for_callbacks()
    dash_duo.wait_for_element("#region-map canvas", timeout=20)
    deadline = time.time() + 20
    while (dash_duo.driver.execute_script(RENDERED) or -1) <= 0 and time.time() < deadline:
        time.sleep(0.25)
    assert dash_duo.driver.execute_script(RENDERED) > 0, "MapLibre drew no region"
    counting = _z(dash_duo)
    assert counting and len(counting) == 16

    voting_label = [el for el in dash_duo.find_elements("#phase label") if el.text == "Voting"][0]
    voting_label.click()
    dash_duo.wait_for_text_to_equal("#map-title", "Voting: share of forms assessed bad or very bad, by region", timeout=10)
    dash_duo._wait_for_callbacks()
    deadline = time.time() + 10
    while _z(dash_duo) == counting and time.time() < deadline:
        time.sleep(0.2)
    voting = _z(dash_duo)
    assert voting != counting
    assert max(voting) < max(counting)  # voting was calm, the count was not

    assert dash_duo.get_logs() == [], "browser console has errors"
    urls = dash_duo.driver.execute_script(RESOURCES)
    outside = [u for u in urls if not u.startswith(dash_duo.server_url) and not u.startswith(("data:", "blob:"))]
    assert outside == [], f"requests left the machine: {outside}"


def test_region_and_station_filters_move_every_figure(dash_duo, demo):
    """Choosing rural stations changes the headline N, the problem chart title and the caption together."""
    dash_duo.start_server(create_app(demo))
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    dash_duo._wait_for_callbacks()
    before_n = dash_duo.find_element("#n-shown").text
    before_title = dash_duo.find_element("#problem-title").text
    dash_duo.find_element("#more-toggle").click()
    _wait(lambda: "Rural" in [el.text for el in dash_duo.find_elements("#setting label")], 5, "more filters to open")
    [el for el in dash_duo.find_elements("#setting label") if el.text == "Rural"][0].click()
    dash_duo._wait_for_callbacks()
    dash_duo.wait_for_contains_text("#n-shown", "rural stations", timeout=10)
    assert dash_duo.find_element("#n-shown").text != before_n
    assert dash_duo.find_element("#problem-title").text != before_title
    assert "rural stations" in dash_duo.find_element("#map-caption").text
    assert dash_duo.driver.find_element(By.ID, "synthetic-badge").text.startswith("DEMO")
    assert dash_duo.get_logs() == []


# ------------------------------------------------------------------------------ analyst workflow
PROJECT = f"""
const gd = {GD};
const m = gd._fullLayout.map._subplot.map;
const p = m.project([arguments[0], arguments[1]]);
const r = m.getCanvas().getBoundingClientRect();
return [r.left + p.x, r.top + p.y];
"""
# Points of the station layers (found by name: the map has other point layers, the city regions' dots and the names).
STATION_POINTS = f"""const gd = {GD};
return gd._fullData.filter(t => t.name === "Not observed" || t.name.startsWith("Observed: "))
    .reduce((n, t) => n + (t.visible === true ? t.lat.length : 0), 0);"""


def _map_ready(dash_duo):
    dash_duo.wait_for_element("#region-map canvas", timeout=20)
    _wait(lambda: (dash_duo.driver.execute_script(RENDERED) or -1) > 0, 20, "MapLibre to draw")


def _real_click(driver, lon, lat):
    """A real mouse move and click at a map coordinate (Plotly needs the hover before the click)."""
    x, y = driver.execute_script(PROJECT, lon, lat)
    for dx in (-4, 0):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + dx, "y": y + dx})
        time.sleep(0.3)
    for kind in ("mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def _raw_forms():
    return pd.read_csv(DEMO / "forms.csv", dtype=str)


def test_drill_into_a_region_and_back(dash_duo, demo):
    """A click on Karaganda zooms to it and shows its stations; Back returns; browser back/forward replay it."""
    dash_duo.start_server(create_app(demo))
    _map_ready(dash_duo)
    dash_duo._wait_for_callbacks()
    _real_click(dash_duo.driver, 73.1, 49.8)  # Karaganda, near the city
    dash_duo.wait_for_contains_text("#map-title", "Karaganda: polling stations", timeout=15)
    _wait(lambda: dash_duo.driver.execute_script(STATION_POINTS) > 0, 15, "station points")
    assert "drill=KZ-KAR" in dash_duo.driver.current_url
    counting = _raw_forms().query("form_type == 'counting' and region_code == 'KZ-KAR'")
    stations = pd.read_csv(DEMO / "stations.csv", dtype=str)
    assert dash_duo.driver.execute_script(STATION_POINTS) == (stations.region_code == "KZ-KAR").sum()  # observed + not observed
    assert int(dash_duo.find_element("#n-phase-forms").get_attribute("data-n")) == len(counting)
    # The browser fitted the map to Karaganda, at the size the map really has.
    _wait(lambda: dash_duo.driver.execute_script(ZOOM) > 5, 10, "the map to zoom in")
    assert dash_duo.driver.execute_script(SHOWS, list(demo.bounds["KZ-KAR"]))
    # The browser's fit (FIT_JS) is the server's (map_view, used for pictures) at the box's measured size.
    width, height = dash_duo.driver.execute_script(
        "const b = document.getElementById('map-box').getBoundingClientRect(); return [b.width, b.height];"
    )
    expected = map_view(demo.bounds["KZ-KAR"], round(width), round(height))
    assert abs(dash_duo.driver.execute_script(ZOOM) - expected["zoom"]) < 0.011

    dash_duo.find_element("#back").click()
    dash_duo.wait_for_contains_text("#map-title", "Counting: share of forms", timeout=10)
    _wait(lambda: dash_duo.driver.execute_script(STATION_POINTS) == 0, 10, "stations to hide")
    _wait(lambda: dash_duo.driver.execute_script(SHOWS, list(demo.bounds["*"])), 10, "the whole country")
    assert "drill" not in dash_duo.driver.current_url

    dash_duo.driver.back()
    dash_duo.wait_for_contains_text("#map-title", "Karaganda", timeout=10)
    dash_duo.driver.forward()
    dash_duo.wait_for_contains_text("#map-title", "Counting: share of forms", timeout=10)
    assert dash_duo.get_logs() == []


def test_url_restores_the_view_and_the_export_link_matches_the_headline(dash_duo, demo):
    """A shared URL restores filters and figures; the page's CSV link returns exactly the forms the headline counts."""
    dash_duo.start_server(create_app(demo))
    dash_duo.driver.get(dash_duo.server_url + "/?form=voting&region=KZ-KAR,KZ-PAV&setting=rural&hours=8-20&overall=good")
    dash_duo.wait_for_contains_text("#map-title", "Voting", timeout=20)
    dash_duo._wait_for_callbacks()
    raw = _raw_forms()
    hour = (pd.to_datetime(raw.observed_at) - pd.Timestamp("2005-12-04")) / pd.Timedelta(hours=1)
    want = raw[
        (raw.form_type == "voting")
        & raw.region_code.isin(["KZ-KAR", "KZ-PAV"])
        & (raw.urban_rural == "rural")
        & (hour >= 8)
        & (hour < 20)
        & (raw.overall == "good")
    ]
    _wait(lambda: dash_duo.find_element("#n-phase-forms").get_attribute("data-n") == str(len(want)), 10, "the N of the URL's view")
    assert dash_duo.find_element("#phase label.active").text == "Voting"
    assert dash_duo.find_element("#setting label.active").text == "Rural"
    assert "2 selected" in dash_duo.find_element("#regions").text
    assert dash_duo.find_element("#more").is_displayed()  # the filters in use are visible

    href = dash_duo.find_element("#export-link").get_attribute("href")
    exported = pd.read_csv(io.StringIO(requests.get(href, timeout=10).text), dtype=str)
    assert sorted(exported.form_id) == sorted(want.form_id)

    dash_duo.driver.get(dash_duo.server_url + "/?form=voting&colour=red&region=KZ-XXX")
    dash_duo.wait_for_contains_text("#notices", "Ignored unknown parameter 'colour'.", timeout=15)
    assert "KZ-XXX" in dash_duo.find_element("#notices").text
    assert dash_duo.get_logs() == []


def test_comment_with_script_is_shown_as_text(dash_duo, tmp_path):
    """An observer's comment containing <script> appears in the table as text and never runs."""
    comment = "<script>window.__pwned = 1</script><b>not bold</b>"
    mission = build_tiny(tmp_path, [{"form_type": "counting", "region_code": "AA", "overall": "bad", "comments": comment}])
    dash_duo.start_server(create_app(mission))
    toggle = dash_duo.wait_for_element("#table-toggle", timeout=20)
    dash_duo._wait_for_callbacks()
    # A script click: the page may still be settling under the pointer; the button's handler is what matters.
    dash_duo.driver.execute_script("arguments[0].click();", toggle)
    # The comments column may sit right of the grid's visible width, so read the cell's text, not what is on screen.
    # The grid draws a row while it asks for its block: wait for the cell's text, not for the cell.
    cell = "const c = document.querySelector(\"#forms-table .ag-row .ag-cell[col-id='comments']\"); return c && c.textContent;"
    _wait(lambda: dash_duo.driver.execute_script(cell) == comment, 20, "the comment in the table")
    assert dash_duo.driver.execute_script("return window.__pwned === undefined && !document.querySelector('#forms-table b')")
    assert dash_duo.get_logs() == []


def test_briefing_view_hides_controls_and_reads_large(dash_duo, demo):
    """?mode=briefing: no controls, body type of at least 20 px, map and sentences first, caption with N and time
    stamp; the toggle returns to the analyst's page."""
    dash_duo.start_server(create_app(demo))
    dash_duo.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False}
    )
    dash_duo.driver.get(dash_duo.server_url + "/?mode=briefing&form=counting")
    dash_duo.wait_for_contains_text("#map-caption", "Data as of 2005-12-05 06:00", timeout=20)
    _map_ready(dash_duo)

    def px(selector):
        return dash_duo.driver.execute_script(f"return parseFloat(getComputedStyle(document.querySelector('{selector}')).fontSize)")

    assert px("#sentence-counting") >= 20  # the statement sentences: body text
    assert px("#map-caption") >= 16 and px("#headline-counting .obs-n") >= 16  # the smallest text, the N
    assert not dash_duo.find_element(".obs-filters").is_displayed()
    assert not dash_duo.find_element("#forms-table").is_displayed()
    caption = dash_duo.find_element("#map-caption").text
    assert "N = 230 forms" in caption and "Synthetic demo forms" in caption
    # The map and the four sentences start above the fold of a 1280x720 share.
    tops = dash_duo.driver.execute_script(
        "return [document.querySelector('#region-map').getBoundingClientRect().top,"
        " document.querySelector('#sentence-counting').getBoundingClientRect().top]"
    )
    assert all(0 < t < 720 for t in tops)
    # The briefing's map is smaller than the analyst's; the browser refitted the country into it.
    _wait(lambda: dash_duo.driver.execute_script(SHOWS, list(demo.bounds["*"])), 10, "the whole country in the briefing map")
    dash_duo.find_element("#mode-toggle").click()
    _wait(lambda: dash_duo.find_element(".obs-filters").is_displayed(), 10, "controls to come back")
    assert "mode=briefing" not in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []


def test_forms_arriving_move_the_map_and_sentences_and_the_drill_down_stays(dash_duo, tmp_path):
    """A live mission: forms are committed to its store while the page is drilled into Karaganda; the page's
    check finds the new data version and the map, the sentences and the header change, with no reload,
    still drilled in, at the same zoom."""
    from dashboard.paths import demo_dir
    from geo.ingest import Delivery, Ingestor
    from geo.replay import SOURCE, day_of_deliveries, prepare_folder

    out = tmp_path / "live"
    prepare_folder(out, demo_dir())
    events = [e for e in day_of_deliveries(pd.read_csv(DEMO / "forms.csv", dtype="string")) if e.row is not None]
    half = len(events) // 2

    def deliver(batch):
        table = pd.DataFrame([e.row for e in batch]).astype("string")
        with Ingestor(out) as ingestor:
            ingestor.ingest(table, [Delivery(e.form_id, e.at.strftime("%Y-%m-%dT%H:%M:%SZ")) for e in batch], SOURCE)

    deliver(events[:half])
    dash_duo.start_server(create_app(out, poll_seconds=1))
    dash_duo.driver.get(dash_duo.server_url + "/?drill=KZ-KAR&form=voting")
    dash_duo.wait_for_contains_text("#map-title", "Karaganda: polling stations", timeout=20)
    _map_ready(dash_duo)
    _wait(lambda: dash_duo.driver.execute_script(ZOOM) > 5, 10, "the map to zoom in")
    before = dash_duo.find_element("#sentence-voting").text
    n_before = int(dash_duo.find_element("#n-phase-forms").get_attribute("data-n"))
    zoom = dash_duo.driver.execute_script(ZOOM)

    deliver(events[half:])
    _wait(lambda: dash_duo.find_element("#sentence-voting").text != before, 15, "the sentences to follow the new data")
    voting_kar = _raw_forms().query("form_type == 'voting' and region_code == 'KZ-KAR'")
    _wait(lambda: int(dash_duo.find_element("#n-phase-forms").get_attribute("data-n")) == len(voting_kar), 10, "every form counted")
    assert n_before < len(voting_kar)
    assert "Karaganda: polling stations" in dash_duo.find_element("#map-title").text and "drill=KZ-KAR" in dash_duo.driver.current_url
    assert dash_duo.driver.execute_script(ZOOM) == zoom  # the analyst's view stays where it was
    assert "since you opened" in dash_duo.find_element("#live-status").text
    assert dash_duo.get_logs() == []


# ------------------------------------------------------------------------------ parts drawn when they come into view
BARS = """
const gd = document.querySelector('#problem-chart .js-plotly-plot');
return gd && gd.data && gd.data.length ? Array.from(gd.data[0].x) : null;
"""


def test_charts_below_the_fold_are_drawn_when_scrolled_to_with_the_newest_view(dash_duo, demo):
    """A click redraws the map and the findings; the problem chart below the fold waits, and shows the view chosen last
    (not the first one) once scrolled into view, with the bars the server computed for that view."""
    from dashboard.filters import Filters
    from dashboard.selection import select
    from dashboard.views import problems

    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.start_server(create_app(demo))
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    dash_duo._wait_for_callbacks()
    driver = dash_duo.driver
    assert driver.execute_script("return document.getElementById('problem-chart').getBoundingClientRect().top") > 900
    assert driver.execute_script(BARS) is None  # not drawn: nobody sees it
    [el for el in dash_duo.find_elements("#phase label") if el.text == "Opening"][0].click()
    dash_duo.wait_for_contains_text("#problem-title", "opening", timeout=10)
    dash_duo._wait_for_callbacks()
    assert driver.execute_script(BARS) is None
    driver.execute_script("document.getElementById('problem-chart').scrollIntoView()")
    _wait(lambda: driver.execute_script(BARS) is not None, 10, "the problem chart to be drawn")
    expected, _ = problems(select(demo, Filters(form_type="opening")), Filters(form_type="opening"), False)
    assert driver.execute_script(BARS) == pytest.approx(list(expected.data[0].x))
    # On screen now: the next click (the phase buttons are scrolled away: clicked by script) draws it.
    driver.execute_script("arguments[0].click();", [el for el in dash_duo.find_elements("#phase label") if el.text == "Voting"][0])
    dash_duo.wait_for_contains_text("#problem-title", "voting", timeout=20)
    # The click may have scrolled the page to the (focused) phase button: back to the chart, drawn on screen or when seen.
    driver.execute_script("document.getElementById('problem-chart').scrollIntoView()")
    expected, _ = problems(select(demo, Filters(form_type="voting")), Filters(form_type="voting"), False)
    _wait(lambda: driver.execute_script(BARS) == pytest.approx(list(expected.data[0].x)), 20, "the voting bars")
    assert dash_duo.get_logs() == []
