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
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import InputError, MissionDataError
from geo.forms_import import read_forms
from geo.join import join_points_to_regions
from geo.schema import FORM_COLUMNS, FORM_TYPES, NEGATIVE_LEVELS, OVERALL_LEVELS, PROBLEMS, STATION_COLUMNS
from geo.webgeom import feature_bounds, web_feature_collection

MISSION_FILE = "mission.json"
REGIONS_FILE = "regions.geojson"
FORMS_FILE = "forms.csv"
STATIONS_FILE = "stations.csv"
TEAMS_FILE = "teams.csv"
DISTRICTS_FILE = "districts.geojson"


@dataclass(frozen=True)
class MissionDataset:
    """An immutable mission: treat every frame as read-only (callers copy before changing)."""

    meta: dict[str, Any]
    regions: pd.DataFrame  # code, name, in the boundary file's order
    geojson: dict[str, Any]
    forms: pd.DataFrame
    stations: pd.DataFrame | None = None
    teams: pd.DataFrame | None = None
    districts: dict[str, Any] | None = None  # web GeoJSON of the second level, properties code/name/parent
    path: Path | None = field(default=None, compare=False)

    @property
    def region_names(self) -> dict[str, str]:
        return dict(zip(self.regions["code"], self.regions["name"], strict=True))

    @cached_property
    def bounds(self) -> dict[str, tuple[float, float, float, float]]:
        """(west, south, east, north) of each region, and of them all under ``"*"``; computed once."""
        by_region = feature_bounds(self.geojson)
        if by_region:
            boxes = list(by_region.values())
            by_region["*"] = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        return by_region


# --------------------------------------------------------------------------------------------- build
def build_mission(
    out_dir: Path,
    boundaries: gpd.GeoDataFrame,
    forms: pd.DataFrame,
    meta: dict[str, Any],
    stations: pd.DataFrame | None = None,
    teams: pd.DataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    extra_files: dict[str, Any] | None = None,
    join: bool = True,
) -> MissionDataset:
    """Join forms to regions and write a mission folder atomically.

    ``boundaries`` needs ``code`` and ``name`` columns. With ``join`` (the default), forms with
    coordinates get their ``region_code`` from a spatial join on the full-detail boundaries and
    forms without coordinates keep the ``region_code`` they came with; without it, forms are
    taken as already located. ``districts`` (code, name, parent, geometry) is written as a second
    level. ``extra_files`` maps file names to DataFrames (CSV) or dicts (JSON) written alongside.
    The folder is written next to ``out_dir`` and swapped in, so a failure leaves an existing
    folder as it was. ``meta["web_geometry"]`` records the simplification used.
    """
    forms = forms.copy()
    for col in FORM_COLUMNS:
        if col not in forms:
            forms[col] = pd.NA
    if join:
        joined = join_points_to_regions(forms, boundaries)
        forms["region_code"] = joined.fillna(forms["region_code"].astype("string"))
    forms = forms[list(FORM_COLUMNS)]

    geojson, tolerance, size = web_feature_collection(boundaries[["code", "name", "geometry"]])
    meta = {**meta, "web_geometry": {"tolerance_deg": round(tolerance, 4), "bytes": size}}
    files: dict[str, Any] = dict(extra_files or {})
    if districts is not None:
        files[DISTRICTS_FILE], _, _ = web_feature_collection(districts, ("code", "name", "parent"))

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
        for name, content in files.items():
            if isinstance(content, pd.DataFrame):
                content.to_csv(tmp / name, index=False, lineterminator="\n")
            else:
                separators = (",", ":") if name.endswith(".geojson") else None
                text = json.dumps(content, indent=None if separators else 2, separators=separators, ensure_ascii=False)
                (tmp / name).write_text(text + "\n", encoding="utf-8")
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
    unknown = forms["region_code"].isna() | ~forms["region_code"].isin(set(regions["code"]))
    if unknown.any():
        first = int(unknown.to_numpy().nonzero()[0][0])
        raise MissionDataError(
            f"{path / FORMS_FILE}: row {first + 2}: region_code {forms['region_code'].iloc[first]!r} is not a region of "
            f"{REGIONS_FILE}; {int(unknown.sum())} row(s) like this. Build the folder with `obsmap import`, which sets such rows aside."
        )
    day = election_day(forms, meta)
    forms["hour"] = (forms["observed_at"] - day) / pd.Timedelta(hours=1)
    stations = _read_stations(path / STATIONS_FILE) if (path / STATIONS_FILE).is_file() else None
    teams = pd.read_csv(path / TEAMS_FILE, dtype="string") if (path / TEAMS_FILE).is_file() else None
    districts = json.loads((path / DISTRICTS_FILE).read_text(encoding="utf-8")) if (path / DISTRICTS_FILE).is_file() else None
    return MissionDataset(
        meta=meta, regions=regions, geojson=geojson, forms=forms, stations=stations, teams=teams, districts=districts, path=path
    )


def election_day(forms: pd.DataFrame, meta: dict[str, Any]) -> pd.Timestamp:
    """Midnight of election day: ``meta["election_date"]``, else the commonest date among the forms."""
    if meta.get("election_date"):
        return pd.Timestamp(meta["election_date"]).normalize()
    dates = forms["observed_at"].dropna().dt.normalize()
    return dates.mode().iloc[0] if len(dates) else pd.Timestamp("1970-01-01")


def _read_forms(file: Path) -> pd.DataFrame:
    """Read a mission's forms.csv with the import's own rules; any row import would set aside is an error.

    A mission folder is written by ``obsmap import`` or the demo generator, so its forms are clean;
    a hand-made folder gets the same checks, and a clear sentence instead of silently lost values.
    """
    try:
        read = read_forms(file)
    except InputError as exc:
        raise MissionDataError(str(exc)) from exc
    rows = read.rows
    bad = rows[rows["_reason"].notna()]
    dup = rows["form_id"].duplicated(keep="first") & rows["_reason"].isna()
    if len(bad) or dup.any():
        first = bad.iloc[0] if len(bad) else rows[dup].iloc[0]
        reason = first["_reason"] if len(bad) else "duplicate form_id"
        detail = f" ({first['_detail']})" if len(bad) and pd.notna(first["_detail"]) else ""
        count = len(bad) + int(dup.sum())
        raise MissionDataError(
            f"{file}: row {first['_row']}: {reason}{detail}; {count} row(s) like this. "
            "Build the folder with `obsmap import`, which sets such rows aside."
        )
    forms = rows[list(FORM_COLUMNS)].copy()
    forms["form_type"] = pd.Categorical(forms["form_type"], categories=FORM_TYPES)
    forms["observed_at"] = pd.to_datetime(forms["observed_at"], errors="coerce")
    forms["overall"] = pd.Categorical(forms["overall"], categories=OVERALL_LEVELS, ordered=True)
    # Three-valued: True (yes), False (no), <NA> (not answered).
    for col in PROBLEMS:
        forms[col] = forms[col].map({"yes": True, "no": False}, na_action="ignore").astype("boolean")
    forms["negative"] = forms["overall"].isin(NEGATIVE_LEVELS).astype("boolean").mask(forms["overall"].isna())
    return forms.reset_index(drop=True)


def _read_stations(file: Path) -> pd.DataFrame:
    st = pd.read_csv(file, dtype="string", keep_default_na=False, na_values=[""])
    for col in ("latitude", "longitude", "registered_voters"):
        if col in st:
            st[col] = pd.to_numeric(st[col], errors="coerce")
    return st
