"""Where the mission data is: the folder to serve, and the demo mission shipped with obsmap.

The demo is package data of ``geo``: ``geo/demo_mission`` is a symlink, committed in git, to ``../data/demo``, and
setuptools copies the files it points to into the wheel. So one lookup, ``importlib.resources.files("geo")``, finds
the demo in a checkout (pytest, ``python -m``), in an editable install and in an installed wheel alike.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DEMO_PACKAGE_DIR = "demo_mission"


def demo_dir() -> Path:
    """The demo mission folder (Kazakhstan 2005, synthetic forms): ``data/demo`` in a checkout."""
    # pip installs packages unpacked on disk, so the resource is a plain directory; resolving the link names data/demo.
    return Path(str(files("geo").joinpath(DEMO_PACKAGE_DIR))).resolve()


def resolve_data_dir(data: str | Path | None = None) -> Path:
    """``data``, else $OBSMAP_DATA, else the demo mission."""
    return Path(data or os.environ.get("OBSMAP_DATA") or demo_dir())
