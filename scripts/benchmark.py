"""What a user action costs: requests, server time, bytes, filter parses and filter passes, through Dash's own endpoint.

    python -m scripts.benchmark [--data DIR] [--repeat 20]     (make bench)
    python -m scripts.benchmark --table [--phase voting] [--data DIR] [--repeat 10]   (the forms table's blocks)

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
import time

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
    parser.add_argument(
        "--cache",
        default="none",
        help="the app's cache of view parts (default none: cold means cold); a redis:// URL "
        "filled by an earlier run shows what a worker that never drew a view pays for it",
    )
    parser.add_argument("--table", action="store_true", help="time the open forms table's requests instead (see table_benchmark)")
    parser.add_argument("--phase", default="voting", help="with --table: the phase whose forms the table lists")
    args = parser.parse_args()
    app = create_app(resolve_data_dir(args.data), cache=args.cache)
    client = DashClient(app)
    if args.table:
        table_benchmark(client, args.repeat, args.phase)
        return
    print(f"first load: /_dash-layout {client.layout_bytes / 1024:.1f} KB (the map's shapes are a file of their own, /geometry/...)")
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


# The open table's requests, as the grid sends them (table-ask: block, sort, column filters; the search box's text):
# (what the user does, first row, sort, column filters, search, a list nobody asked for yet).
TIME = [{"colId": "observed_at", "sort": "asc"}]
TABLE_ACTIONS = [
    ("first block, time order", 0, TIME, {}, "", True),
    ("next block (scroll)", 100, TIME, {}, "", False),
    ("a block far down (row 50,000)", 50_000, TIME, {}, "", False),
    ("sort: region, descending", 0, [{"colId": "region", "sort": "desc"}], {}, "", True),
    ("sort: station", 0, [{"colId": "ps_id", "sort": "asc"}], {}, "", True),
    ("sort: comments", 0, [{"colId": "comments", "sort": "asc"}], {}, "", True),
    ("search: ballot", 0, TIME, {}, "ballot", True),
    ("search: part of a form id", 0, TIME, {}, "-00012", True),
    ("column filter: region has 'al'", 0, TIME, {"region": {"filterType": "text", "type": "contains", "filter": "al"}}, "", True),
]


def table_benchmark(client: DashClient, repeat: int, phase: str) -> None:
    """The open forms table at scale: server time and bytes of each block request, median of ``repeat``; "new list"
    recomputes the list (positions) each time as for a view, sort or search nobody asked for yet, with the mission's
    per-column work (sort orders, distinct values, lower-cased text) kept; "cold" is the first run, with nothing kept
    (a new data version)."""
    from dashboard import table_pages

    client.fire("phase", "value", phase)
    client.fire("table-toggle", "n_clicks", (client.props.get(("table-toggle", "n_clicks")) or 0) + 1)
    print(f"forms table, phase {phase}: {'action':<34} {'rows listed':>11} {'server ms':>10} {'CPU ms':>7} {'KB':>7} {'cold ms':>9}")
    rows = {name: {"ms": [], "cpu": [], "kb": [], "n": 0, "cold": 0.0} for name, *_ in TABLE_ACTIONS}
    for run in range(repeat + 1):
        for name, start, sort, model, search, new_list in TABLE_ACTIONS:
            if run == 0 and new_list:
                table_pages.clear_caches()
            elif new_list:
                table_pages._positions.clear()
            client.props[("table-search", "value")] = search
            before, cpu = len(client.log), time.process_time()  # CPU time too: this machine's other work inflates the wall time
            client.fire("table-ask", "data", {"startRow": start, "endRow": start + 100, "sortModel": sort, "filterModel": model})
            cpu = time.process_time() - cpu
            (exchange,) = client.log[before:]
            row = rows[name]
            row["n"] = exchange.reply["forms-table"]["getRowsResponse"]["rowCount"]
            if run == 0:
                row["cold"] = 1000 * exchange.seconds
            else:
                row["ms"].append(1000 * exchange.seconds)
                row["cpu"].append(1000 * cpu)
                row["kb"].append(exchange.bytes / 1024)
    for name, row in rows.items():
        print(
            f"{'':<27}{name:<34} {row['n']:>11,} {statistics.median(row['ms']):>10.1f} {statistics.median(row['cpu']):>7.1f}"
            f" {statistics.median(row['kb']):>7.1f}"
            f" {row['cold']:>9.1f}"
        )


if __name__ == "__main__":
    main()
