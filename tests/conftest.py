"""Shared fixtures: tiny missions made here, in code, and Chrome options for dash_duo."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from selenium.webdriver.chrome.options import Options
from shapely.geometry import box

from geo.mission import MissionDataset, build_mission, load_mission
from geo.schema import FORM_COLUMNS
from scripts.screenshot import CHROME_ARGS

# The tests assert English unless they ask for another language; a developer's LANG=ru_RU.UTF-8 must not change that
# (the obsmap commands, run here or in a subprocess, follow $OBSMAP_LANG first).
os.environ["OBSMAP_LANG"] = "en"

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def pytest_setup_options():
    """Chrome options for dash_duo: Debian chromium, headless, WebGL through SwiftShader, no network chatter."""
    options = Options()
    for arg in [*CHROME_ARGS, "--window-size=1280,900"]:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='obsmap-chrome-')}")
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    return options


def two_regions() -> gpd.GeoDataFrame:
    """Two unit squares side by side: AA at x 0..1, BB at x 1..2 (lon/lat degrees)."""
    return gpd.GeoDataFrame({"code": ["AA", "BB"], "name": ["Alpha", "Beta"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326)


def form_rows(rows: list[dict]) -> pd.DataFrame:
    """Forms with every canonical column; unspecified values blank."""
    df = pd.DataFrame(rows)
    for col in FORM_COLUMNS:
        if col not in df:
            df[col] = None
    if df["form_id"].isna().any():
        df["form_id"] = [f"F{i:03d}" for i in range(len(df))]
    return df[list(FORM_COLUMNS)]


def build_tiny(tmp_path: Path, rows: list[dict], **meta) -> MissionDataset:
    return build_mission(tmp_path / "mission", two_regions(), form_rows(rows), {"name": "Tiny", **meta})


@pytest.fixture(scope="session")
def demo() -> MissionDataset:
    return load_mission(DEMO)


def chosen(mission: MissionDataset, data: dict | None):
    """(selection, filters) of a view given as the filter store's JSON, as the page's callback gets them."""
    from dashboard.filters import from_dict
    from dashboard.selection import select
    from dashboard.views import known_values

    filters = from_dict(data, known_values(mission))
    return select(mission, filters), filters


def components(layout) -> dict[str, dict]:
    """Every component of a Dash layout with an id, as JSON (``{"type", "namespace", "props"}``), by id."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    from scripts.dash_client import walk_layout

    tree = json.loads(json.dumps(layout, cls=PlotlyJSONEncoder))
    return {c["props"]["id"]: c for c in walk_layout(tree) if isinstance(c["props"].get("id"), str)}


def wilson_reference(k: int, n: int) -> tuple[float, float] | None:
    """Wilson 95 % interval as the two roots of (p_hat - p)^2 = z^2 p (1 - p) / n: an independent reference."""
    import math
    from statistics import NormalDist

    if n == 0:
        return None
    z2 = NormalDist().inv_cdf(0.975) ** 2
    p_hat = k / n
    a = 1 + z2 / n
    b = -(2 * p_hat + z2 / n)
    c = p_hat**2
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    return max(0.0, (-b - root) / (2 * a)), min(1.0, (-b + root) / (2 * a))


@pytest.fixture(scope="session")
def pg_cluster():
    """A real PostgreSQL server of the tests' own (tests/pg.py), started once per test process; no PostgreSQL is a failure."""
    from tests.pg import Cluster, NoPostgres

    try:
        cluster = Cluster()
    except NoPostgres as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture()
def pg_url(pg_cluster) -> str:
    """The URL of a new, empty database on the tests' PostgreSQL server."""
    return pg_cluster.database()


def live_demo(out: Path) -> list:
    """A live mission folder at ``out`` with the demo's boundaries and an empty store, and the demo's day of form
    deliveries (rows only, in order) for :func:`deliver`."""
    from dashboard.paths import demo_dir
    from geo.replay import day_of_deliveries, prepare_folder

    prepare_folder(out, demo_dir())
    return [e for e in day_of_deliveries(pd.read_csv(DEMO / "forms.csv", dtype="string")) if e.row is not None]


def deliver(out: Path, batch: list) -> None:
    """``batch`` (events of :func:`live_demo`) into the folder's live store, as a sync brings them."""
    from geo.ingest import Delivery, Ingestor
    from geo.replay import SOURCE

    with Ingestor(out) as ingestor:
        table = pd.DataFrame([e.row for e in batch]).astype("string")
        ingestor.ingest(table, [Delivery(e.form_id, e.at.strftime("%Y-%m-%dT%H:%M:%SZ")) for e in batch], SOURCE)
