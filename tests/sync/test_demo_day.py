"""The issue's "Done when": the whole demo day replayed through fake ODK Central and KoboToolbox servers, with edits,
deletions and review changes, the sync killed at random moments and restarted; at the end `obsmap summary --json`
equals a recomputation from the servers' final state. No form lost, none counted twice."""

from __future__ import annotations

import random
import threading
import time
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geo.sync as sync
from dashboard.paths import demo_dir
from dashboard.summary import mission_summary
from geo.ingest import Ingestor
from geo.mission import load_mission
from geo.replay import day_of_deliveries, prepare_folder
from geo.schema import FORM_TYPES, NEGATIVE_LEVELS, PROBLEMS
from geo.store import open_store
from geo.sync import sync_main
from tests.sync.fakes import Clock, FakeKobo, FakeOdk

EMAIL, PASSWORD, TOKEN = "core-team@mission.example", "demo-day-odk-pass", "demo-day-kobo-t0ken-0123456789"
PROJECT, FORM, ASSET = 3, "eday_checklist", "aDemoDayAsset"
STEPS = 12
SEED = 20051204  # the deletions, reviews, failures and kills drawn (the day itself is day_of_deliveries' own)
KILL = 0.07  # the chance of a kill before, and after, each page's commit
STATION = ("form_id", "team_id", "observer_org", "ps_id", "region_code", "district_code", "urban_rural", "evoting", "overall", "comments")
ODK_REVIEW = {None: "pending", "edited": "pending", "hasIssues": "flagged", "approved": "approved", "rejected": "rejected"}
KOBO_REVIEW = {
    None: "pending",
    "validation_status_approved": "approved",
    "validation_status_not_approved": "rejected",
    "validation_status_on_hold": "flagged",
}


class Killed(BaseException):
    """The sync process killed: not an error the sync may catch."""


# ----------------------------------------------------------------------------------------- the tools' shapes
def odk_answers(row: dict[str, str | None]) -> dict[str, Any]:
    """A demo form as ODK Central's OData gives it: groups nested, unanswered as null, the geopoint as GeoJSON."""
    lat, lon = row["latitude"], row["longitude"]
    point = None if lat is None or lon is None else {"type": "Point", "coordinates": [float(lon), float(lat), 410.0]}
    return {
        "form_type": row["form_type"],
        "observed_at": f"{row['observed_at']}:00.000+06:00",
        "station": {k: row[k] for k in STATION},
        "checklist": {p: row[p] for p in PROBLEMS},
        "gps": point and {**point, "properties": {"accuracy": 4.0}},
    }


def kobo_answers(row: dict[str, str | None]) -> dict[str, str]:
    """A demo form as Kobo's v2 API gives it: group paths as keys, unanswered left out, the geopoint as text."""
    out = {"form_type": row["form_type"], "observed_at": f"{row['observed_at']}:00.000+06:00"}
    out |= {f"station/{k}": row[k] for k in STATION if row[k] is not None}
    out |= {f"checklist/{p}": row[p] for p in PROBLEMS if row[p] is not None}
    if row["latitude"] is not None and row["longitude"] is not None:
        out["station/location"] = f"{row['latitude']} {row['longitude']} 410 4.0"
    return out


def on_odk(row: dict[str, str | None]) -> bool:
    """Half the teams send with ODK Collect, the others with KoboCollect (fixed by the team, as in a real mission)."""
    return zlib.crc32((row["team_id"] or row["form_id"]).encode()) % 2 == 0


# ----------------------------------------------------------------------------------------- the servers' final state
def servers_final_state(odk: FakeOdk, kobo: FakeKobo) -> pd.DataFrame:
    """Every form not deleted, with its current answers and review, as the servers hold them (plain pandas from here)."""
    records = []
    for sub in odk.forms[(PROJECT, FORM)].values():
        if sub.deleted is None:
            station = sub.data["station"]
            answers = {"form_id": station["form_id"], "form_type": sub.data["form_type"], "region_code": station["region_code"]}
            answers |= {"overall": station["overall"], **{p: sub.data["checklist"][p] for p in PROBLEMS}}
            records.append({"form_key": sub.instance_id, "review": ODK_REVIEW[sub.review], **answers})
    for sub in kobo.assets[ASSET].values():
        if not sub.deleted:
            d = sub.data
            answers = {"form_id": d["station/form_id"], "form_type": d["form_type"], "region_code": d["station/region_code"]}
            answers |= {"overall": d.get("station/overall"), **{p: d.get(f"checklist/{p}") for p in PROBLEMS}}
            records.append({"form_key": sub.root, "review": KOBO_REVIEW[sub.validation], **answers})
    return pd.DataFrame.from_records(records).astype("string")


def recompute(state: pd.DataFrame, region_codes: list[str]) -> dict[str, Any]:
    """What the summary must say: rejected forms out of every figure; per phase and per region n / assessed / negative."""
    kept = state[state["review"] != "rejected"]

    def cell(forms: pd.DataFrame) -> dict[str, int]:
        return {
            "n": len(forms),
            "assessed": int(forms["overall"].notna().sum()),
            "negative": int(forms["overall"].isin(NEGATIVE_LEVELS).sum()),
        }

    return {
        "forms_total": len(kept),
        "forms_rejected": int((state["review"] == "rejected").sum()),
        "forms": {ft: cell(kept[kept["form_type"] == ft]) for ft in FORM_TYPES},
        "by_region": {
            code: {ft: cell(kept[(kept["form_type"] == ft) & (kept["region_code"] == code)]) for ft in FORM_TYPES} for code in region_codes
        },
    }


def write_config(folder: Path, odk: FakeOdk, kobo: FakeKobo, reconcile_every: int) -> None:
    (folder / "sync.toml").write_text(
        f"[sync]\ntimeout = 2\nretries = 4\nbackoff_base = 0.01\nbackoff_max = 0.05\npage_size = 500\nreconcile_every = {reconcile_every}\n"
        f'[[odk]]\nurl = "{odk.url}"\nproject = {PROJECT}\nforms = ["{FORM}"]\n'
        f'[[kobo]]\nurl = "{kobo.url}"\nasset = "{ASSET}"\n',
        encoding="utf-8",
    )


# ----------------------------------------------------------------------------------------- the test
@pytest.mark.slow
def test_the_demo_day_replayed_through_odk_and_kobo_with_kills_equals_the_servers_final_state(tmp_path, monkeypatch):
    started = time.monotonic()
    monkeypatch.setenv("OBSMAP_ODK_EMAIL", EMAIL)
    monkeypatch.setenv("OBSMAP_ODK_PASSWORD", PASSWORD)
    monkeypatch.setenv("OBSMAP_KOBO_TOKEN", TOKEN)
    folder = tmp_path / "live"
    prepare_folder(folder, demo_dir())
    demo = pd.read_csv(demo_dir() / "forms.csv", dtype="string", keep_default_na=False, na_values=[""])
    events = day_of_deliveries(demo)
    kinds = {"first": 0, "edit": 0, "resend": 0, "reject": 0}

    rng = random.Random(SEED)
    flaky = {"kill_before": 0.0, "kill_after": 0.0, "stop_after": 0.0, "stop": None}
    tally = {"kills": 0, "stops": 0, "failures": 0, "rounds": 0}

    class Flaky(Ingestor):
        def ingest(self, *args, **kwargs):
            if rng.random() < flaky["kill_before"]:
                raise Killed()  # killed before the page's transaction
            result = super().ingest(*args, **kwargs)
            if rng.random() < flaky["kill_after"]:
                raise Killed()  # committed, but the sync never learns it
            if flaky["stop"] is not None and rng.random() < flaky["stop_after"]:
                tally["stops"] += 1
                flaky["stop"].set()  # stopped between pages (Ctrl-C, a service restart)
            return result

    monkeypatch.setattr(sync, "Ingestor", Flaky)

    def one_round() -> None:
        tally["rounds"] += 1
        sync_main(folder, once=True, progress=lambda _line: None, sleep=lambda _s: None, stop_event=flaky["stop"])

    with FakeOdk(EMAIL, PASSWORD, clock=Clock(step=timedelta(milliseconds=3, microseconds=100))) as odk, FakeKobo(TOKEN) as kobo:
        odk.add_form(PROJECT, FORM)
        kobo.add_asset(ASSET)
        write_config(folder, odk, kobo, reconcile_every=3)
        odk_subs, kobo_subs = odk.forms[(PROJECT, FORM)], kobo.assets[ASSET]
        where: dict[str, tuple[str, Any]] = {}  # demo form_id -> ("odk", instance id) or ("kobo", _id)

        def live(form_id: str) -> bool:
            tool, sid = where[form_id]
            return odk_subs[sid].deleted is None if tool == "odk" else not kobo_subs[sid].deleted

        for batch in np.array_split(np.arange(len(events)), STEPS):
            for event in (events[i] for i in batch):
                if event.form_id not in where:  # the first version
                    kinds["first"] += 1
                    if on_odk(event.row):
                        where[event.form_id] = ("odk", odk.add(PROJECT, FORM, odk_answers(event.row)))
                    else:
                        where[event.form_id] = ("kobo", kobo.add(ASSET, kobo_answers(event.row)))
                    continue
                if not live(event.form_id):  # deleted on the server meanwhile: nothing more comes of it
                    continue
                tool, sid = where[event.form_id]
                if event.row is None:  # the core team rejects it
                    kinds["reject"] += 1
                    if tool == "odk":
                        odk.review(PROJECT, FORM, sid, "rejected")
                    else:
                        kobo.validate(ASSET, sid, "validation_status_not_approved")
                    continue
                answers = odk_answers(event.row) if tool == "odk" else kobo_answers(event.row)
                current = odk_subs[sid].data if tool == "odk" else kobo_subs[sid].data
                if answers == current:  # a phone that retried: identical XML is a no-op on Central, Kobo never sees it
                    kinds["resend"] += 1
                    if tool == "odk":
                        odk.add(PROJECT, FORM, answers, instance_id=sid)
                    continue
                kinds["edit"] += 1
                if tool == "odk":
                    odk.edit(PROJECT, FORM, sid, {k: v for k, v in answers.items() if k != "gps"})
                else:
                    assert set(current) <= set(answers)  # an edit here only adds or changes answers
                    kobo.edit(ASSET, sid, answers)
            # The core team at work: a few forms deleted (about 1 % over the day), a few flagged or approved.
            alive = sorted(f for f in where if live(f))
            for form_id in rng.sample(alive, 2 + rng.randint(0, 1)):
                tool, sid = where[form_id]
                odk.delete(PROJECT, FORM, sid) if tool == "odk" else kobo.delete(ASSET, sid)
                alive.remove(form_id)
            for form_id in rng.sample(alive, rng.randint(3, 8)):
                tool, sid = where[form_id]
                if tool == "odk":
                    odk.review(PROJECT, FORM, sid, rng.choice(["hasIssues", "approved"]))
                else:
                    kobo.validate(ASSET, sid, rng.choice(["validation_status_on_hold", "validation_status_approved"]))
            # The servers misbehave now and then (never more than the retries can absorb).
            if not odk.plans and rng.random() < 0.5:
                odk.fail_next(1, rng.choice([500, 502, 503]))
                tally["failures"] += 1
            if not kobo.plans and rng.random() < 0.5:
                kobo.truncate_next(1) if rng.random() < 0.5 else kobo.fail_next(2, 500)
                tally["failures"] += 1
            flaky.update(kill_before=KILL, kill_after=KILL, stop_after=0.04, stop=threading.Event())
            for _attempt in range(2):  # killed: restarted at once, once; killed again: it waits for the next step
                try:
                    one_round()
                    break
                except Killed:
                    tally["kills"] += 1

        assert kinds["first"] == len(demo) and kinds["edit"] > 50 and kinds["resend"] > 20 and kinds["reject"] > 10, kinds
        assert tally["kills"] >= 4, tally  # the sync really was killed, more than once
        assert tally["failures"] >= 4, tally

        flaky.update(kill_before=0.0, kill_after=0.0, stop_after=0.0, stop=None)
        odk.plans.clear()
        kobo.plans.clear()
        write_config(folder, odk, kobo, reconcile_every=1)  # the last round reconciles Kobo: its edits and deletions
        one_round()
        state = servers_final_state(odk, kobo)

    # The store, form by form: each form once, with the servers' current answers and review.
    with open_store(folder) as store:
        forms = store.current_forms()
        counts = store.counts()
    assert not forms["form_key"].duplicated().any() and counts["set_aside"] == 0, counts
    assert set(forms["form_key"]) == set(state["form_key"])
    columns = ["form_type", "region_code", "overall", "review", *PROBLEMS]

    def by_key(frame: pd.DataFrame) -> dict[str, tuple]:
        return {r[0]: tuple(None if pd.isna(v) else str(v) for v in r[1:]) for r in frame[["form_key", *columns]].itertuples(index=False)}

    got, expected = by_key(forms), by_key(state)
    assert got == expected, [(k, got[k], expected[k]) for k in sorted(got) if got[k] != expected[k]][:5]

    # The figures: `obsmap summary --json` against a recomputation from the servers' final state.
    mission = load_mission(folder)
    summary = mission_summary(mission)
    want = recompute(state, list(mission.regions["code"]))
    assert summary["forms_total"] == want["forms_total"] and summary["forms_rejected"] == want["forms_rejected"]
    assert {ft: {k: c[k] for k in ("n", "assessed", "negative")} for ft, c in summary["forms"].items()} == want["forms"]
    by_region = {
        code: {ft: {k: c[k] for k in ("n", "assessed", "negative")} for ft, c in cells.items()}
        for code, cells in summary["by_region"].items()
    }
    assert by_region == want["by_region"]

    # No form lost, none counted twice: every demo form is on the map unless deleted or rejected.
    deleted = sum(s.deleted is not None for s in odk_subs.values()) + sum(s.deleted for s in kobo_subs.values())
    assert len(odk_subs) + len(kobo_subs) == len(demo) and deleted >= 0.008 * len(demo)
    assert summary["forms_total"] == len(demo) - deleted - want["forms_rejected"]
    assert sorted(state["form_id"]) == sorted(set(demo["form_id"]) - {f for f in where if not live(f)})
    print(f"demo day: {kinds}, {tally}, {deleted} deleted, {want['forms_rejected']} rejected, {time.monotonic() - started:.1f} s")
