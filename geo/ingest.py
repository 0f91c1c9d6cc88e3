"""Forms arriving in a mission's live store: the import's row checks and locating, then one version each.

Every source (a file given to ``obsmap import``, a file dropped in a watch folder, a page of ODK
Central or KoboToolbox submissions) goes through :class:`Ingestor`: its rows are read with the
import's rules (:func:`geo.forms_import.canonicalise`), located as the import locates them
(coordinates, else the station registry, else the region code), and each becomes a version of its
logical form in the store, or is set aside with its reason. Nothing is lost: read = accepted + set
aside, for every batch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import InputError, MissionDataError
from geo.forms_import import ElectionWindow, Mapping, canonicalise, drop_personal
from geo.i18n import _
from geo.join import join_points_to_regions
from geo.mission import (
    BOUNDARIES_FILE,
    DISTRICT_BOUNDARIES_FILE,
    MISSION_FILE,
    REGIONS_FILE,
    STATIONS_FILE,
    _read_stations,
)
from geo.schema import FORM_COLUMNS
from geo.store import IngestResult, Store, Submission, now_utc, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a source says about one row of a batch, besides its answers.

    ``form_key`` is the logical form (ODK's root ``__id``; Kobo's ``meta/rootUuid`` without its
    ``uuid:`` prefix, else ``_uuid``; a file's ``form_id``). ``submitted_at`` (ISO 8601, UTC) is the
    time of this version. ``previous_id`` is the version this one replaces (Kobo's
    ``meta/deprecatedID``). ``has_row=False`` is a review change or a deletion only.
    """

    form_key: str
    submitted_at: str
    version_id: str | None = None
    previous_id: str | None = None
    review: str | None = None
    deleted: bool = False
    has_row: bool = True


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


def row_of(record: pd.Series) -> dict[str, str | None]:
    """The canonical columns of one checked row, as text (what the store keeps)."""
    return {col: _text(record[col]) for col in FORM_COLUMNS}


class Ingestor:
    """Writes batches of forms into the live store of the mission folder ``mission_dir``."""

    def __init__(self, mission_dir: Path | str, mapping: Path | str | None = None) -> None:
        self.path = Path(mission_dir)
        if not (self.path / MISSION_FILE).is_file():
            raise MissionDataError(
                _("{path}: expected a mission folder (made by `obsmap import`), found no {file}.").format(path=self.path, file=MISSION_FILE)
            )
        if (self.path / BOUNDARIES_FILE).is_file():
            self.regions = gpd.read_parquet(self.path / BOUNDARIES_FILE)
        else:  # an older folder: the web copy (simplified; a form within ~1 km of a border may land next door)
            self.regions = gpd.read_file(self.path / REGIONS_FILE).rename(columns={"id": "code"})
            if "code" not in self.regions:
                self.regions["code"] = [f["id"] for f in json.loads((self.path / REGIONS_FILE).read_text(encoding="utf-8"))["features"]]
        districts = self.path / DISTRICT_BOUNDARIES_FILE
        self.districts = gpd.read_parquet(districts) if districts.is_file() else None
        self.registry = _read_stations(self.path / STATIONS_FILE) if (self.path / STATIONS_FILE).is_file() else None
        self.mapping = Mapping.load(mapping)
        self.window = _window_of(self.path / MISSION_FILE)  # forms observed outside it are set aside, as the import does
        self.store: Store = open_store(self.path)

    def close(self) -> None:
        self.store.close()

    def _set_aside_page(
        self,
        page: pd.DataFrame,
        kept: list[Delivery],
        source: str,
        reason: str,
        cursor: str | None,
        every: list[Delivery],
        with_rows: list[int],
    ) -> IngestResult:
        aside = [
            {"row": d.version_id or d.form_key, "reason": reason, "original": _original(r)}
            for (_i, r), d in zip(page.iterrows(), kept, strict=True)
        ]
        checked = set(with_rows)
        events = [
            Submission(d.form_key, None, d.submitted_at, d.version_id, d.previous_id, d.review, d.deleted)
            for i, d in enumerate(every)
            if i not in checked
        ]
        return self.store.ingest(events, source, cursor=cursor, set_aside=aside)

    def __enter__(self) -> Ingestor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingest(
        self, table: pd.DataFrame, deliveries: list[Delivery], source: str, *, cursor: str | None = None, one_row_per_form: bool = False
    ) -> IngestResult:
        """One batch in one transaction, with the source's new ``cursor``.

        ``table`` holds text cells named as the tool's own export names them (one row per delivery,
        in order). Rows the import would set aside are kept aside in the store with their reason.
        ``one_row_per_form`` (an export file): a form repeated in the batch is set aside as a
        duplicate, as `obsmap import` does, not taken as a new version.
        """
        from geo.importer import locate_forms, mark_duplicates  # the importer writes into the store too: imported here

        if len(table) != len(deliveries):
            raise ValueError(f"{source}: {len(table)} rows but {len(deliveries)} deliveries")
        table = table.reset_index(drop=True)
        with_rows = [i for i, d in enumerate(deliveries) if d.has_row and not d.deleted]
        rows = pd.DataFrame()
        if with_rows:
            page = table.iloc[with_rows].reset_index(drop=True).astype("string")
            # A tool's rows can carry names and phones (a submitter, a team leader): dropped here, as an import drops them.
            page, dropped = drop_personal(page, source)
            for sentence in dropped:
                log.info("%s", sentence)
            try:
                rows = canonicalise(page, source, self.mapping, window=self.window).rows
            except InputError as exc:
                # Nothing in this page names the form's type or id (a tool leaves unanswered questions out, or the
                # form needs a mapping): every row is kept aside with that sentence, and the source moves on.
                return self._set_aside_page(page, [deliveries[i] for i in with_rows], source, str(exc), cursor, deliveries, with_rows)
            rows["form_id"] = [deliveries[i].form_key for i in with_rows]  # the logical form, stable across edits
            if one_row_per_form:
                rows = mark_duplicates(rows)
            rows = locate_forms(rows, self.regions, self.registry)
            if self.districts is not None:
                rows["district_code"] = join_points_to_regions(rows, self.districts).fillna(rows["district_code"])
        submissions, aside = [], []
        checked = dict(zip(with_rows, range(len(rows)), strict=True))
        for i, d in enumerate(deliveries):
            if i not in checked:
                submissions.append(Submission(d.form_key, None, d.submitted_at, d.version_id, d.previous_id, d.review, d.deleted))
                continue
            record = rows.iloc[checked[i]]
            if pd.notna(record["_reason"]):
                ref = d.version_id or d.form_key
                aside.append({"row": ref, "reason": record["_reason"], "detail": _text(record["_detail"]), "original": record["_original"]})
                continue
            submissions.append(Submission(d.form_key, row_of(record), d.submitted_at, d.version_id, d.previous_id, d.review))
        return self.store.ingest(submissions, source, cursor=cursor, set_aside=aside)


def _window_of(file: Path) -> ElectionWindow | None:
    """The election window a mission.json states (``election_date``, ``window_hours``); None when it states none."""
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MissionDataError(
            _("{file}: expected a JSON object of the mission's facts, could not read it ({error}).").format(file=file, error=exc)
        ) from exc
    try:
        return ElectionWindow.from_meta(meta if isinstance(meta, dict) else {}, str(file))
    except InputError as exc:
        raise MissionDataError(str(exc)) from exc


def _original(row: pd.Series) -> str:
    return json.dumps({k: v for k, v in row.items() if pd.notna(v)}, ensure_ascii=False, sort_keys=True)


def ingest_checked_rows(
    store: Store,
    accepted: pd.DataFrame,
    set_aside: pd.DataFrame,
    source: str,
    deliveries: list[Delivery] | pd.DataFrame | None = None,
) -> IngestResult:
    """Rows the import has already checked and located (``accepted``) and those it set aside, into ``store``.

    ``deliveries`` (one per accepted row) say what the tool said of each: the logical form (ODK's
    ``KEY``, Kobo's root uuid), the version's own time, its review. So an export and a live sync of the
    same forms agree on which form is which, and an older export never overrides newer versions.
    They are :class:`Delivery` objects, or a table of their fields (``form_key``, ``submitted_at``, and
    optionally ``version_id``, ``previous_id``, ``review``) in the accepted rows' order. Without them, each
    row is the form of its ``form_id``, stamped now. Importing the same export twice changes nothing.
    """
    aside = [
        {"row": f"{r['_source']} row {r['_row']}", "reason": r["_reason"], "detail": _text(r["_detail"]), "original": r["_original"]}
        for r in set_aside.to_dict("records")
    ]
    if isinstance(deliveries, list):
        if any(d.previous_id for d in deliveries):  # a Kobo edit chain: each version in turn, through its previous one
            return _ingest_submissions(store, accepted, set_aside=aside, source=source, deliveries=deliveries)
        deliveries = pd.DataFrame(
            {
                "form_key": [d.form_key for d in deliveries],
                "submitted_at": [d.submitted_at for d in deliveries],
                "version_id": [d.version_id for d in deliveries],
                "review": [d.review for d in deliveries],
            }
        )
    elif deliveries is not None and "previous_id" in deliveries and deliveries["previous_id"].notna().any():
        listed = [Delivery(**{k: (None if pd.isna(v) else v) for k, v in d.items()}) for d in deliveries.to_dict("records")]
        return _ingest_submissions(store, accepted, set_aside=aside, source=source, deliveries=listed)
    # The canonical columns as they are (no copy), the logical form as form_id: one table for the store's bulk path.
    table = pd.DataFrame({col: accepted[col].reset_index(drop=True) for col in FORM_COLUMNS})
    if deliveries is None:
        table["form_key"] = table["form_id"].astype("string").reset_index(drop=True)
        table["submitted_at"] = now_utc()
    else:
        if len(deliveries) != len(table):
            raise ValueError(f"{source}: {len(table)} accepted rows but {len(deliveries)} deliveries")
        for col in ("form_key", "submitted_at", "version_id", "review"):
            if col in deliveries:
                table[col] = deliveries[col].reset_index(drop=True).to_numpy(dtype=object)
        table["form_key"] = pd.array(table["form_key"].tolist(), dtype="string")
        table["form_id"] = table["form_key"]
    return store.ingest_frame(table, source, set_aside=aside)


def _ingest_submissions(
    store: Store, accepted: pd.DataFrame, *, set_aside: list[dict[str, Any]], source: str, deliveries: list[Delivery]
) -> IngestResult:
    """The accepted rows as one :class:`Submission` each (what a Kobo edit chain needs: each version in turn)."""
    canonical = accepted[list(FORM_COLUMNS)].astype(object)
    records = canonical.where(canonical.notna(), None).to_dict("records")
    submissions = [
        Submission(
            d.form_key,
            {**{k: _text(v) for k, v in r.items()}, "form_id": d.form_key},
            d.submitted_at,
            d.version_id,
            d.previous_id,
            d.review,
        )
        for r, d in zip(records, deliveries, strict=True)
    ]
    return store.ingest(submissions, source, set_aside=set_aside)
