"""Browser tests in headless Debian chromium (dash_duo). Kept few; each says what it checks."""

import time

import pytest
from selenium.webdriver.common.by import By

from dashboard.app import create_app

pytestmark = pytest.mark.browser

GD = "document.querySelector('#region-map .js-plotly-plot')"
Z = f"const gd = {GD}; return gd && gd._fullData && gd._fullData.length > 0 ? Array.from(gd._fullData[0].z) : null;"
RENDERED = f"""
const gd = {GD};
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
if (!sub || !sub.map || !sub.map.loaded()) return -1;
return sub.map.queryRenderedFeatures().length;
"""
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"


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
    [el for el in dash_duo.find_elements("#setting label") if el.text == "Rural"][0].click()
    dash_duo._wait_for_callbacks()
    dash_duo.wait_for_contains_text("#n-shown", "rural stations", timeout=10)
    assert dash_duo.find_element("#n-shown").text != before_n
    assert dash_duo.find_element("#problem-title").text != before_title
    assert "rural stations" in dash_duo.find_element("#map-caption").text
    assert dash_duo.driver.find_element(By.ID, "synthetic-badge").text.startswith("DEMO")
    assert dash_duo.get_logs() == []
