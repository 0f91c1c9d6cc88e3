"""Bytes on the wire, plain and compressed: the page's layout, a filter change's reply, the page's scripts, the CSV.

    python -m scripts.compress_bench [--data DIR] [--csv]

In this process, through the Flask test client (no network), as a browser asks (``Accept-Encoding``): identity, gzip
and br. With ``--csv``, ``/export.csv`` of every form is read as it streams, and the peak memory of the process is
given beside the time.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time

import psutil

from dashboard.app import create_app
from scripts.dash_client import DashClient, csrf_token

ENCODINGS = ("identity", "gzip", "br")


def _row(label: str, ask) -> None:
    parts = []
    for encoding in ENCODINGS:
        start = time.perf_counter()
        reply = ask(encoding)
        ms = 1000 * (time.perf_counter() - start)
        parts.append(f"{encoding} {len(reply.data) / 1000:,.1f} KB ({ms:.0f} ms)")
    print(f"{label:<34} " + " · ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--csv", action="store_true")
    args = parser.parse_args()
    app = create_app(args.data, cache="none")
    page = DashClient(app)
    page.fire("url", "search", "")
    page.fire("phase", "value", "voting")
    change = page.log[-1].request
    client = page.client
    _row("/_dash-layout", lambda enc: client.get("/_dash-layout", headers={"Accept-Encoding": enc}))
    _row(
        "phase change (a view not seen yet)",
        lambda enc: client.post(
            "/_dash-update-component",
            data=json.dumps(change),
            content_type="application/json",
            headers={"X-CSRFToken": csrf_token(client), "Accept-Encoding": enc},
        ),
    )
    layout = client.get("/_dash-layout").get_data(as_text=True)
    for url in sorted(set(re.findall(r"/geometry/[0-9a-f]+/[a-z]+\.json", layout))):  # the map's shapes, when not inlined
        _row(url.rsplit("/", 1)[-1], lambda enc, url=url: client.get(url, headers={"Accept-Encoding": enc}))
    index = client.get("/").get_data(as_text=True)
    files = re.findall(r'(?:src|href)="(/_dash-component-suites/[^"]+|/assets/[^"]+)"', index)
    totals = dict.fromkeys(ENCODINGS, 0)
    for path in files:
        for encoding in ENCODINGS:
            totals[encoding] += len(client.get(path, headers={"Accept-Encoding": encoding}).data)
    print(f"{'the page scripts and styles':<34} " + " · ".join(f"{e} {totals[e] / 1000:,.0f} KB" for e in ENCODINGS))
    if args.csv:
        me = psutil.Process()
        for encoding in ENCODINGS:
            peak, done = [me.memory_info().rss], threading.Event()

            def watch(peak=peak, done=done) -> None:
                while not done.is_set():
                    peak.append(me.memory_info().rss)
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            start = time.perf_counter()
            reply = client.get("/export.csv", headers={"Accept-Encoding": encoding}, buffered=False)
            size = sum(len(piece) for piece in reply.response)
            reply.close()
            seconds = time.perf_counter() - start
            done.set()
            watcher.join()
            print(
                f"/export.csv, every form, {encoding:<8}: {size / 1e6:,.1f} MB in {seconds:.1f} s; process memory "
                f"{peak[0] >> 20} MB before, {max(peak) >> 20} MB at most"
            )


if __name__ == "__main__":
    main()
