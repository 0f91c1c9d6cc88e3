"""Take a headless-chromium screenshot of a running obsmap page.

    python scripts/screenshot.py http://127.0.0.1:8050/ out.png [--size 1280x900] [--full]
    printf '%s\n' "$PASSWORD" | python scripts/screenshot.py URL out.png --user ana   # signs in first (password on stdin)
    python scripts/screenshot.py http://127.0.0.1:8050/sign-in out.png --no-map       # a page without the map

Waits until the map has drawn its regions, so a blank map is not mistaken for a page. Uses
Debian's chromium and chromedriver; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from selenium import webdriver

CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # Any host but this machine fails to resolve, so a stray fetch shows up as an error, even from a worker.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def chrome_options(width: int, height: int) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='obsmap-chrome-')}")
    options.binary_location = "/usr/bin/chromium"
    return options


MAP_READY = """
const gd = document.querySelector('#region-map .js-plotly-plot');
return !!(gd && gd._fullData && gd._fullData.length > 0 && document.querySelector('#region-map canvas'));
"""


PROJECT = """
const gd = document.querySelector('#region-map .js-plotly-plot');
const m = gd._fullLayout.map._subplot.map;
const p = m.project([arguments[0], arguments[1]]);
const r = m.getCanvas().getBoundingClientRect();
return [r.left + p.x, r.top + p.y];
"""

# How many parts of the page wait to be drawn until they come into view (dashboard.callbacks.LAZY_JS)
LAZY_WAITING = "return window.obsmapLazy ? Object.keys(window.obsmapLazy.waiting).length : 0;"


def hover_map(driver: webdriver.Chrome, lon: float, lat: float) -> tuple[float, float]:
    """Move a real mouse over a map coordinate (Plotly picks hover and clicks from real pointer moves)."""
    x, y = driver.execute_script(PROJECT, lon, lat)
    for d in (-4, 0):
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + d, "y": y + d})
        time.sleep(0.4)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--size", default="1280x900")
    parser.add_argument("--full", action="store_true", help="capture the whole page height")
    parser.add_argument("--wait", type=float, default=2.5, help="seconds to let MapLibre finish drawing")
    parser.add_argument("--hover", metavar="LON,LAT", help="move the mouse over this map coordinate to show its hover")
    parser.add_argument("--user", help="sign in as this user first; the password is read from standard input")
    parser.add_argument("--no-map", action="store_true", help="do not wait for the map (the sign-in page)")
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\n") if args.user else None
    width, height = (int(v) for v in args.size.split("x"))
    driver = webdriver.Chrome(options=chrome_options(width, height))
    try:
        # The window size includes the browser's own frame; fix the viewport itself.
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.get(args.url)
        if args.user:
            driver.find_element("id", "username").send_keys(args.user)
            driver.find_element("id", "password").send_keys(password)
            driver.find_element("id", "sign-in-button").click()
        deadline = time.time() + 30
        while not args.no_map and not driver.execute_script(MAP_READY):
            if time.time() > deadline:
                raise SystemExit("the map did not render within 30 s")
            time.sleep(0.3)
        time.sleep(args.wait)
        if args.hover:
            lon, lat = (float(v) for v in args.hover.split(","))
            hover_map(driver, lon, lat)
        if args.full:
            full = driver.execute_script("return document.documentElement.scrollHeight")
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": full})
            # The charts and the region table below the fold are drawn when they come into view: now, all of them.
            deadline = time.time() + 10
            while driver.execute_script(LAZY_WAITING) and time.time() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
        driver.save_screenshot(args.out)
        for entry in driver.get_log("browser"):
            print("console:", entry["level"], entry["message"])
    finally:
        driver.quit()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
