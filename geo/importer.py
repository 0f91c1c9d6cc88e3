"""Turn a mission's own boundary file and form exports into a mission folder, nothing lost.

    read = accepted + set aside, exactly.

Every row read ends up either in ``forms.csv`` or in ``set_aside.csv`` (with its source file, row
number, original values and reason); ``import_report.json`` counts both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.boundaries import Boundaries, derive_parents, load_boundaries
from geo.errors import InputError
from geo.forms_import import REASONS, Mapping, read_forms, read_table
from geo.join import join_points_to_regions
from geo.mission import MissionDataset, build_mission
from geo.schema import FORM_COLUMNS, STATION_COLUMNS
from geo.values import URBAN_RURAL_VALUES, YES_NO_VALUES, fold, map_values

SET_ASIDE_FILE = "set_aside.csv"
REPORT_FILE = "import_report.json"


@dataclass
class ImportResult:
    mission: MissionDataset
    report: dict[str, Any]


def _region_lookup(regions: gpd.GeoDataFrame) -> dict[str, str]:
    """Codes and names, case- and accent-insensitive, to the region code. Codes win over names."""
    lookup = {fold(n): c for c, n in zip(regions["code"], regions["name"], strict=True)}
    lookup.update({fold(c): c for c in regions["code"]})
    return lookup


def resolve_region_codes(values: pd.Series, regions: gpd.GeoDataFrame) -> pd.Series:
    """Region codes or names as written in a file -> codes of the boundary file (``<NA>`` if unknown)."""
    lookup = _region_lookup(regions)
    return values.map(lambda v: lookup.get(fold(v)), na_action="ignore").astype("string")


def read_registry(path: Path | str, regions: gpd.GeoDataFrame) -> pd.DataFrame:
    """A polling-station registry (``ps_id`` required), located by coordinates or region code."""
    path = Path(path)
    table = read_table(path)
    cols = {c.lower(): c for c in table.columns}
    if "ps_id" not in cols:
        raise InputError(f"{path}: expected a polling-station registry with a ps_id column, found {', '.join(table.columns)}.")
    st = pd.DataFrame({c: table[cols[c]] if c in cols else pd.Series(pd.NA, index=table.index, dtype="string") for c in STATION_COLUMNS})
    st["latitude"] = pd.to_numeric(st["latitude"], errors="coerce")
    st["longitude"] = pd.to_numeric(st["longitude"], errors="coerce")
    st["urban_rural"] = map_values(st["urban_rural"], URBAN_RURAL_VALUES)[0]
    st["evoting"] = map_values(st["evoting"], YES_NO_VALUES)[0]
    located = join_points_to_regions(st, regions)
    st["region_code"] = located.fillna(resolve_region_codes(st["region_code"], regions))
    dup = st["ps_id"].duplicated()
    if dup.any():
        first = st.loc[dup, "ps_id"].iloc[0]
        raise InputError(f"{path}: ps_id must be unique in a registry; {int(dup.sum())} duplicate(s), first {first!r}.")
    return st


def locate_forms(forms: pd.DataFrame, regions: gpd.GeoDataFrame, registry: pd.DataFrame | None) -> pd.DataFrame:
    """Fill ``region_code`` and set location reasons, in the order of the import contract.

    1. coordinates: spatial join (outside every region -> set aside);
    2. else ``ps_id`` found in the registry: the station's region;
    3. else ``region_code`` (a code of the boundary file, or a region name);
    4. else set aside, "no location".
    Blank urban/rural and e-voting values are taken from the registry when the ps_id is known.
    """
    forms = forms.copy()
    open_ = forms["_reason"].isna()
    has_xy = forms["latitude"].notna() & forms["longitude"].notna()
    by_xy = join_points_to_regions(forms, regions)
    by_ps = pd.Series(pd.NA, index=forms.index, dtype="string")
    if registry is not None:
        st = registry.set_index("ps_id")
        by_ps = forms["ps_id"].map(st["region_code"]).astype("string")
        for col in ("urban_rural", "evoting"):
            forms[col] = forms[col].fillna(forms["ps_id"].map(st[col]).astype("string"))
    by_code = resolve_region_codes(forms["region_code"], regions)
    given_code = forms["region_code"].notna()

    region = by_xy.where(has_xy, by_ps.fillna(by_code))
    reason = forms["_reason"].copy()
    detail = forms["_detail"].copy()
    outside = open_ & has_xy & by_xy.isna()
    reason[outside] = REASONS["outside"]
    detail[outside] = "latitude, longitude = " + forms["latitude"].astype("string") + ", " + forms["longitude"].astype("string")
    unknown = open_ & ~has_xy & by_ps.isna() & given_code & by_code.isna()
    reason[unknown] = REASONS["region_code"]
    detail[unknown] = "region_code = " + forms["region_code"]
    nowhere = open_ & ~has_xy & by_ps.isna() & ~given_code
    reason[nowhere] = REASONS["no_location"]
    forms["region_code"] = region
    forms["_reason"] = reason
    forms["_detail"] = detail
    return forms


def mark_duplicates(forms: pd.DataFrame) -> pd.DataFrame:
    """Set aside every repeat of a form_id (the first row read is kept)."""
    forms = forms.copy()
    repeat = forms["form_id"].notna() & forms["form_id"].duplicated(keep="first")
    first_at = forms.drop_duplicates("form_id").set_index("form_id")
    where = forms["form_id"].map(first_at["_source"].astype(str) + " row " + first_at["_row"].astype(str))
    new = repeat & forms["_reason"].isna()
    forms.loc[new, "_reason"] = REASONS["duplicate_form_id"]
    forms.loc[new, "_detail"] = "first seen in " + where[new]
    # A repeat already set aside for another reason keeps that reason; it is still not accepted.
    return forms


def import_mission(
    boundaries: Path | str,
    forms: list[Path | str],
    out: Path | str,
    *,
    layer: str | None = None,
    code_column: str | None = None,
    name_column: str | None = None,
    districts: Path | str | None = None,
    district_layer: str | None = None,
    district_code_column: str | None = None,
    district_name_column: str | None = None,
    mapping: Path | str | None = None,
    stations: Path | str | None = None,
    teams: Path | str | None = None,
    meta: dict[str, Any] | None = None,
    report_path: Path | str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> ImportResult:
    """Import a mission. Whole-file problems raise :class:`InputError` before anything is written."""
    progress(f"reading boundaries {boundaries}")
    bounds: Boundaries = load_boundaries(boundaries, layer=layer, code_column=code_column, name_column=name_column)
    regions = bounds.regions
    progress(f"  {len(regions)} regions (codes from {bounds.code_column!r}, names from {bounds.name_column!r})")
    if bounds.repaired:
        progress(f"  repaired invalid geometry of {', '.join(bounds.repaired)}")
    district_gdf = None
    if districts is not None:
        progress(f"reading districts {districts}")
        dist = load_boundaries(districts, district_layer, district_code_column, district_name_column, level=2)
        district_gdf = dist.regions.assign(parent=derive_parents(dist.regions, regions))
        progress(f"  {len(district_gdf)} districts, parents derived spatially")
    mapping_ = Mapping.load(mapping)
    registry = None
    if stations is not None:
        progress(f"reading polling-station registry {stations}")
        registry = read_registry(stations, regions)
        progress(f"  {len(registry):,} stations")
    teams_df = None
    if teams is not None:
        teams_df = read_table(teams)
        if "team_id" not in teams_df.columns:
            raise InputError(f"{teams}: expected a teams table with a team_id column, found {', '.join(teams_df.columns)}.")

    reads, files = [], []
    for path in forms:
        progress(f"reading forms {path}")
        r = read_forms(path, mapping_)
        progress(f"  {len(r.rows):,} rows")
        reads.append(r)
    rows = pd.concat([r.rows for r in reads], ignore_index=True)
    progress(f"checking and locating {len(rows):,} forms")
    rows = mark_duplicates(rows)
    rows = locate_forms(rows, regions, registry)
    if district_gdf is not None:
        by_district = join_points_to_regions(rows, district_gdf)
        rows["district_code"] = by_district.fillna(resolve_region_codes(rows["district_code"], district_gdf))

    accepted = rows[rows["_reason"].isna()]
    set_aside = rows[rows["_reason"].notna()]
    set_aside_out = pd.DataFrame(
        {
            "source_file": set_aside["_source"],
            "row": set_aside["_row"],
            "reason": set_aside["_reason"],
            "detail": set_aside["_detail"],
            "form_id": set_aside["form_id"],
            "original_values": set_aside["_original"],
        }
    )
    for r in reads:
        src = r.rows["_source"].iloc[0] if len(r.rows) else None
        here = rows[rows["_source"] == src]
        files.append(
            {
                "file": src,
                "read": len(here),
                "accepted": int(here["_reason"].isna().sum()),
                "set_aside": int(here["_reason"].notna().sum()),
                "ignored_columns": r.ignored_columns,
            }
        )
    warnings = [w for r in reads for w in r.warnings]
    report = {
        "read": len(rows),
        "accepted": len(accepted),
        "set_aside": len(set_aside),
        "reasons": {k: int(v) for k, v in set_aside["_reason"].value_counts().sort_index().items()},
        "files": files,
        "warnings": warnings,
        "boundaries": {
            "file": bounds.source,
            "regions": len(regions),
            "code_column": bounds.code_column,
            "name_column": bounds.name_column,
            "source_crs": bounds.source_crs,
            "repaired": bounds.repaired,
        },
    }
    assert report["read"] == report["accepted"] + report["set_aside"]

    observed = pd.to_datetime(accepted["observed_at"], errors="coerce")
    mission_meta = {
        "name": "Imported mission",
        "synthetic": False,
        "data_as_of": observed.max().strftime("%Y-%m-%dT%H:%M") if observed.notna().any() else None,
        "imported_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": [f"Boundaries: {Path(boundaries).name}", *(f"Forms: {Path(p).name}" for p in forms)],
        **(meta or {}),
    }
    progress(f"writing {out}")
    mission = build_mission(
        Path(out),
        regions,
        accepted[list(FORM_COLUMNS)],
        mission_meta,
        stations=registry,
        teams=teams_df,
        districts=district_gdf,
        extra_files={SET_ASIDE_FILE: set_aside_out, REPORT_FILE: report},
        join=False,
    )
    if report_path is not None:
        Path(report_path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return ImportResult(mission, report)
