"""In headless chromium: signing in and out under the Content-Security-Policy, no script from a hostile mission's
strings, and no button that sends anything off the machine."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from dashboard.accounts import Accounts
from dashboard.app import create_app
from geo.mission import build_mission
from tests.conftest import form_rows

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD = "Browser-test-pass-2291"
# Recorded in sessionStorage, so a call survives the page's navigation; runs before any script of the page.
TRAPS = """
(function () {
  const note = (what) => {
    try { sessionStorage.setItem('trapped', (sessionStorage.getItem('trapped') || '') + what + ';'); } catch (e) {}
  };
  for (const name of ['alert', 'confirm', 'prompt', 'print']) { window[name] = function (m) { note(name + ':' + m); }; }
  const open = window.open;
  window.open = function (url) { note('open:' + url); return null; };
})();
"""
TRAPPED = "return sessionStorage.getItem('trapped');"
# Elements a payload would have made: inline event handlers, javascript: links, <script> without a source, img src=x.
MARKUP = """
const bad = [];
for (const el of document.querySelectorAll('*')) {
  for (const a of el.attributes) {
    if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
    const link = a.name === 'href' || a.name === 'src' || a.name === 'xlink:href';
    if (link && /^\\s*javascript:/i.test(a.value)) bad.push(el.tagName + ' ' + a.value);
  }
  if (el.tagName === 'SCRIPT' && !el.src && el.type !== 'application/json' && !el.textContent.includes('DashRenderer')
      && !el.textContent.includes('dash_clientside')) bad.push('inline script: ' + el.textContent.slice(0, 60));
  if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') bad.push('img src=x');
}
return bad;
"""
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href]);"
PAYLOADS = {
    "name": "</title><script>alert('name')</script>",
    "region": "<img src=x onerror=alert('region')>",
    "org": '"><svg onload=alert("org")>',
    "team": "<script>alert('team')</script>",
    "station": "javascript:alert('ps')",
    "comment": '<a href="javascript:alert(\'comment\')">x</a> {{7*7}} =HYPERLINK("http://evil","x")',
}


@pytest.fixture(autouse=True)
def _pictures_closed(dash_duo):
    """The picture renderer's thread is closed before dash_duo stops its server (which kills every thread it started)."""
    yield
    from dashboard import exports

    exports._renderer.stop()


def _trap(dash_duo) -> None:
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAPS})


def _wait(predicate, timeout=20, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message}")


def _map_ready(dash_duo) -> None:
    dash_duo.wait_for_element("#region-map canvas", timeout=20)
    dash_duo._wait_for_callbacks()


def test_sign_in_see_the_map_and_sign_out_under_the_csp(dash_duo, demo, tmp_path):
    accounts = Accounts(tmp_path / "accounts.sqlite", create=True)
    accounts.add("ana", PASSWORD, "analyst", by="test", address="local")
    dash_duo.start_server(create_app(demo, accounts=accounts), navigate=False)  # its first page is the sign-in page
    driver, base = dash_duo.driver, dash_duo.server.url.rstrip("/")
    driver.get(base + "/?form=voting")
    _wait(lambda: "/sign-in" in driver.current_url, message="the sign-in page")
    assert driver.find_elements(By.ID, "region-map") == []  # nothing of the mission before signing in
    driver.find_element(By.ID, "username").send_keys("ana")
    driver.find_element(By.ID, "password").send_keys("not-" + PASSWORD)
    driver.find_element(By.ID, "sign-in-button").click()
    _wait(lambda: driver.find_elements(By.ID, "sign-in-error"), message="the refusal")
    assert driver.find_element(By.ID, "sign-in-error").text == "Wrong user name or password."
    dash_duo.get_logs()  # the refusal's own 401; the console is checked from here on
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "sign-in-button").click()
    # Back to the page asked for, with its view.
    dash_duo.wait_for_contains_text("#map-title", "Voting", timeout=20)
    _map_ready(dash_duo)
    assert "form=voting" in driver.current_url
    assert dash_duo.find_element("#account-name").text == "ana · analyst"
    counting = [el for el in dash_duo.find_elements("#phase label") if el.text == "Counting"][0]
    counting.click()  # a callback after signing in: dash-renderer's CSRF header is accepted
    dash_duo.wait_for_contains_text("#map-title", "Counting", timeout=10)
    assert dash_duo.get_logs() == [], "console errors (a CSP violation is one)"
    driver.find_element(By.ID, "sign-out").click()
    _wait(lambda: driver.current_url.endswith("/sign-in"), message="the sign-in page after signing out")
    driver.get(base + "/")
    _wait(lambda: "/sign-in" in driver.current_url, message="the page to be closed again")
    assert [e["event"] for e in accounts.audit_rows()][-3:] == ["sign_in_failed", "sign_in", "sign_out"]


def hostile_mission(tmp_path):
    from tests.conftest import two_regions

    regions = two_regions()
    regions.loc[0, "name"] = PAYLOADS["region"]
    rows = [
        {
            "form_type": "voting",
            "latitude": 0.5,
            "longitude": 0.2 + 0.05 * i,
            "region_code": "AA",
            "overall": "bad" if i % 2 else "good",
            "observed_at": f"2005-12-04T{9 + i}:00",
            "observer_org": PAYLOADS["org"],
            "team_id": PAYLOADS["team"],
            "ps_id": PAYLOADS["station"] + str(i),
            "comments": PAYLOADS["comment"],
        }
        for i in range(12)
    ]
    return build_mission(tmp_path / "hostile", regions, form_rows(rows), {"name": PAYLOADS["name"], "mission": PAYLOADS["org"]})


def _check_clean(dash_duo, where: str) -> None:
    assert dash_duo.driver.execute_script(TRAPPED) is None, f"script ran ({where})"
    assert dash_duo.driver.execute_script(MARKUP) == [], f"markup from data ({where})"


def test_no_script_runs_from_a_hostile_missions_strings(dash_duo, tmp_path):
    """Mission name, region name, organisation, team, station ids and comments are script payloads: the page,
    the drill-down, the table, the briefing view and the exports show them as text, and nothing runs."""
    mission = hostile_mission(tmp_path)
    _trap(dash_duo)
    dash_duo.start_server(create_app(mission))
    driver = dash_duo.driver
    _map_ready(dash_duo)
    assert PAYLOADS["name"] in driver.title  # shown as text
    _check_clean(dash_duo, "page")
    driver.get(dash_duo.server_url + "/?form=voting&drill=AA")
    dash_duo.wait_for_contains_text("#map-title", "polling stations", timeout=20)
    _map_ready(dash_duo)
    assert PAYLOADS["region"] in dash_duo.find_element("#map-title").text
    _check_clean(dash_duo, "drill-down")
    dash_duo._wait_for_callbacks()  # the view settled, then the table opened
    driver.execute_script("document.getElementById('table-toggle').click();")
    grid_text = "return document.getElementById('forms-table').textContent;"  # every rendered cell, scrolled into view or not
    _wait(lambda: PAYLOADS["comment"] in (driver.execute_script(grid_text) or ""), 40, "the forms in the table")
    _check_clean(dash_duo, "table")
    driver.get(dash_duo.server_url + "/?form=voting&mode=briefing")
    _map_ready(dash_duo)
    _check_clean(dash_duo, "briefing view")
    driver.get(dash_duo.server_url + "/export/brief.html?form=voting")
    _wait(lambda: PAYLOADS["region"] in driver.find_element(By.TAG_NAME, "body").text, 60, "the brief")
    _check_clean(dash_duo, "brief")
    assert dash_duo.get_logs() == [], "console errors"


@pytest.mark.export
def test_the_svg_export_of_a_hostile_mission_runs_nothing(dash_duo, tmp_path):
    mission = hostile_mission(tmp_path)
    _trap(dash_duo)
    dash_duo.start_server(create_app(mission))
    driver = dash_duo.driver
    for figure in ("map", "problems", "timeline"):
        driver.get(dash_duo.server_url + f"/export/{figure}.svg?form=voting")
        _wait(lambda: driver.find_elements(By.TAG_NAME, "svg"), 60, f"the {figure} SVG")
        _check_clean(dash_duo, f"{figure}.svg")


def test_no_button_sends_anything_off_the_machine(dash_duo, demo):
    """Every toolbar button of the map and every button of the page, pressed: no request leaves 127.0.0.1, no window
    opens, no link points elsewhere, and Plotly's cloud buttons are not there at all."""
    _trap(dash_duo)
    dash_duo.start_server(create_app(demo))
    driver = dash_duo.driver
    _map_ready(dash_duo)
    driver.execute_script(
        "document.querySelector('#region-map .js-plotly-plot').dispatchEvent(new MouseEvent('mousemove', {bubbles: true}))"
    )
    titles = driver.execute_script("return Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'));")
    assert titles and not [t for t in titles if "Chart Studio" in t or "Share" in t or "plot.ly" in t.lower()], titles
    for index in range(len(titles)):
        driver.execute_script("document.querySelectorAll('.modebar-btn')[arguments[0]].click();", index)
        time.sleep(0.3)
    buttons = driver.execute_script("return Array.from(document.querySelectorAll('button')).filter(b => !b.closest('a')).length;")
    for index in range(buttons):
        driver.execute_script(
            "const b = Array.from(document.querySelectorAll('button')).filter(b => !b.closest('a'))[arguments[0]]; if (b) b.click();", index
        )
        time.sleep(0.2)
    dash_duo._wait_for_callbacks()
    links = driver.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);")
    assert links and all(link.startswith(dash_duo.server_url) for link in links), links
    urls = driver.execute_script(RESOURCES)
    assert [u for u in urls if not u.startswith((dash_duo.server_url, "data:", "blob:"))] == []
    assert driver.execute_script(TRAPPED) in (None, "print:undefined;"), "a window was opened"
    assert dash_duo.get_logs() == []
