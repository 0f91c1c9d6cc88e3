"""The WSGI app, for a production server: ``[OBSMAP_DATA=DIR] [OBSMAP_MIN_N=10] gunicorn dashboard.wsgi:server``.

``OBSMAP_DATA`` is the mission folder (the demo mission when unset), ``OBSMAP_MIN_N`` the smallest N shown as a share
(as ``--min-n``; the app's default when unset). Importing this module loads the mission and builds the app.
"""

from __future__ import annotations

import os

from dashboard.app import create_app
from dashboard.cli import parse_min_n

_min_n = os.environ.get("OBSMAP_MIN_N")
app = create_app(min_n=parse_min_n(_min_n)) if _min_n else create_app()
server = app.server
