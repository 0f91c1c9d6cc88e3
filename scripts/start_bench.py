"""Server start -> first map, in one process: imports, the mission read and the app built, the page's layout and
its first view (as the browser posts it); then the peak memory. Run it twice: the first start of a live mission
writes its forms' snapshot.

    python -m scripts.start_bench DIR
"""

from __future__ import annotations

import importlib
import resource
import sys
import time


def main() -> None:
    start = time.perf_counter()
    create_app = importlib.import_module("dashboard.app").create_app
    dash_client = importlib.import_module("scripts.dash_client").DashClient
    imported = time.perf_counter()
    app = create_app(sys.argv[1])
    built = time.perf_counter()
    page = dash_client(app)
    page.fire("url", "search", "")
    shown = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"imports {imported - start:.2f} s, mission read and app built {built - imported:.2f} s, layout and first view "
        f"{shown - built:.2f} s: start -> first map {shown - start:.2f} s; peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
