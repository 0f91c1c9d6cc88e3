"""How long a form takes from the ODK Central server to the map in an open page, with the default intervals.

    python -m scripts.bench_live [--samples 15] [--every 60] [--poll 30] [--keep-page]

A live mission folder (the demo's geography) is synced from a fake ODK Central server (tests/sync/fakes.py)
by ``obsmap sync --every N``, served by the dashboard (page check every ``--poll`` s) and opened in headless
chromium at ``/?form=voting``, reloaded before each sample at a random phase of its check (``--keep-page``:
never). For each sample, at a random moment (0-40 s after the previous one ended), one voting form is added
to the server (t0); the page is read every 0.2 s until ``#n-phase-forms``'s ``data-n`` goes up (t1).
Latency = t1 - t0. The sync's "1 new" progress line, time-stamped as it arrives, splits it into
server -> store (the sync round) and store -> page (the page's check and redraw).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
from selenium import webdriver

from dashboard.paths import demo_dir
from geo.replay import prepare_folder
from scripts.screenshot import chrome_options
from tests.sync.fakes import FakeOdk

EMAIL, PASSWORD = "analyst@mission.example", "s3cret-odk-pass"
PROJECT, FORM = 7, "eday_voting"
SEEDS = 5
WAIT_LIMIT = 150.0
READ_N = "const e = document.querySelector('#n-phase-forms'); return e ? e.getAttribute('data-n') : null;"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(station: pd.Series, team: pd.Series, overall: str) -> dict:
    """A voting form as ODK Central's OData gives it: groups nested, the geopoint as GeoJSON [lon, lat, alt]."""
    return {
        "form_type": "voting",
        "observed_at": "2005-12-04T10:15:00.000+06:00",
        "team_id": team["team_id"],
        "observer_org": team["observer_org"],
        "station": {
            "ps_id": station["ps_id"],
            "region_code": station["region_code"],
            "overall": overall,
            "checklist": {"overcrowding": "no", "ballot_box_stuffing": "no"},
        },
        "gps": {
            "type": "Point",
            "coordinates": [float(station["longitude"]), float(station["latitude"]), 350.0],
            "properties": {"accuracy": 4.5},
        },
    }


class LineLog:
    """A child's output lines, each with the wall time it arrived, echoed to our stdout with a prefix."""

    def __init__(self, proc: subprocess.Popen, prefix: str) -> None:
        self.lines: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.prefix = prefix
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, ""):
            line = raw.rstrip("\n")
            with self.lock:
                self.lines.append((time.time(), line))
            if ' "GET /' in line or ' "POST /' in line:
                continue  # werkzeug's request lines: noise
            print(f"    [{self.prefix} {time.strftime('%H:%M:%S')}] {line}", flush=True)

    def first_after(self, t: float, needle: str) -> float | None:
        with self.lock:
            for when, line in self.lines:
                if when >= t and needle in line:
                    return when
        return None


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=15)
    ap.add_argument("--every", type=float, default=60.0, help="obsmap sync --every (default 60)")
    ap.add_argument("--poll", type=float, default=30.0, help="the page's check for new data, seconds (default 30)")
    ap.add_argument("--seed", type=int, default=20051204)
    ap.add_argument("--keep-page", action="store_true", help="never reload the page (its checks then keep one phase to the sync)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # kill PID: the finally below still stops the children
    rng = random.Random(args.seed)

    demo = demo_dir()
    stations = pd.read_csv(demo / "stations.csv", dtype="string")
    teams = pd.read_csv(demo / "teams.csv", dtype="string")
    picks = stations.sample(n=SEEDS + args.samples, random_state=args.seed).reset_index(drop=True)

    def form_for(i: int) -> dict:
        st = picks.iloc[i]
        here = teams[teams["region_code"] == st["region_code"]]
        team = (here if len(here) else teams).iloc[0]
        return answers(st, team, rng.choice(["very good", "good", "bad"]))

    tmp = Path(tempfile.mkdtemp(prefix="obsmap-bench-live-"))
    mission = tmp / "live"
    prepare_folder(mission, demo)
    odk = FakeOdk(EMAIL, PASSWORD).start()
    odk.add_form(PROJECT, FORM)
    for i in range(SEEDS):
        odk.add(PROJECT, FORM, form_for(i))
    (mission / "sync.toml").write_text(
        f'[[odk]]\nurl = "{odk.url}"\nproject = {PROJECT}\nforms = ["{FORM}"]\n', encoding="utf-8"
    )  # [sync] settings left at their defaults
    env = {**os.environ, "OBSMAP_ODK_EMAIL": EMAIL, "OBSMAP_ODK_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"}
    bindir = Path(sys.executable).parent
    port = free_port()
    sync_proc = serve_proc = driver = None
    latencies: list[float] = []
    to_store: list[float] = []
    to_page: list[float] = []
    try:
        sync_cmd = [str(bindir / "obsmap"), "sync", "--data", str(mission), "--every", f"{args.every:g}"]
        print("$ " + " ".join(sync_cmd), flush=True)
        sync_proc = subprocess.Popen(sync_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        sync_log = LineLog(sync_proc, "sync")
        deadline = time.time() + 60
        while sync_log.first_after(0, "new") is None:
            if sync_proc.poll() is not None or time.time() > deadline:
                raise SystemExit("obsmap sync did not commit the seed forms; see its output above")
            time.sleep(0.2)

        if args.poll == 30:
            serve_cmd = [str(bindir / "obsmap"), "serve", "--data", str(mission), "--port", str(port)]
        else:
            code = f"from dashboard.app import create_app; create_app({str(mission)!r}, poll_seconds={args.poll!r}).run(port={port})"
            serve_cmd = [sys.executable, "-c", code]
        print("$ " + " ".join(serve_cmd), flush=True)
        serve_proc = subprocess.Popen(
            serve_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        LineLog(serve_proc, "serve")
        url = f"http://127.0.0.1:{port}/?form=voting"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                if serve_proc.poll() is not None or time.time() > deadline:
                    raise SystemExit("the dashboard did not start; see its output above") from None
                time.sleep(0.3)

        driver = webdriver.Chrome(options=chrome_options(1280, 900))
        driver.get(url)

        def read_n() -> int | None:
            try:
                value = driver.execute_script(READ_N)
                return int(value) if value is not None else None
            except Exception:
                return None

        deadline = time.time() + 60
        while read_n() != SEEDS:
            if time.time() > deadline:
                raise SystemExit(f"the page never showed the {SEEDS} seed forms (data-n = {read_n()})")
            time.sleep(0.2)
        print(f"page at {url} shows data-n = {SEEDS}; sync every {args.every:g} s, page check every {args.poll:g} s", flush=True)

        for k in range(args.samples):
            gap = rng.uniform(0, 40)
            if args.keep_page:
                time.sleep(gap)
            else:
                # The page's checks run every --poll s from its load; left alone they keep one phase against the sync's
                # rounds (60 = 2 x 30), so store -> page would be the same every sample. A reload at a uniform phase
                # before the form arrives makes the page, the sync and the form independent, as on election night.
                phase = rng.uniform(0, args.poll)
                time.sleep(max(0.0, gap - phase))
                before = read_n()
                loaded = time.time()
                driver.get(url)
                while read_n() != before:
                    if time.time() - loaded > 60:
                        raise SystemExit(f"the reloaded page never showed data-n = {before}")
                    time.sleep(0.1)
                time.sleep(max(0.0, phase - (time.time() - loaded)))
            n0 = read_n()
            odk.add(PROJECT, FORM, form_for(SEEDS + k))
            t0 = time.time()
            t1 = None
            while time.time() - t0 < WAIT_LIMIT:
                n = read_n()
                if n is not None and n0 is not None and n > n0:
                    t1 = time.time()
                    break
                time.sleep(0.2)
            if t1 is None:
                print(f"sample {k + 1:2d}: no change within {WAIT_LIMIT:g} s (data-n stayed {read_n()})", flush=True)
                continue
            lat = t1 - t0
            latencies.append(lat)
            committed = sync_log.first_after(t0, ": 1 new,")
            split = ""
            if committed is not None and committed <= t1:
                to_store.append(committed - t0)
                to_page.append(t1 - committed)
                split = f"  (server->store {committed - t0:5.1f} s, store->page {t1 - committed:5.1f} s)"
            print(f"sample {k + 1:2d}: {lat:6.1f} s  data-n {n0} -> {read_n()}{split}", flush=True)

        print()
        print(f"samples: {len(latencies)} of {args.samples} (sync --every {args.every:g}, page check {args.poll:g} s)")
        for name, values in (("server -> page", latencies), ("  server -> store (sync)", to_store), ("  store -> page", to_page)):
            if values:
                print(
                    f"{name}: p50 {pct(values, 50):.1f} s, p95 {pct(values, 95):.1f} s, max {max(values):.1f} s, "
                    f"mean {sum(values) / len(values):.1f} s (n={len(values)})"
                )
        print("all (s): " + ", ".join(f"{v:.1f}" for v in latencies), flush=True)
        return 0 if len(latencies) == args.samples else 1
    finally:
        if driver is not None:
            driver.quit()
        stop(serve_proc)
        stop(sync_proc)
        odk.stop()


if __name__ == "__main__":
    sys.exit(main())
