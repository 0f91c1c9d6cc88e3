"""The mission dataset: what `obsmap serve` and `obsmap summary` read.

A mission dataset is a folder::

    mission.json      name, election, data time stamp, whether forms are synthetic, declared totals
    regions.geojson   web copy of the regions (EPSG:4326, simplified, rounded), feature id = code
    forms.csv         one row per form, canonical columns, region_code resolved
    stations.csv      optional polling-station registry
    teams.csv         optional: team_id, observer_org, observers, countries (";"-separated ISO codes)

It is written once (by the demo generator or an import) and only read afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.join import join_points_to_regions
from geo.schema import FORM_COLUMNS, FORM_TYPES, NEGATIVE_LEVELS, OVERALL_LEVELS, PROBLEMS, STATION_COLUMNS
from geo.webgeom import simplify_for_web, to_feature_collection

MISSION_FILE = "mission.json"
REGIONS_FILE = "regions.geojson"
FORMS_FILE = "forms.csv"
STATIONS_FILE = "stations.csv"
TEAMS_FILE = "teams.csv"


class MissionDataError(ValueError):
    """A mission folder that cannot be read; the message names the file and what was expected."""


@dataclass(frozen=True)
class MissionDataset:
    """An immutable mission: treat every frame as read-only (callers copy before changing)."""

    meta: dict[str, Any]
    regions: pd.DataFrame  # code, name, in the boundary file's order
    geojson: dict[str, Any]
    forms: pd.DataFrame
    stations: pd.DataFrame | None = None
    teams: pd.DataFrame | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def region_names(self) -> dict[str, str]:
        return dict(zip(self.regions["code"], self.regions["name"], strict=True))


# --------------------------------------------------------------------------------------------- build
def build_mission(
    out_dir: Path,
    boundaries: gpd.GeoDataFrame,
    forms: pd.DataFrame,
    meta: dict[str, Any],
    stations: pd.DataFrame | None = None,
    teams: pd.DataFrame | None = None,
) -> MissionDataset:
    """Join forms to regions and write a mission folder atomically.

    ``boundaries`` needs ``code`` and ``name`` columns. Forms with coordinates get their
    ``region_code`` from a spatial join on the full-detail boundaries; forms without
    coordinates keep the ``region_code`` they came with. The folder is written next to
    ``out_dir`` and swapped in, so a failure leaves an existing folder as it was.
    """
    forms = forms.copy()
    for col in FORM_COLUMNS:
        if col not in forms:
            forms[col] = pd.NA
    joined = join_points_to_regions(forms, boundaries)
    forms["region_code"] = joined.fillna(forms["region_code"].astype("string"))
    forms = forms[list(FORM_COLUMNS)]

    web = simplify_for_web(boundaries[["code", "name", "geometry"]])
    geojson = to_feature_collection(web)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        (tmp / MISSION_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / REGIONS_FILE).write_text(json.dumps(geojson, separators=(",", ":")) + "\n", encoding="utf-8")
        forms.to_csv(tmp / FORMS_FILE, index=False, lineterminator="\n")
        if stations is not None:
            stations[list(STATION_COLUMNS)].to_csv(tmp / STATIONS_FILE, index=False, lineterminator="\n")
        if teams is not None:
            teams.to_csv(tmp / TEAMS_FILE, index=False, lineterminator="\n")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_mission(out_dir)


def _swap_in(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(out_dir)


# ---------------------------------------------------------------------------------------------- load
def load_mission(path: Path | str) -> MissionDataset:
    """Read a mission folder written by :func:`build_mission`.

    Raises :class:`MissionDataError` with one sentence naming the file when something is missing.
    """
    path = Path(path)
    if not path.is_dir():
        raise MissionDataError(f"{path}: expected a mission folder (with {MISSION_FILE}, {REGIONS_FILE} and {FORMS_FILE}), found none.")
    for name in (MISSION_FILE, REGIONS_FILE, FORMS_FILE):
        if not (path / name).is_file():
            raise MissionDataError(f"{path / name}: file missing; a mission folder needs {MISSION_FILE}, {REGIONS_FILE} and {FORMS_FILE}.")
    meta = json.loads((path / MISSION_FILE).read_text(encoding="utf-8"))
    geojson = json.loads((path / REGIONS_FILE).read_text(encoding="utf-8"))
    regions = pd.DataFrame([{"code": f["id"], "name": f["properties"].get("name", f["id"])} for f in geojson["features"]])
    forms = _read_forms(path / FORMS_FILE)
    stations = _read_stations(path / STATIONS_FILE) if (path / STATIONS_FILE).is_file() else None
    teams = pd.read_csv(path / TEAMS_FILE, dtype="string") if (path / TEAMS_FILE).is_file() else None
    return MissionDataset(meta=meta, regions=regions, geojson=geojson, forms=forms, stations=stations, teams=teams, path=path)


def _read_forms(file: Path) -> pd.DataFrame:
    raw = pd.read_csv(file, dtype="string", keep_default_na=False, na_values=[""])
    missing = [c for c in ("form_id", "form_type") if c not in raw]
    if missing:
        raise MissionDataError(f"{file}: expected the canonical columns form_id and form_type, missing {missing}.")
    for col in FORM_COLUMNS:
        if col not in raw:
            raw[col] = pd.NA
    forms = pd.DataFrame(index=raw.index)
    forms["form_id"] = raw["form_id"]
    forms["form_type"] = pd.Categorical(raw["form_type"], categories=FORM_TYPES)
    forms["observed_at"] = pd.to_datetime(raw["observed_at"], errors="coerce")
    for col in ("team_id", "observer_org", "ps_id", "region_code", "district_code", "urban_rural", "evoting", "comments"):
        forms[col] = raw[col].astype("string")
    forms["latitude"] = pd.to_numeric(raw["latitude"], errors="coerce")
    forms["longitude"] = pd.to_numeric(raw["longitude"], errors="coerce")
    forms["overall"] = pd.Categorical(raw["overall"], categories=OVERALL_LEVELS, ordered=True)
    # Three-valued: True (yes), False (no), <NA> (not answered).
    for col in PROBLEMS:
        forms[col] = raw[col].map({"yes": True, "no": False}, na_action="ignore").astype("boolean")
    forms["negative"] = forms["overall"].isin(NEGATIVE_LEVELS).astype("boolean").mask(forms["overall"].isna())
    return forms


def _read_stations(file: Path) -> pd.DataFrame:
    st = pd.read_csv(file, dtype="string", keep_default_na=False, na_values=[""])
    for col in ("latitude", "longitude", "registered_voters"):
        if col in st:
            st[col] = pd.to_numeric(st[col], errors="coerce")
    return st
