"""Run the dashboard from a checkout: ``python app.py [--data DIR] [--host H] [--port P]`` (same as ``obsmap serve``).

The WSGI app lives in the package, ``dashboard.wsgi:server``; ``app.server`` here is the same app, kept so that
``OBSMAP_DATA=/path/to/mission [OBSMAP_MIN_N=10] gunicorn app:server`` still works from a checkout.
"""

import sys

from dashboard.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
else:
    from dashboard import wsgi

    app, server = wsgi.app, wsgi.server
