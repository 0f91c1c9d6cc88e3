"""The analysts' fixes in headless chromium: one form in the side panel (from a table row, from a station of the map),
the table's CSV after a change that keeps its list, Back to a multi-region selection, clock times on the slider."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains

from dashboard.app import create_app
from geo.schema import PROBLEMS
from tests.dashboard.browser_wait import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SHOTS = "/tmp"  # screenshots to look at (not asserted)
GD = "document.querySelector('#region-map .js-plotly-plot')"
FORM_ID = """
const rows = "#forms-table .ag-pinned-left-cols-container .ag-row[row-index='" + arguments[0] + "']";
const cell = document.querySelector(rows + " [col-id='form_id']");
return cell ? cell.textContent : null;
"""
# A click on the first point of the station layer named arguments[0], as plotly reports it to dcc.Graph.
CLICK_STATION = f"""
const gd = {GD}, name = arguments[0];
const i = gd._fullData.findIndex(t => t.name === name);
if (i < 0 || !gd._fullData[i].lat || !gd._fullData[i].lat.length) return null;
const t = gd._fullData[i];
const point = {{curveNumber: i, pointNumber: 0, pointIndex: 0, lat: t.lat[0], lon: t.lon[0], data: gd.data[i], fullData: t}};
gd.emit('plotly_click', {{points: [point]}});
return [i, t.lat[0], t.lon[0]];
"""


def _panel_title(dash_duo) -> str:
    return dash_duo.driver.execute_script(
        "const t = document.querySelector('#form-detail .offcanvas-title'); return t ? t.textContent : '';"
    )


def test_a_row_click_opens_the_whole_form_and_the_csv_stays_the_tables(dash_duo, demo):
    dash_duo.start_server(create_app(demo))
    driver = dash_duo.driver
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    dash_duo._wait_for_callbacks()
    counting = demo.forms[(demo.forms["form_type"] == "counting") & (demo.forms["review"] != "rejected")]
    driver.execute_script("document.getElementById('table-toggle').click();")
    _wait(lambda: driver.execute_script(FORM_ID, 0), 20, "the first block")
    first = driver.execute_script(FORM_ID, 0)
    cell = driver.find_element("css selector", "#forms-table .ag-center-cols-container .ag-row[row-index='0'] [col-id='comments']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    driver.execute_script("arguments[0].click();", cell)  # a click event (the page may still move under a real pointer)
    _wait(lambda: _panel_title(dash_duo) == f"Form {first}", 20, "the panel")
    form = counting[counting["form_id"] == first].iloc[0]
    rows = driver.find_elements("css selector", "#form-detail .obs-form-problems tbody tr")
    cells = [[td.get_attribute("textContent") for td in r.find_elements("css selector", "td")] for r in rows]
    got = {label: answer for label, answer in cells}
    assert got == {label: "Not answered" if pd.isna(form[k]) else ("Yes" if form[k] else "No") for k, label in PROBLEMS.items()}
    assert form["observed_at"].strftime("%H:%M") in driver.find_element("css selector", "#form-detail").text
    driver.save_screenshot(f"{SHOTS}/d_panel_row.png")
    driver.execute_script("document.querySelector('#form-detail .btn-close').click();")
    _wait(lambda: not driver.find_elements("css selector", "#form-detail.show"), 10, "the panel to close")

    # A search, then a change that keeps the list (the metric): the CSV is still exactly the forms listed.
    dash_duo.find_element("#table-search").send_keys("ballot")
    _wait(lambda: "with “ballot”" in dash_duo.find_element("#table-status").text, 20, "the search")
    listed = int(dash_duo.find_element("#table-status").text.split()[0].replace(",", ""))
    forms_label = [el for el in dash_duo.find_elements("#metric label") if el.text == "Forms"][0]
    driver.execute_script("arguments[0].click();", forms_label)
    dash_duo.wait_for_contains_text("#map-title", "number of forms", timeout=20)
    dash_duo._wait_for_callbacks()
    href = dash_duo.find_element("#export-link").get_attribute("href")
    exported = pd.read_csv(io.StringIO(requests.get(href, timeout=20).text), dtype=str)
    assert "search=ballot" in href and len(exported) == listed < len(counting)


def test_a_station_click_lists_its_visits_and_back_returns_to_two_regions(dash_duo, demo):
    dash_duo.start_server(create_app(demo))
    driver = dash_duo.driver
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    driver.get(dash_duo.server_url + "/?form=voting&region=KZ-KAR,KZ-PAV")
    dash_duo.wait_for_contains_text("#n-shown", "Karaganda", timeout=20)
    # Drill into one of the two (as a click on the region would: the URL the page writes), then open a station.
    driver.get(dash_duo.server_url + "/?form=voting&drill=KZ-KAR&back=KZ-KAR,KZ-PAV")
    dash_duo.wait_for_contains_text("#map-title", "polling stations", timeout=20)
    dash_duo._wait_for_callbacks()
    voting = demo.forms[(demo.forms["form_type"] == "voting") & (demo.forms["region_code"] == "KZ-KAR")]
    clicked = None
    for name in ("Observed: very good", "Observed: good", "Observed: bad", "Observed: very bad"):
        _wait(lambda: driver.execute_script(f"return !!{GD} && !!{GD}._fullData"), 20, "the map")
        clicked = driver.execute_script(CLICK_STATION, name)
        if clicked:
            break
    assert clicked, "no observed station drawn"
    _wait(lambda: _panel_title(dash_duo).startswith("Form "), 20, "the station's newest form")
    opened = _panel_title(dash_duo).removeprefix("Form ")
    station = voting.loc[voting["form_id"] == opened, "ps_id"].iloc[0]
    visits = voting[voting["ps_id"] == station].sort_values("observed_at", ascending=False)
    assert opened == visits["form_id"].iloc[0]
    if len(visits) > 1:
        labels = [el.text for el in driver.find_elements("css selector", "#form-visits label")]
        assert [label.rsplit("form ", 1)[1] for label in labels] == list(visits["form_id"])
    driver.save_screenshot(f"{SHOTS}/d_panel_station.png")
    driver.execute_script("document.querySelector('#form-detail .btn-close').click();")
    _wait(lambda: not driver.find_elements("css selector", "#form-detail.show"), 10, "the panel to close")
    # Back: the two regions again.
    driver.execute_script("document.getElementById('back').click();")
    _wait(lambda: "back=" not in driver.current_url and "drill=" not in driver.current_url, 20, "Back")
    assert "region=KZ-KAR,KZ-PAV" in driver.current_url
    dash_duo.wait_for_contains_text("#n-shown", "Pavlodar", timeout=20)


def test_the_time_slider_tooltip_says_a_clock_time(dash_duo, demo):
    dash_duo.start_server(create_app(demo))
    driver = dash_duo.driver
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    dash_duo._wait_for_callbacks()
    driver.execute_script("document.getElementById('more-toggle') && document.getElementById('more-toggle').click();")
    handle = driver.find_elements("css selector", "#hours [role='slider']")[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    ActionChains(driver).move_to_element(handle).perform()
    handle.click()
    _wait(lambda: driver.execute_script("return document.querySelector('[id$=\"-tooltip-1-content\"]') !== null"), 10, "the tooltip")
    shown = driver.execute_script("return document.querySelector('[id$=\"-tooltip-1-content\"]').textContent")
    assert re.fullmatch(r"\d\d:00( \+1)?", shown), shown
    marks = driver.execute_script(
        "return Array.from(document.querySelectorAll('#hours [class*=mark]'))"
        ".filter(e => !e.children.length).map(e => e.textContent).filter(t => t)"
    )
    assert marks and all(re.fullmatch(r"\d\d:00( \+1)?", m) for m in marks), marks
