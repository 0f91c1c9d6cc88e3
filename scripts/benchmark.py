"""What a user action costs: requests, server time, bytes, filter parses and filter passes, through Dash's own endpoint.

    python -m scripts.benchmark [--data DIR] [--repeat 20]     (make bench)

Each action is replayed as dash-renderer would send it (scripts/dash_client.py: every callback the
change sets off, chains included) with the Flask test client, no network. For each action it prints
the requests sent, the median server time summed over them, the bytes returned, and how many times
the filters were parsed and the forms filtered (or found in the per-view cache). The cache is
emptied before each timed action, so the times are those of a view nobody has asked for yet; the
last column shows the same action again, served from the cache.
"""

from __future__ import annotations

import argparse
import statistics

from dashboard import selection
from dashboard.app import create_app
from dashboard.paths import resolve_data_dir
from scripts.dash_client import DashClient

# (what the user does, component, property, value); each starts from the state the previous left.
ACTIONS = [
    ("open the page", "url", "search", ""),
    ("phase: voting", "phase", "value", "voting"),
    ("regions: Karaganda + Pavlodar", "regions", "value", ["KZ-KAR", "KZ-PAV"]),
    ("stations: rural", "setting", "value", "rural"),
    ("time: 08-14", "hours", "value", [8, 14]),
    ("reset", "reset", "n_clicks", 1),
    ("phase: opening", "phase", "value", "opening"),
    ("map: problem", "metric", "value", "problem"),
    ("map: coverage", "metric", "value", "coverage"),
    ("click on South Kazakhstan", "region-map", "clickData", {"points": [{"curveNumber": 0, "location": "KZ-YUZ"}]}),
    ("back to the country", "back", "n_clicks", 1),
    ("phrasing: one out of four", "as-fraction", "value", True),
    ("show the forms", "table-toggle", "n_clicks", 1),
    ("phase: counting (table shown)", "phase", "value", "counting"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    app = create_app(resolve_data_dir(args.data))
    client = DashClient(app)
    print(f"first load: /_dash-layout {client.layout_bytes / 1024:.1f} KB (includes the map geometry, sent once)")
    print(f"{'action':<32} {'requests':>8} {'server ms':>10} {'KB':>7} {'parses':>7} {'passes':>7} {'cached ms':>10}")
    rows = {name: {"ms": [], "warm": [], "kb": [], "req": [], "parse": [], "pass": []} for name, *_ in ACTIONS}
    for _ in range(args.repeat):
        for name, component, prop, value in ACTIONS:
            if prop == "n_clicks":
                value = (client.props.get((component, prop)) or 0) + 1
            selection._cache.clear()
            selection.work.clear()
            start = len(client.log)
            client.fire(component, prop, value)
            sent = client.log[start:]
            row = rows[name]
            row["ms"].append(1000 * sum(e.seconds for e in sent))
            row["kb"].append(sum(e.bytes for e in sent) / 1024)
            row["req"].append(len(sent))
            row["parse"].append(selection.work["filters_parsed"])
            row["pass"].append(selection.work["rows_filtered"])
            again = len(client.log)
            for exchange in sent:  # the same requests once more: the view is now in the cache
                client.post({"output": exchange.output, "inputs": exchange.request["inputs"], "state": exchange.request["state"]},
                            exchange.request["changedPropIds"])  # fmt: skip
            row["warm"].append(1000 * sum(e.seconds for e in client.log[again:]))
    for name, row in rows.items():
        print(
            f"{name:<32} {statistics.median(row['req']):>8.0f} {statistics.median(row['ms']):>10.1f} {statistics.median(row['kb']):>7.1f}"
            f" {max(row['parse']):>7} {max(row['pass']):>7} {statistics.median(row['warm']):>10.1f}"
        )


if __name__ == "__main__":
    main()
