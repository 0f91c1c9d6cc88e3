"""The live store in SQLite and in PostgreSQL, side by side: ingest, the page's data-version check, reading the forms.

    python -m scripts.bench_pgstore --forms 10000            # a throwaway PostgreSQL server (tests/pg.py), on 127.0.0.1
    python -m scripts.bench_pgstore --store postgresql://obsmap@db:5432/bench   # an existing, empty database

For each store: ``--forms`` new forms ingested as a sync brings them (pages of ``--page`` forms, one transaction
each) and as one batch (an import's ``ingest_frame`` where the store has it), the same forms again (all unchanged),
``data_version()`` (the page's poll; median of 2,000 calls), and ``current_forms()`` (a server's read at start).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from geo.schema import FORM_COLUMNS
from geo.store import Store, Submission, connect_store


def forms(n: int, prefix: str) -> list[Submission]:
    rows = []
    for i in range(n):
        row = dict.fromkeys(FORM_COLUMNS)
        row.update(form_id=f"{prefix}{i:07d}", form_type="voting", region_code=f"R{i % 16:02d}", overall=("good", "bad")[i % 2])
        row.update(ps_id=f"PS{i % 5000:05d}", team_id=f"T{i % 300:03d}", observed_at="2005-12-04T10:00:00")
        rows.append(Submission(f"{prefix}{i:07d}", row, "2005-12-04T10:05:00Z", version_id=f"uuid:{prefix}{i}"))
    return rows


def timed(what, *args, **kwargs) -> float:
    start = time.perf_counter()
    what(*args, **kwargs)
    return time.perf_counter() - start


def bench(store: Store, n: int, page: int) -> dict[str, str]:
    synced = forms(n, "S")
    sync_s = sum(timed(store.ingest, synced[i : i + page], "odk", cursor=str(i)) for i in range(0, n, page))
    again_s = sum(timed(store.ingest, synced[i : i + page], "odk", cursor=str(i)) for i in range(0, n, page))
    batch = forms(n, "I")
    if hasattr(store, "ingest_frame"):
        frame = pd.DataFrame([s.row for s in batch])
        frame["form_key"], frame["submitted_at"], frame["version_id"] = [s.form_key for s in batch], batch[0].submitted_at, None
        import_s = timed(store.ingest_frame, frame, "import")
    else:
        import_s = timed(store.ingest, batch, "import")
    polls = []
    for _ in range(2000):
        start = time.perf_counter()
        store.data_version()
        polls.append(time.perf_counter() - start)
    read_s = timed(store.current_forms)
    return {
        f"sync, pages of {page:,}": f"{sync_s:.2f} s ({n / sync_s:,.0f} forms/s)",
        "the same pages again (unchanged)": f"{again_s:.2f} s",
        "one batch (import)": f"{import_s:.2f} s ({n / import_s:,.0f} forms/s)",
        "data_version() (median)": f"{statistics.median(polls) * 1000:.3f} ms",
        f"current_forms() of {2 * n:,}": f"{read_s:.2f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forms", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=1_000)
    parser.add_argument("--store", help="an empty PostgreSQL database (default: a throwaway server of tests/pg.py)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp, connect_store(Path(tmp) / "store.sqlite") as store:
        results["SQLite"] = bench(store, args.forms, args.page)
    cluster = None
    if args.store is None:
        from tests.pg import Cluster

        cluster = Cluster()
    try:
        with connect_store(args.store or cluster.database()) as store:
            results["PostgreSQL"] = bench(store, args.forms, args.page)
    finally:
        if cluster is not None:
            cluster.stop()
    print("| | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for key in results["SQLite"]:
        print(f"| {key} | " + " | ".join(r[key] for r in results.values()) + " |")


if __name__ == "__main__":
    main()
