"""A live demo: the demo's election day played into a live store, in accelerated time.

``obsmap replay --out DIR [--speed 60]`` makes DIR a mission folder with the demo's geography and an
empty live store, then delivers the demo's forms as a day of ODK Central or KoboToolbox would: each
form some minutes after its visit, a few edited later (a changed assessment, a problem added), a
few resubmitted unchanged, some late (hours after), a few rejected by the core team. ``obsmap serve
--data DIR`` in another terminal shows the map filling in. At ``--speed 60`` the day (07:00 to the
last tabulation, about 26 hours) takes about 26 minutes; every delivery goes through the same row
checks and store as a sync.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.csvsafe import restore_frame
from geo.errors import InputError
from geo.i18n import _, ngettext, number
from geo.ingest import Delivery, Ingestor
from geo.mission import BOUNDARIES_FILE, FORMS_FILE, MISSION_FILE, REGIONS_FILE, STATIONS_FILE, TEAMS_FILE, check_out_dir
from geo.schema import FORM_COLUMNS, PROBLEMS

SOURCE = "replay:demo"
EDIT_SHARE = 0.05  # forms edited after they were sent
RESEND_SHARE = 0.02  # forms sent twice, unchanged (a phone that retried)
LATE_SHARE = 0.03  # forms that arrive hours late (no network at the station)
REJECT_SHARE = 0.01  # forms the core team rejects on review


@dataclass(frozen=True)
class Event:
    at: pd.Timestamp  # mission time the server receives it
    form_id: str
    row: dict[str, str | None] | None
    review: str | None = None


def _stamp(at: pd.Timestamp) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def day_of_deliveries(forms: pd.DataFrame, seed: int = 20051204) -> list[Event]:
    """Every delivery of a day, in order: first versions a few minutes after the visit, then edits,
    resubmissions, late forms and rejections, drawn with ``seed`` (same seed, same day)."""
    rng = np.random.default_rng(seed)
    events: list[Event] = []
    observed = pd.to_datetime(forms["observed_at"])
    start = observed.min()
    for (_i, form), at in zip(forms.iterrows(), observed, strict=True):
        row = {c: (None if pd.isna(form[c]) else str(form[c])) for c in FORM_COLUMNS}
        visit = at if pd.notna(at) else start
        late = rng.random() < LATE_SHARE
        sent = visit + pd.Timedelta(minutes=float(rng.uniform(180, 420) if late else rng.uniform(2, 40)))
        events.append(Event(sent, row["form_id"], row))
        if rng.random() < RESEND_SHARE:
            events.append(Event(sent + pd.Timedelta(minutes=float(rng.uniform(1, 10))), row["form_id"], row))
        if rng.random() < EDIT_SHARE:
            edited = dict(row)
            if edited["overall"] in ("good", "very good") and rng.random() < 0.5:
                edited["overall"] = "bad"
            else:
                problem = str(rng.choice(list(PROBLEMS)))
                edited[problem] = "yes"
            events.append(Event(sent + pd.Timedelta(minutes=float(rng.uniform(10, 90))), row["form_id"], edited))
        if rng.random() < REJECT_SHARE:
            events.append(Event(sent + pd.Timedelta(minutes=float(rng.uniform(30, 180))), row["form_id"], None, "rejected"))
    return sorted(events, key=lambda e: e.at)


def prepare_folder(out: Path, demo: Path) -> None:
    """A mission folder with the demo's geography and no forms yet (the store fills it).

    Only a new or empty folder, or one an earlier replay made: a real mission is never overwritten.
    """
    check_out_dir(out)
    if out.is_dir() and any(out.iterdir()) and not _replayed(out):
        raise InputError(
            _(
                "{folder}: a mission folder that no replay made; replay writes the demo's geography and synthetic forms, "
                "so give a new folder."
            ).format(folder=out)
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in (MISSION_FILE, REGIONS_FILE, BOUNDARIES_FILE, STATIONS_FILE, TEAMS_FILE):
        if (demo / name).is_file():
            shutil.copyfile(demo / name, out / name)
    (out / FORMS_FILE).unlink(missing_ok=True)


def _replayed(folder: Path) -> bool:
    from geo.store import connect_store, store_of

    location = store_of(folder)  # store.sqlite, or PostgreSQL (--store)
    if location is None:
        return False
    with connect_store(location) as store:
        return store.cursor(SOURCE) is not None or store.counts()["versions"] == 0


def replay(
    out: Path | str,
    demo: Path | str,
    *,
    speed: float = 60.0,
    seed: int = 20051204,
    tick: float = 1.0,
    progress: Callable[[str], None] = lambda message: None,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Play the demo's day into ``out``; returns the number of deliveries made.

    Deliveries due within one ``tick`` (seconds of real time) go in one batch. A folder that already
    has a store continues where it stopped (the store's cursor is the mission time reached).
    """
    if speed <= 0:
        raise InputError(_("--speed {speed}: expected a positive factor (60: one hour of the day in one minute).").format(speed=speed))
    out, demo = Path(out), Path(demo)
    prepare_folder(out, demo)
    # obsmap wrote it: formula-like cells restored to the values the demo was given (geo.csvsafe).
    forms = restore_frame(pd.read_csv(demo / FORMS_FILE, dtype="string", keep_default_na=False, na_values=[""]))
    events = day_of_deliveries(forms, seed)
    with Ingestor(out) as ingestor:
        reached = ingestor.store.cursor(SOURCE)
        if reached:
            events = [e for e in events if _stamp(e.at) > reached]
        if not events:
            progress(_("replay: the day is over; nothing left to deliver"))
            return 0
        t0_mission, t0_real = events[0].at, time.monotonic()
        progress(
            ngettext(
                "replay: {n} deliveries from {time} at {speed}x into {folder}",
                "replay: {n} deliveries from {time} at {speed}x into {folder}",
                len(events),
            ).format(n=number(len(events)), time=f"{events[0].at:%H:%M}", speed=f"{speed:g}", folder=out)
        )
        done, i = 0, 0
        while i < len(events):
            if stop is not None and stop.is_set():
                break
            due = t0_mission + pd.Timedelta(seconds=(time.monotonic() - t0_real + tick) * speed)
            batch = []
            while i < len(events) and events[i].at <= due:
                batch.append(events[i])
                i += 1
            if batch:
                table = pd.DataFrame([e.row or {"form_id": e.form_id} for e in batch], columns=list(FORM_COLUMNS)).astype("string")
                deliveries = [Delivery(e.form_id, _stamp(e.at), version_id=None, review=e.review, has_row=e.row is not None) for e in batch]
                result = ingestor.ingest(table, deliveries, SOURCE, cursor=_stamp(batch[-1].at))
                done += len(batch)
                forms_now = ingestor.store.counts()["forms"]
                progress(
                    ngettext(
                        "  {time}  +{new} new, {updated} edited, {reviewed} reviewed  ({n} forms)",
                        "  {time}  +{new} new, {updated} edited, {reviewed} reviewed  ({n} forms)",
                        forms_now,
                    ).format(
                        time=f"{batch[-1].at:%H:%M}",
                        new=number(result.new),
                        updated=number(result.updated),
                        reviewed=number(result.reviewed),
                        n=number(forms_now),
                    )
                )
            if i < len(events):
                sleep(tick)
        return done
