"""The WSGI app, for a production server: ``[OBSMAP_DATA=DIR] [OBSMAP_MIN_N=10] gunicorn dashboard.wsgi:server``.

``OBSMAP_DATA`` is the mission folder (the demo mission when unset), ``OBSMAP_MIN_N`` the smallest N shown as a share
(as ``--min-n``; the app's default when unset), ``OBSMAP_ACCOUNTS`` the accounts file when not the folder's. Importing
this module loads the mission and builds the app. A WSGI server may listen on any address, so it always needs
accounts: without any, it stops with one sentence that says how to add the first admin.
"""

from __future__ import annotations

import os
import sys

from dashboard.app import create_app
from dashboard.auth import accounts_to_serve
from dashboard.cli import parse_min_n
from dashboard.paths import resolve_data_dir
from geo.errors import ObsmapError
from geo.i18n import from_environment, use

_folder = resolve_data_dir()
try:
    with use(from_environment()):  # the sentence in the server's language ($OBSMAP_LANG, else $LANG); pages follow the browser
        _accounts = accounts_to_serve(_folder, host=None)
except ObsmapError as exc:
    sys.exit(f"obsmap: {exc}")
_min_n = os.environ.get("OBSMAP_MIN_N")
app = create_app(_folder, min_n=parse_min_n(_min_n), accounts=_accounts) if _min_n else create_app(_folder, accounts=_accounts)
server = app.server
