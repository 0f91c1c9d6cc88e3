"""What a sync backlog costs: forms per second through the whole ingest path, and the page's check for new data.

    python -m scripts.bench_ingest [--forms 250000] [--page 10000]

Builds a live mission folder with the demo's geography, then feeds N forms (the demo's forms over
and over, each copy a new form) in pages of ``--page``, as a sync catching up would: every page goes
through the import's row checks, the spatial join and one store transaction. Prints forms per second,
peak memory and the store's size; then the server time and bytes of the page's poll when nothing changed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from dashboard.paths import demo_dir
from geo.ingest import Delivery, Ingestor
from geo.replay import prepare_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", type=int, default=250_000)
    parser.add_argument("--page", type=int, default=10_000)
    args = parser.parse_args()
    demo = pd.read_csv(demo_dir() / "forms.csv", dtype="string", keep_default_na=False, na_values=[""])
    out = Path(tempfile.mkdtemp(prefix="obsmap-ingest-")) / "live"
    prepare_folder(out, demo_dir())
    done, start = 0, time.perf_counter()
    with Ingestor(out) as ingestor:
        while done < args.forms:
            n = min(args.page, args.forms - done)
            page = demo.iloc[[(done + i) % len(demo) for i in range(n)]].reset_index(drop=True).copy()
            page["form_id"] = [f"B{done + i:07d}" for i in range(n)]
            deliveries = [Delivery(fid, "2005-12-04T20:00:00Z") for fid in page["form_id"]]
            result = ingestor.ingest(page, deliveries, "bench", cursor=str(done + n))
            done += n
            if result.new != n:
                raise RuntimeError(f"page at {done}: {result.new} new of {n}")
        seconds = time.perf_counter() - start
        counts = ingestor.store.counts()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(f.stat().st_size for f in (out.parent / ".live-store").iterdir()) / 1e6
    print(f"ingested {done:,} forms in {seconds:.1f} s: {done / seconds:,.0f} forms/s; peak RSS {peak:,.0f} MB; store {size:,.0f} MB")
    print(f"store: {counts}")

    from dashboard.app import create_app
    from scripts.dash_client import DashClient

    page = DashClient(create_app(out))
    times, sizes = [], []
    for tick in range(50):
        page.fire("poll", "n_intervals", tick + 1)
        times.append(page.log[-1].seconds * 1000)
        sizes.append(page.log[-1].bytes)
    print(f"the page's check when nothing changed: median {statistics.median(times):.2f} ms server, {statistics.median(sizes)} bytes")


if __name__ == "__main__":
    main()
