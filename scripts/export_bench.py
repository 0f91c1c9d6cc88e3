"""What pictures and briefs cost: the 1st..5th PNG of the map and of a drilled map, and N briefs asked for at once.

    python -m scripts.export_bench [--data DIR] [--drill CODE] [--briefs 10] [--distinct] [--workers 2] [--threads 1]
                                   [--skip-pngs] [--skip-briefs]

PNGs: ``/export/map.png?form=voting`` and the same drilled into ``--drill`` (default: the region with the most forms),
five times each, through the app built in this process (the Flask test client, no network, no cache of what was drawn);
the first starts chromium. Briefs: ``obsmap serve --workers W`` on 127.0.0.1 (a free port, the same mission, no
accounts: the demo on this machine only; for other data a temporary accounts file and an analyst signed in), then N
threads ask for ``/export/brief.pdf`` at the same moment (of one view, or with ``--distinct`` of ten different views).
It prints each brief's status and time, and, sampled every 0.1 s, the peak memory of the server's process tree (RSS
summed, and PSS: shared pages counted once) and the most chromium browsers (and chromium processes) alive at once.
The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def _pngs(data: str | None, drill: str | None) -> None:
    from dashboard import exports
    from dashboard.app import create_app

    try:
        app = create_app(data, cache="none")  # every picture drawn: nothing kept between requests
    except TypeError:  # an obsmap from before --cache (to measure what changed)
        app = create_app(data)
    client = app.server.test_client()
    if drill is None:
        from dashboard.live import LiveMission
        from dashboard.paths import resolve_data_dir

        forms = LiveMission(resolve_data_dir(data)).current().forms
        drill = str(forms.loc[forms["form_type"] == "voting", "region_code"].value_counts().idxmax())
    drawn: list[float] = []
    real = exports._renderer.render

    def timed(fig, opts):
        start = time.perf_counter()
        try:
            return real(fig, opts)
        finally:
            drawn.append(time.perf_counter() - start)

    exports._renderer.render = timed
    for label, query in (("map", "form=voting"), (f"map drilled into {drill}", f"form=voting&drill={drill}")):
        walls = []
        for _ in range(5):
            start = time.perf_counter()
            reply = client.get(f"/export/map.png?{query}")
            walls.append(time.perf_counter() - start)
            assert reply.status_code == 200 and reply.data[:4] == b"\x89PNG", reply.data[:200]
        later = walls[1:]
        print(
            f"PNG {label}: 1st {walls[0]:.2f} s; 2nd-5th {', '.join(f'{w:.2f}' for w in later)} s "
            f"(max {max(later):.2f}, median {statistics.median(later):.2f}); chromium's part of the 2nd-5th: "
            f"{', '.join(f'{d:.2f}' for d in drawn[-4:])} s; {len(reply.data) / 1000:.0f} KB"
        )
    exports._renderer.render = real
    exports._renderer.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_chromium(pid: int) -> bool:
    try:
        return "chrom" in psutil.Process(pid).name()
    except psutil.Error:
        return False


def _tree(pid: int) -> tuple[int, int, int, int]:
    """RSS and PSS (MB) of ``pid`` and its descendants, chromium browsers (main processes) and chromium processes."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0, 0, 0
    rss = pss = browsers = chromiums = 0
    for proc in procs:
        try:
            mem = proc.memory_full_info()
            name = proc.name()
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        rss += mem.rss
        pss += getattr(mem, "pss", mem.rss)
        if "chrom" in name:
            chromiums += 1
            # A browser: its parent is not chromium (its helpers, forked by it or its zygotes, are).
            if not any(arg.startswith("--type=") for arg in cmdline) and not _is_chromium(proc.ppid()):
                browsers += 1
    return rss >> 20, pss >> 20, browsers, chromiums


# Ten different views (for --distinct): every brief is drawn and printed, none is the same as another.
VIEWS = [
    "form=voting",
    "form=counting",
    "form=opening",
    "form=tabulation",
    "form=voting&setting=rural",
    "form=voting&setting=urban",
    "form=counting&setting=rural",
    "form=counting&setting=urban",
    "form=opening&setting=urban",
    "form=voting&evoting=no",
]


def _briefs(data: str | None, n: int, workers: int, threads: int, distinct: bool) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    password = None
    tmp = tempfile.TemporaryDirectory(prefix="obsmap-export-bench-")
    if data:
        cmd += ["--data", data]
        accounts = Path(tmp.name) / "accounts.sqlite"
        password = secrets.token_urlsafe(18)
        from dashboard.accounts import Accounts

        Accounts(accounts, create=True).add("bench", password, "analyst", (), by="bench", address="local")
        cmd += ["--accounts", str(accounts)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(base + ("/sign-in" if data else "/_dash-layout"), timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {server.stdout.read() if server.stdout else ''}") from None
                time.sleep(0.5)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        if data:
            page = opener.open(base + "/sign-in", timeout=30).read().decode()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page)
            form = urllib.parse.urlencode({"username": "bench", "password": password, "csrf_token": token.group(1), "next": "/"})
            opener.open(base + "/sign-in", data=form.encode(), timeout=60).read()
        peak = {"rss": 0, "pss": 0, "browsers": 0, "chromiums": 0}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                rss, pss, browsers, chromiums = _tree(server.pid)
                for key, value in (("rss", rss), ("pss", pss), ("browsers", browsers), ("chromiums", chromiums)):
                    peak[key] = max(peak[key], value)
                time.sleep(0.1)

        results: list[tuple[int, float, int, str]] = [(0, 0.0, 0, "")] * n
        go = threading.Barrier(n)

        def ask(i: int) -> None:
            go.wait()
            start = time.perf_counter()
            try:
                view = VIEWS[i % len(VIEWS)] if distinct else VIEWS[0]
                reply = opener.open(base + f"/export/brief.pdf?{view}", timeout=600)
                body = reply.read()
                results[i] = (reply.status, time.perf_counter() - start, len(body), "")
            except urllib.error.HTTPError as exc:
                results[i] = (exc.code, time.perf_counter() - start, 0, f"Retry-After {exc.headers.get('Retry-After')}")

        rss0, pss0, browsers0, _ = _tree(server.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        askers = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
        for t in askers:
            t.start()
        for t in askers:
            t.join()
        took = time.perf_counter() - started
        sampling.set()
        sampler.join()
        ok = sum(1 for status, *_ in results if status == 200)
        views = f"{min(n, len(VIEWS))} different views" if distinct else "the same view"
        print(f"{n} briefs at once ({views}), obsmap serve --workers {workers} --threads {threads}: {ok} answered 200 in {took:.1f} s")
        for i, (status, seconds, size, note) in enumerate(sorted(results, key=lambda r: r[1])):
            print(f"  brief {i + 1}: {status} after {seconds:.1f} s, {size / 1000:.0f} KB {note}")
        print(f"  server before: RSS {rss0} MB, PSS {pss0} MB, {browsers0} chromium browsers")
        print(
            f"  peak while answering: RSS {peak['rss']} MB, PSS {peak['pss']} MB, "
            f"{peak['browsers']} chromium browsers ({peak['chromiums']} chromium processes) at once"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        tmp.cleanup()
        said = [line.rstrip() for line in (server.stdout.read() if server.stdout else "").splitlines() if "obsmap: serving" not in line]
        if said:
            print("  the server said:\n    " + "\n    ".join(said[-20:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--drill")
    parser.add_argument("--briefs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-pngs", action="store_true")
    parser.add_argument("--skip-briefs", action="store_true")
    parser.add_argument("--distinct", action="store_true", help="each brief of another view (default: all of the same view)")
    args = parser.parse_args()
    if not args.skip_pngs:
        _pngs(args.data, args.drill)
    if not args.skip_briefs:
        _briefs(args.data, args.briefs, args.workers, args.threads, args.distinct)


if __name__ == "__main__":
    main()
