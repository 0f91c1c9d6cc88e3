"""Run the dashboard: ``python app.py [--data DIR] [--host H] [--port P]`` (same as ``obsmap serve``).

For gunicorn, ``app.server`` is the WSGI app: ``OBSMAP_DATA=/path/to/mission [OBSMAP_MIN_N=10] gunicorn app:server``.
"""

import sys

from dashboard.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
else:
    import os

    from dashboard.app import create_app
    from dashboard.cli import parse_min_n

    app = create_app(min_n=parse_min_n(os.environ.get("OBSMAP_MIN_N", "10")))
    server = app.server
