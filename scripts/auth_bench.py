"""What signing in costs per click: the server time of a phase change, open (no accounts) and for each role.

    python -m scripts.auth_bench [--data DIR] [--changes 40]

Through Dash's own endpoint, as the browser posts it (scripts/dash_client.py), the view cache emptied before each
change; the accounts are made in a temporary file (argon2: about 0.15 s per account).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from dashboard import selection
from dashboard.accounts import Accounts
from dashboard.app import create_app
from dashboard.paths import resolve_data_dir
from geo.mission import load_mission
from scripts.dash_client import DashClient, sign_in

PASSWORD = "bench-password-1"  # a throwaway account in a temporary file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--changes", type=int, default=40)
    args = parser.parse_args()
    mission = load_mission(resolve_data_dir(args.data))
    with tempfile.TemporaryDirectory() as tmp:
        accounts = Accounts(Path(tmp) / "accounts.sqlite", create=True)
        region = mission.region_codes[0]
        for name, role in (("ana", "analyst"), ("carl", "coordinator"), ("vera", "viewer")):
            accounts.add(name, PASSWORD, role, (region,) if role == "coordinator" else (), by="bench", address="local")
        runs = (("open (no accounts)", False, None), ("analyst", True, "ana"), ("coordinator", True, "carl"), ("viewer", True, "vera"))
        for label, with_accounts, user in runs:
            app = create_app(mission, accounts=accounts if with_accounts else None, cache="none")  # each change drawn
            client = app.server.test_client()
            if user:
                sign_in(client, user, PASSWORD)
                client.get("/")
            page = DashClient(app, client=client)
            page.fire("url", "search", "")
            times, sizes = [], []
            for i in range(args.changes):
                selection._cache.clear()
                start = len(page.log)
                page.fire("phase", "value", ("voting", "counting")[i % 2])
                times.append(sum(e.seconds for e in page.log[start:]))
                sizes.append(sum(e.bytes for e in page.log[start:]))
            p90 = sorted(times)[int(0.9 * len(times)) - 1]
            print(
                f"{label:20s} phase change: median {1000 * statistics.median(times):.1f} ms, p90 {1000 * p90:.1f} ms, "
                f"{statistics.median(sizes) / 1000:.1f} KB"
            )


if __name__ == "__main__":
    main()
