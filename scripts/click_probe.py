"""Phase clicks on a running obsmap in headless chromium: click -> reply -> map redrawn, per click and median.

    python -m scripts.click_probe http://127.0.0.1:8050 [--clicks 12]
    printf '%s\\n' "$PASSWORD" | python -m scripts.click_probe http://127.0.0.1:8050 --user bench   # signs in first

Uses the benchmark kit's own harness functions (``../shared/bench/browser_bench.py``: its browser, its fetch
recorder, its click and its wait), so a click counts as the kit counts it: from the click to MapLibre's first "idle"
after the last reply. Besides, per click: when the request left (``request``: dash-renderer's work before it),
when its reply had fully arrived (``arrived``, Resource Timing) and when the page had handled it (``handled``: the
recorder's read of the body, which waits for the main thread). What ``scripts.side_by_side`` does not show: where,
between the click and the redraw, the time goes, on any mission (a world of 4,556 regions too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "shared" / "bench"
PHASES = ("Voting", "Counting", "Tabulation", "Opening")
RESOURCE = """
const e = performance.getEntriesByType('resource').filter(e => e.name.indexOf('_dash-update-component') >= 0).pop();
return e ? e.responseEnd : null;
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the app's address, e.g. http://127.0.0.1:8050")
    parser.add_argument("--clicks", type=int, default=12)
    parser.add_argument("--path", default="/", help="the page to open (with its query), default /")
    parser.add_argument("--user", help="sign in as this user first; the password is read from standard input")
    parser.add_argument("--size", default="1440x900")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error("the probe measures an app on this machine only (http://127.0.0.1:PORT)")
    sys.path.insert(0, str(KIT))
    import browser_bench as bb
    from selenium.webdriver.common.by import By

    width, height = map(int, args.size.split("x"))
    driver = bb.driver_for(width, height)
    try:
        base = args.url.rstrip("/")
        if args.user:
            password = sys.stdin.readline().rstrip("\n")
            driver.get(base + "/sign-in")
            driver.find_element(By.ID, "username").send_keys(args.user)
            driver.find_element(By.ID, "password").send_keys(password)
            driver.find_element(By.ID, "sign-in-button").click()
            time.sleep(2)
        driver.get(base + args.path)
        deadline = time.perf_counter() + 300
        while not driver.execute_script(bb.STATE, "region-map")["drawn"]:
            if time.perf_counter() > deadline:
                raise SystemExit("the map was not drawn within 5 minutes")
            time.sleep(0.1)
        time.sleep(4)  # the lazy parts, the names' file
        rows = []
        for i in range(args.clicks):
            before = driver.execute_script("return window.__f.length;")
            clicked = driver.execute_script(bb.CLICK_JS["obsmap-phase"], PHASES[i % len(PHASES)])
            change = bb.wait_chain(driver, before, clicked, start_timeout=10)
            if change is None:
                raise SystemExit(f"click {i + 1} ({PHASES[i % len(PHASES)]}) made no request: is the page showing the phase buttons?")
            first = driver.execute_script("return window.__f.slice(arguments[0]);", before)[0]
            arrived = driver.execute_script(RESOURCE)
            rows.append(
                {
                    "phase": PHASES[i % len(PHASES)],
                    "redrawn_ms": round(1000 * change["s"]),
                    "request_ms": round(first["start"] - clicked),
                    "arrived_ms": round(arrived - clicked) if arrived else None,
                    "handled_ms": round(first["end"] - clicked),
                    "bytes": change["bytes"],
                    "requests": change["requests"],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            time.sleep(0.5)
        keys = ("redrawn_ms", "request_ms", "arrived_ms", "handled_ms")
        median = {k: statistics.median(r[k] for r in rows if r[k] is not None) for k in keys}
        print("median " + json.dumps(median))
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
