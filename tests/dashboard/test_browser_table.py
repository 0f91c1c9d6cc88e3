"""The forms table in headless chromium: AG Grid's infinite row model asking the server for blocks of rows."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest
import requests
from flask import request
from selenium.webdriver.common.keys import Keys

from dashboard.app import create_app
from tests.dashboard.browser_wait import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CELLS = """
return Array.from(document.querySelectorAll('#forms-table .ag-center-cols-container .ag-row'))
    .filter(r => r.querySelector("[col-id='ps_id']") && r.querySelector("[col-id='ps_id']").textContent)
    .map(r => [Number(r.getAttribute('row-index')), r.querySelector("[col-id='ps_id']").textContent])
    .sort((a, b) => a[0] - b[0]);
"""
FORM_ID = """
const row = document.querySelector("#forms-table .ag-pinned-left-cols-container .ag-row[row-index='" + arguments[0] + "']");
return row ? row.querySelector("[col-id='form_id']").textContent : null;
"""


def test_the_table_pages_sorts_and_searches_on_the_server(dash_duo, demo):
    """Closed, the table asks the server for nothing; opened, it shows the first block of the view's forms with the
    count, a click on a header sorts them on the server, a scroll asks for a further block, a search narrows them, and
    the CSV link then holds exactly the forms listed, in their order."""
    app = create_app(demo)
    asked: list[str] = []

    @app.server.before_request
    def count_row_requests():
        if request.path == "/_dash-update-component" and "getRowsResponse" in (request.get_json(silent=True) or {}).get("output", ""):
            asked.append(request.get_json()["inputs"][0]["value"])

    dash_duo.start_server(app)
    driver = dash_duo.driver
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    dash_duo._wait_for_callbacks()
    counting = demo.forms[demo.forms["form_type"] == "counting"]
    assert asked == [] and not dash_duo.find_element("#forms-table").is_displayed()  # closed: nothing asked

    driver.execute_script("document.getElementById('table-toggle').click();")
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith(f"{len(counting):,} forms of this view"), 20, "the count")
    _wait(lambda: driver.execute_script(FORM_ID, 0), 20, "the first block")
    assert len(asked) == 1 and asked[0]["startRow"] == 0
    by_time = counting.sort_values("observed_at", kind="stable")
    assert driver.execute_script(FORM_ID, 0) == by_time["form_id"].iloc[0]

    # Sort by station, descending (two clicks on the header): the server's order, blanks last.
    header = "#forms-table .ag-header-cell[col-id='ps_id'] .ag-header-cell-label"
    for _ in range(2):  # a click event on the header (the page may still move under a real pointer)
        driver.execute_script("arguments[0].click();", dash_duo.find_element(header))
        time.sleep(0.4)
    stations = counting["ps_id"].dropna().sort_values(ascending=False, kind="stable").tolist()
    _wait(lambda: driver.execute_script(CELLS)[0] == [0, stations[0]], 20, "the sorted first block")
    assert [ps for _, ps in driver.execute_script(CELLS)][:5] == stations[:5]
    assert [(s["colId"], s["sort"]) for s in asked[-1]["sortModel"]] == [("ps_id", "desc")]

    # A scroll far down: the grid asks for that block only.
    driver.execute_script("window.dash_ag_grid.getApi('forms-table').ensureIndexVisible(150, 'top');")
    _wait(lambda: any(i == 150 for i, _ in driver.execute_script(CELLS)), 20, "row 150")
    row150 = dict(driver.execute_script(CELLS))[150]
    assert row150 == stations[150] and asked[-1]["startRow"] == 100

    # A search: the grid starts again from row 0 with the server's narrowed list, and the CSV link follows it.
    search = dash_duo.find_element("#table-search")
    search.send_keys("ballot")
    in_comment = counting["comments"].fillna("").str.contains("ballot", case=False, regex=False)
    found = counting[in_comment | counting["ballot_box_stuffing"].fillna(False).astype(bool)]  # "Ballot box stuffing" reported
    _wait(lambda: "with “ballot”" in dash_duo.find_element("#table-status").text, 20, "the search")
    assert dash_duo.find_element("#table-status").text.startswith(f"{len(found):,} forms")
    # The grid may keep the old list's scroll offset (clamped to the shorter new list): read the new list from its top.
    _wait(lambda: asked[-1]["startRow"] == 0, 20, "the searched list's first block")
    driver.execute_script("window.dash_ag_grid.getApi('forms-table').ensureIndexVisible(0, 'top');")
    _wait(lambda: driver.execute_script(CELLS)[0][0] == 0, 20, "the first searched block")
    href = dash_duo.find_element("#export-link").get_attribute("href")
    assert "search=ballot" in href and "sort=ps_id%3Adesc" in href
    exported = pd.read_csv(io.StringIO(requests.get(href, timeout=20).text), dtype=str)
    assert len(exported) == len(found)
    shown = [ps for _, ps in driver.execute_script(CELLS)]
    assert exported["ps_id"].tolist()[: len(shown)] == shown

    # A search that finds nothing, then one that finds forms again: the grid comes back from an empty list.
    search.send_keys("zzq")
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith("0 forms"), 20, "an empty list")
    search.send_keys(Keys.BACKSPACE * 3)
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith(f"{len(found):,} forms"), 20, "the list again")
    _wait(lambda: [ps for _, ps in driver.execute_script(CELLS)][:3] == shown[:3], 20, "its rows again")

    # Another view while the table is open: it starts again from row 0 with that view's forms (search kept).
    before = len(asked)
    _click_phase(dash_duo, "Voting")
    voting = demo.forms[demo.forms["form_type"] == "voting"]
    in_comment = voting["comments"].fillna("").str.contains("ballot", case=False, regex=False)
    found = voting[in_comment | voting["ballot_box_stuffing"].fillna(False).astype(bool)]
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith(f"{len(found):,} forms"), 20, "the voting forms")
    assert asked[before]["startRow"] == 0

    # Closed, the table asks for nothing, whatever the view does.
    driver.execute_script("document.getElementById('table-toggle').click();")
    _wait(lambda: not dash_duo.find_element("#forms-table").is_displayed(), 10, "the table to close")
    before = len(asked)
    _click_phase(dash_duo, "Opening")
    dash_duo.wait_for_contains_text("#map-title", "Opening", timeout=20)
    dash_duo._wait_for_callbacks()
    time.sleep(1)
    assert len(asked) == before
    assert dash_duo.get_logs() == [], "browser console has errors"


def _click_phase(dash_duo, label: str) -> None:
    dash_duo.driver.execute_script("arguments[0].click();", [el for el in dash_duo.find_elements("#phase label") if el.text == label][0])


def test_new_data_refreshes_the_open_table_where_the_reader_is(dash_duo, tmp_path):
    """A live mission's sync while an analyst reads row 150 of the open table: the rows are asked for again and the
    count grows, but the table stays where it was (it was sent back to row 0 with every new data version)."""
    from tests.conftest import DEMO, deliver, live_demo

    out = tmp_path / "live"
    events = live_demo(out)
    raw = pd.read_csv(DEMO / "forms.csv", dtype="string")
    deliver(out, events[:1500])
    dash_duo.start_server(create_app(out, poll_seconds=1))
    driver = dash_duo.driver
    dash_duo.wait_for_element("#headlines .obs-n", timeout=20)
    _click_phase(dash_duo, "Voting")
    dash_duo.wait_for_contains_text("#map-title", "Voting", timeout=20)
    voting_first = {e.form_id for e in events[:1500] if e.row.get("form_type") == "voting"}
    driver.execute_script("document.getElementById('table-toggle').click();")
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith(f"{len(voting_first):,} forms"), 20, "the count")
    driver.execute_script("window.dash_ag_grid.getApi('forms-table').ensureIndexVisible(150, 'top');")
    _wait(lambda: any(i == 150 for i, _ in driver.execute_script(CELLS)), 20, "row 150")
    top = driver.execute_script("return window.dash_ag_grid.getApi('forms-table').getFirstDisplayedRowIndex();")
    assert top >= 140

    deliver(out, events[1500:])
    voting_all = int((raw["form_type"] == "voting").sum())
    _wait(lambda: dash_duo.find_element("#table-status").text.startswith(f"{voting_all:,} forms"), 30, "the new count")
    _wait(lambda: any(i == 150 for i, _ in driver.execute_script(CELLS)), 20, "row 150 again")
    assert driver.execute_script("return window.dash_ag_grid.getApi('forms-table').getFirstDisplayedRowIndex();") >= 140
    assert driver.execute_script("return window.dash_ag_grid.getApi('forms-table').getDisplayedRowCount();") == voting_all
    assert dash_duo.get_logs() == [], "browser console has errors"
