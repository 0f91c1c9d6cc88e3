"""What a filter change costs: server time and bytes sent, through Dash's own HTTP endpoint.

    python scripts/benchmark.py [--data DIR] [--repeat 30]

Posts the same requests the browser sends to /_dash-update-component (Flask test client, no
network), for each callback that listens to the filter store, and prints the median and worst
time and the response size. Also prints the size of the first page load (layout with geometry).
"""

from __future__ import annotations

import argparse
import statistics
import time

from dashboard.app import create_app, resolve_data_dir

SECOND_INPUTS = {"table-open": True, "as-fraction": True, "viewport": [1280, 800]}
FILTER_STATES = [
    {"form_type": "counting"},
    {"form_type": "voting"},
    {"form_type": "voting", "regions": ["KZ-KAR", "KZ-PAV"], "setting": "rural", "hours": [8, 14]},
    {"form_type": "opening", "setting": "urban", "evoting": "yes", "orgs": ["ODIHR"]},
    {"form_type": "voting", "metric": "problem", "problem": "overcrowding"},
    {"form_type": "voting", "metric": "coverage"},
    {"form_type": "voting", "drill": "KZ-YUZ"},  # the largest region: 1,416 stations drawn
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    app = create_app(resolve_data_dir(args.data))
    client = app.server.test_client()
    layout = client.get("/_dash-layout")
    print(f"first load: /_dash-layout {len(layout.data) / 1024:.1f} KB (includes the map geometry, sent once)")

    for output, spec in app.callback_map.items():
        if [i["id"] for i in spec["inputs"]][:1] != ["filters"]:
            continue
        outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]} for o in output.strip(".").split("...")]
        if not output.startswith(".."):
            outputs = outputs[0]  # a single-output callback takes the spec itself
        times, sizes = [], []
        for _ in range(args.repeat):
            for state in FILTER_STATES:
                body = {
                    "output": output,
                    "outputs": outputs,
                    # Second inputs at their costlier setting: the table shown, the fraction switch on, a 1280x800 window.
                    "inputs": [{"id": "filters", "property": "data", "value": state}]
                    + [{**extra, "value": SECOND_INPUTS[extra["id"]]} for extra in spec["inputs"][1:]],
                    "changedPropIds": ["filters.data"],
                    "state": [],
                }
                t0 = time.perf_counter()
                resp = client.post("/_dash-update-component", json=body)
                times.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.data[:300]
                sizes.append(len(resp.data))
        name = spec["callback"].__name__ if "callback" in spec else output
        print(
            f"{name:>18}: median {1000 * statistics.median(times):6.1f} ms, worst {1000 * max(times):6.1f} ms, "
            f"response {statistics.median(sizes) / 1024:5.1f} KB (max {max(sizes) / 1024:.1f} KB)  [{output[:60]}]"
        )


if __name__ == "__main__":
    main()
