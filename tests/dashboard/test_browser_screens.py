"""In headless chromium: a phone and a tablet (no sideways scroll, the whole country in the map, a colour bar read
level), the wheel over the map (the page scrolls until the map is clicked into), the briefing view's phase buttons and
keys 1-4 with larger hovers, and a map toolbar without plotly's uncaptioned camera."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains

from dashboard.app import create_app
from dashboard.figures import map_view
from dashboard.filters import Filters
from geo.schema import FORM_TYPES, PHASE_LABELS
from tests.dashboard.browser_wait import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

GD = "document.querySelector('#region-map .js-plotly-plot')"
RENDERED = f"""
const gd = {GD};
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
if (!sub || !sub.map || !sub.map.loaded()) return -1;
return sub.map.queryRenderedFeatures().length;
"""
# Whether the map shows the whole box (west, south, east, north) given as the argument (as in test_browser.py).
SHOWS = f"""
const sub = {GD}._fullLayout.map._subplot, b = sub.map.getBounds(), [w, s, e, n] = arguments[0];
return b.getWest() <= w && b.getEast() >= e && b.getSouth() <= s && b.getNorth() >= n;
"""
ZOOM = f"return {GD}._fullLayout.map._subplot.map.getZoom();"
BOX = "const b = document.getElementById('map-box').getBoundingClientRect(); return [b.left, b.top, b.width, b.height];"
SIDEWAYS = "return [document.scrollingElement.scrollWidth, window.innerWidth];"
# The colour bar's tick labels (their boxes on screen), the bar's bottom edge, and where the country's north edge is
# drawn, all relative to the map's top (the north edge from MapLibre's own projection of the bounds' corner).
LEGEND = f"""
const gd = {GD}, m = gd._fullLayout.map._subplot.map, top = m.getCanvas().getBoundingClientRect().top;
const labels = Array.from(gd.querySelectorAll('.colorbar .cbaxis text')).map(t => {{
  const r = t.getBoundingClientRect(); return [r.left, r.right, r.width, r.height, t.textContent];
}});
const bar = gd.querySelector('.colorbar').getBoundingClientRect();
return {{labels: labels, barBottom: bar.bottom - top, north: m.project([arguments[0], arguments[1]]).y}};
"""


def _viewport(driver, width, height):
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    )


def _map_ready(dash_duo):
    dash_duo.wait_for_element("#region-map canvas", timeout=20)
    _wait(lambda: (dash_duo.driver.execute_script(RENDERED) or -1) > 0, 20, "MapLibre to draw")
    dash_duo._wait_for_callbacks()


def _fitted(driver, bounds):
    """The map shows ``bounds`` at the zoom the server's fit (map_view) gives for the box's measured size."""
    _, _, width, height = driver.execute_script(BOX)
    expected = map_view(bounds, round(width), round(height))["zoom"]
    return abs(driver.execute_script(ZOOM) - expected) < 0.011 and driver.execute_script(SHOWS, list(bounds))


@pytest.mark.parametrize("size", [(390, 844), (768, 1024)])
def test_phone_and_tablet_no_sideways_scroll_whole_country_level_legend(dash_duo, demo, size):
    """At 390 and 768 px: nothing wider than the screen, the map fitted to its box with the whole country in it and
    below the colour bar, and the colour bar's labels level (not turned sideways), side by side, inside the map."""
    driver = dash_duo.driver
    dash_duo.start_server(create_app(demo))
    _viewport(driver, *size)
    driver.get(dash_duo.server_url + "/")
    _map_ready(dash_duo)
    country = demo.bounds["*"]
    _wait(lambda: _fitted(driver, country), 15, "the map fitted to its box")
    scroll_width, inner = driver.execute_script(SIDEWAYS)
    assert scroll_width <= inner == size[0]
    # Once plotly has drawn the bar at the map's width (20-obsmap.js re-sizes it on a narrow map).
    _wait(lambda: all(w > h for _, _, w, h, _ in driver.execute_script(LEGEND, country[0], country[3])["labels"]), 10, "level labels")
    legend = driver.execute_script(LEGEND, country[0], country[3])
    labels = sorted(legend["labels"])
    classes = driver.execute_script(f"return {GD}.data[0].colorbar.ticktext.length;")
    assert len(labels) == classes >= 6, labels  # every class labelled
    left, _, width, _ = driver.execute_script(BOX)
    assert all(left <= a and b <= left + width for a, b, *_ in labels), labels  # inside the map
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(labels, labels[1:], strict=False)), labels  # no two overlap
    assert legend["barBottom"] <= legend["north"], legend  # the bar covers no part of the country
    assert dash_duo.get_logs() == []


def test_the_map_refits_when_the_window_narrows(dash_duo, demo):
    """A desktop window made tablet-wide, then phone-wide: the map refits the country to each new size."""
    driver = dash_duo.driver
    dash_duo.start_server(create_app(demo))
    _viewport(driver, 1440, 900)
    driver.get(dash_duo.server_url + "/")
    _map_ready(dash_duo)
    country = demo.bounds["*"]
    _wait(lambda: _fitted(driver, country), 15, "the desktop fit")
    desktop = driver.execute_script(ZOOM)
    for width, height in ((768, 1024), (390, 844)):
        _viewport(driver, width, height)
        _wait(lambda: _fitted(driver, country), 15, f"the map refitted at {width} px")
        assert driver.execute_script(ZOOM) < desktop
    assert driver.execute_script(SIDEWAYS)[0] <= 390


def _wheel(driver, x, y, dy=300):
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": dy})


def test_the_wheel_scrolls_the_page_until_the_map_is_clicked(dash_duo, demo):
    """The wheel over a map not clicked into scrolls the page and leaves the zoom (with a hint); after a click into the
    map it zooms the map and the page stays; once the pointer has left the map, the wheel scrolls the page again."""
    driver = dash_duo.driver
    dash_duo.start_server(create_app(demo))
    _viewport(driver, 1280, 900)
    driver.get(dash_duo.server_url + "/")
    _map_ready(dash_duo)
    _wait(lambda: _fitted(driver, demo.bounds["*"]), 15, "the map fitted")
    left, top, width, height = driver.execute_script(BOX)
    assert top + height < 900  # all of the map on screen, the page below it
    zoom = driver.execute_script(ZOOM)
    # A point of the map outside the country (its south-east corner): a click there selects no region.
    x, y = left + width - 40, top + height - 40
    _wheel(driver, x, y)
    _wait(lambda: driver.execute_script("return window.scrollY") > 0, 10, "the page to scroll")
    assert "obs-map-hint-on" in dash_duo.find_element("#map-hint").get_attribute("class")
    time.sleep(0.5)  # a wheel reaching MapLibre would have begun its zoom by now
    assert driver.execute_script(ZOOM) == zoom

    left, top, width, height = driver.execute_script(BOX)
    x, y = left + width - 40, top + height - 40
    for kind in ("mousePressed", "mouseReleased"):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})
    scrolled = driver.execute_script("return window.scrollY")
    _wheel(driver, x, y, dy=-300)
    _wait(lambda: driver.execute_script(ZOOM) > zoom + 0.1, 10, "the wheel to zoom the map in")
    assert driver.execute_script("return window.scrollY") == scrolled
    assert "Counting: share of forms" in dash_duo.find_element("#map-title").text  # the click drilled into nothing

    # The pointer leaves the map (over the page's header), comes back: the wheel scrolls the page again.
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 5, "y": 5})
    _wait(lambda: driver.execute_script("return window.obsmapMapActive()") is False, 5, "the map to let go of the wheel")
    zoomed = driver.execute_script(ZOOM)
    _wheel(driver, x, y)
    _wait(lambda: driver.execute_script("return window.scrollY") > scrolled, 10, "the page to scroll again")
    time.sleep(0.5)
    assert driver.execute_script(ZOOM) == zoomed
    assert dash_duo.get_logs() == []


HOVER = f"""
const gd = {GD}, m = gd._fullLayout.map._subplot.map, p = m.project([arguments[0], arguments[1]]);
const r = m.getCanvas().getBoundingClientRect();
return [r.left + p.x, r.top + p.y];
"""
HOVER_LABEL = """
const t = document.querySelector('#region-map .hoverlayer .hovertext text');
const box = document.querySelector('#region-map .hoverlayer .hovertext path');
if (!t || !box) return null;
const a = t.getBoundingClientRect(), b = box.getBoundingClientRect();
const inside = a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
return [parseFloat(getComputedStyle(t).fontSize), inside];
"""


def _hover_size(dash_duo):
    """Move a real pointer over Karaganda; the hover label's font size and whether its box holds its text."""
    driver = dash_duo.driver
    x, y = driver.execute_script(HOVER, 70.0, 48.5)
    for d in (-4, 0):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + d, "y": y + d})
        time.sleep(0.3)
    _wait(lambda: driver.execute_script(HOVER_LABEL) is not None, 10, "the hover label")
    return driver.execute_script(HOVER_LABEL)


def test_briefing_view_switches_phase_by_button_and_keys_with_large_hovers(dash_duo, demo):
    """?mode=briefing: its phase buttons are visible and switch the map's phase; keys 1-4 choose opening, voting,
    counting, tabulation (the map's title says which); the view stays a briefing; hovers are larger than the analyst's."""
    driver = dash_duo.driver
    dash_duo.start_server(create_app(demo))
    _viewport(driver, 1280, 720)
    driver.get(dash_duo.server_url + "/?form=counting")
    _map_ready(dash_duo)
    analyst_font, _ = _hover_size(dash_duo)
    assert not dash_duo.find_element("#briefing-phase").is_displayed()  # the analyst has the filter bar's

    driver.get(dash_duo.server_url + "/?mode=briefing&form=counting")
    dash_duo.wait_for_contains_text("#map-title", "Counting:", timeout=20)
    _map_ready(dash_duo)
    buttons = [el for el in dash_duo.find_elements("#briefing-phase label") if el.is_displayed()]
    assert [b.text for b in buttons] == [PHASE_LABELS[ft] for ft in FORM_TYPES]
    assert all(b.size["height"] >= 30 and b.size["width"] >= 90 for b in buttons)  # large enough for a projector
    _wait(lambda: dash_duo.find_element("#briefing-phase label.active").text == "Counting", 10, "the phase shown as chosen")
    buttons[1].click()
    dash_duo.wait_for_contains_text("#map-title", "Voting:", timeout=10)
    assert "form=voting" in driver.current_url

    body = driver.find_element("css selector", "body")
    for key in "4132":
        ft = FORM_TYPES[int(key) - 1]
        dash_duo._wait_for_callbacks()
        ActionChains(driver).move_to_element(body).send_keys(key).perform()
        dash_duo.wait_for_contains_text("#map-title", f"{PHASE_LABELS[ft]}:", timeout=10)
        _wait(lambda ft=ft: dash_duo.find_element("#briefing-phase label.active").text == PHASE_LABELS[ft], 10, "the button to follow")
        url = driver.current_url  # the default phase is left out of the URL
        assert (f"form={ft}" in url or (ft == Filters().form_type and "form=" not in url)) and "mode=briefing" in url
    assert "obs-briefing" in dash_duo.find_element("#page").get_attribute("class")

    font, inside = _hover_size(dash_duo)
    assert font >= 19 and font > analyst_font and inside  # larger, and its box grew with it
    assert dash_duo.get_logs() == []


def test_no_camera_on_the_map_and_a_captioned_download_button(dash_duo, demo):
    """The map's toolbar has no camera (plotly's uncaptioned 700x450 crop) and no cloud button; the captioned picture
    is a "Download PNG" button for the view shown."""
    driver = dash_duo.driver
    dash_duo.start_server(create_app(demo))
    driver.get(dash_duo.server_url + "/?form=voting")
    _map_ready(dash_duo)
    driver.execute_script(f"{GD}.dispatchEvent(new MouseEvent('mousemove', {{bubbles: true}}))")
    _wait(lambda: driver.execute_script("return document.querySelectorAll('#region-map .modebar-btn').length") > 0, 10, "the toolbar")
    titles = driver.execute_script("return Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'));")
    assert not [t for t in titles if "download" in t.lower() or "png" in t.lower() or "Chart Studio" in t or "Share" in t], titles
    assert (
        driver.execute_script('return document.querySelector(\'.modebar-btn[data-attr="toImage"], [data-title*="Download plot"]\')') is None
    )
    button = dash_duo.find_element("#map-png")
    assert button.text == "Download PNG" and button.is_displayed() and "btn" in button.get_attribute("class")
    _wait(lambda: "form=voting" in (button.get_attribute("href") or ""), 10, "the picture of the view shown")
    assert button.get_attribute("href").startswith(dash_duo.server_url + "/export/map.png?")
    assert dash_duo.get_logs() == []
