"""obsmap sync: ODK Central, KoboToolbox and a watch folder into the live store, against fake servers that fail on purpose."""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import geo.sync as sync
from geo.errors import InputError
from geo.forms_import import canonicalise
from geo.ingest import Ingestor
from geo.store import open_store
from geo.sync import load_config, sync_main
from tests.conftest import build_tiny
from tests.sync.fakes import Clock, FakeKobo, FakeOdk

EMAIL, PASSWORD, TOKEN = "analyst@mission.example", "s3cret-odk-pass", "kobo-t0ken-abcdef0123456789"
PROJECT, FORM, ASSET = 7, "eday_voting", "aKoBoAsset123"


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture()
def mission(tmp_path) -> Path:
    return build_tiny(tmp_path, [{"form_id": "SEED", "form_type": "voting", "region_code": "AA"}]).path


@pytest.fixture()
def creds(monkeypatch):
    monkeypatch.setenv("OBSMAP_ODK_EMAIL", EMAIL)
    monkeypatch.setenv("OBSMAP_ODK_PASSWORD", PASSWORD)
    monkeypatch.setenv("OBSMAP_KOBO_TOKEN", TOKEN)


@pytest.fixture()
def odk():
    with FakeOdk(EMAIL, PASSWORD) as server:
        server.add_form(PROJECT, FORM)
        yield server


@pytest.fixture()
def kobo():
    with FakeKobo(TOKEN) as server:
        server.add_asset(ASSET)
        yield server


def write_config(mission: Path, odk: FakeOdk | None = None, kobo: FakeKobo | None = None, watch: str | None = None, **settings) -> Path:
    values = {"timeout": 0.5, "retries": 4, "backoff_base": 0.01, "backoff_max": 0.05, "page_size": 5, **settings}
    lines = ["[sync]", *(f"{k} = {v}" for k, v in values.items())]
    if odk is not None:
        lines += ["[[odk]]", f'url = "{odk.url}"', f"project = {PROJECT}", f'forms = ["{FORM}"]']
    if kobo is not None:
        lines += ["[[kobo]]", f'url = "{kobo.url}"', f'asset = "{ASSET}"']
    if watch is not None:
        lines += ["[[watch]]", f'folder = "{watch}"']
    path = mission / "sync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Run:
    """One ``sync_main`` run: its summary, its progress lines and the waits it asked for (none is really slept)."""

    def __init__(self, mission: Path, **kwargs) -> None:
        self.lines: list[str] = []
        self.waits: list[float] = []
        kwargs.setdefault("once", True)
        self.totals = sync_main(mission, progress=self.lines.append, sleep=self.waits.append, **kwargs)

    def of(self, prefix: str) -> sync.SourceSummary:
        found = [s for name, s in self.totals.items() if name.startswith(prefix)]
        assert len(found) == 1, self.totals
        return found[0]


def current(mission: Path) -> dict[str, tuple[str | None, str]]:
    """ps_id -> (overall, review) of the store's current forms; a form counted twice fails here."""
    with open_store(mission) as store:
        forms = store.current_forms()
    assert not forms["ps_id"].duplicated().any(), forms
    return {r.ps_id: (r.overall, r.review) for r in forms.itertuples()}


def odk_answers(i: int, overall: str = "good", lon: float = 0.5) -> dict:
    """A form as ODK Central's OData gives it: groups nested, the geopoint as GeoJSON [lon, lat, alt]."""
    return {
        "form_type": "voting",
        "observed_at": "2005-12-04T10:15:00.000+06:00",
        "station": {"ps_id": f"P{i:04d}", "overall": overall, "checklist": {"overcrowding": "no", "ballot_box_stuffing": "yes"}},
        "gps": {"type": "Point", "coordinates": [lon, 0.5, 350.0], "properties": {"accuracy": 4.5}},
    }


def kobo_answers(i: int, overall: str = "good", lon: float = 1.5) -> dict:
    """A form as Kobo's v2 API gives it: group paths as keys, the geopoint as "lat lon alt precision"."""
    return {
        "form_type": "voting",
        "observed_at": "2005-12-04T11:40:00.000+06:00",
        "station/ps_id": f"K{i:04d}",
        "station/overall": overall,
        "station/checklist/overcrowding": "yes",
        "station/location": f"0.5 {lon} 350 4.5",
    }


ODK_STATES = {None: "pending", "edited": "pending", "hasIssues": "flagged", "approved": "approved", "rejected": "rejected"}
KOBO_STATES = {
    None: "pending",
    "validation_status_approved": "approved",
    "validation_status_not_approved": "rejected",
    "validation_status_on_hold": "flagged",
}


def expected_from_servers(odk: FakeOdk | None, kobo: FakeKobo | None) -> dict[str, tuple[str | None, str]]:
    """A recomputation from the fake servers' final state: every form not deleted, its current answers and review."""
    out = {}
    if odk is not None:
        for sub in odk.forms[(PROJECT, FORM)].values():
            if sub.deleted is None:
                out[sub.data["station"]["ps_id"]] = (sub.data["station"]["overall"], ODK_STATES[sub.review])
    if kobo is not None:
        for sub in kobo.assets[ASSET].values():
            if not sub.deleted:
                out[sub.data["station/ps_id"]] = (sub.data["station/overall"], KOBO_STATES[sub.validation])
    return out


# ----------------------------------------------------------------------------------------- config
def test_the_config_reads_sources_and_settings(mission, creds, tmp_path):
    path = mission / "sync.toml"
    path.write_text(
        "[sync]\ntimeout = 12\npage_size = 500\nreconcile_every = 4\n"
        '[[odk]]\nurl = "https://central.example.org/"\nproject = 3\nforms = ["a", "b"]\n'
        '[[kobo]]\nurl = "https://kf.kobotoolbox.org"\nasset = "aBc123"\nreconcile_every = 2\n'
        '[[watch]]\nfolder = "incoming"\n',
        encoding="utf-8",
    )
    cfg = load_config(mission)
    assert cfg.settings.timeout == 12 and cfg.settings.page_size == 500 and cfg.settings.retries == 6
    assert cfg.odk[0].url == "https://central.example.org" and cfg.odk[0].forms == ("a", "b") and cfg.odk[0].project == 3
    assert cfg.odk[0].password.reveal() == PASSWORD and PASSWORD not in repr(cfg)  # secrets print as ***
    assert cfg.kobo[0].reconcile_every == 2 and cfg.kobo[0].token.reveal() == TOKEN and TOKEN not in repr(cfg)
    assert cfg.watch[0].folder == (mission / "incoming").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[odk]]\nurl = 'ftp://x'\nproject = 1\nforms = ['a']\n", "key 'url'"),
        ("[[odk]]\nurl = 'https://x'\nproject = 'three'\nforms = ['a']\n", "key 'project'"),
        ("[[odk]]\nurl = 'https://x'\nproject = 1\nforms = []\n", "key 'forms'"),
        ("[[odk]]\nurl = 'https://x'\nproject = 1\nform = ['a']\n", "unknown key 'form'"),
        ("[[odk]]\nurl = 'https://user:pw@x'\nproject = 1\nforms = ['a']\n", "must not carry credentials"),
        ("[[kobo]]\nurl = 'https://x'\nasset = 'a b'\n", "key 'asset'"),
        ("[[kobo]]\nurl = 'https://x'\nasset = 'ab'\ntoken_env = 'NOT_SET_ANYWHERE'\n", "NOT_SET_ANYWHERE (key 'token_env') is not set"),
        ("[[kobo]]\nurl = 'https://x'\nasset = 'ab'\ntoken = 'abc'\n", "unknown key 'token'"),
        ("[[watch]]\n", "key 'folder'"),
        ("[sync]\npage_size = 50000\n[[watch]]\nfolder = 'in'\n", "key 'page_size'"),
        ("[sync]\ntimeout = -1\n[[watch]]\nfolder = 'in'\n", "key 'timeout'"),
        ("[sinc]\n", "unknown table 'sinc'"),
        ("", "no sources"),
        ("[[odk]\n", "expected a TOML sync config"),
    ],
)
def test_a_bad_config_is_one_sentence_naming_the_file_and_key(mission, creds, monkeypatch, text, expected):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = mission / "sync.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(mission)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_a_credentials_file_is_read_and_warned_about_when_others_can_read_it(mission, monkeypatch):
    monkeypatch.delenv("OBSMAP_KOBO_TOKEN", raising=False)
    secret = mission / "kobo-creds.toml"
    secret.write_text(f'token = "{TOKEN}"\n', encoding="utf-8")
    secret.chmod(0o644)
    (mission / "sync.toml").write_text("[[kobo]]\nurl = 'https://x'\nasset = 'ab'\ncredentials = 'kobo-creds.toml'\n", encoding="utf-8")
    cfg = load_config(mission)
    assert cfg.kobo[0].token.reveal() == TOKEN
    assert len(cfg.warnings) == 1 and "mode 0644" in cfg.warnings[0] and TOKEN not in cfg.warnings[0]
    secret.chmod(0o600)
    assert load_config(mission).warnings == ()
    secret.write_text(f'token = "{TOKEN}\n', encoding="utf-8")  # broken TOML: the message must not quote the line
    with pytest.raises(InputError) as err:
        load_config(mission)
    assert TOKEN not in str(err.value) and "kobo-creds.toml" in str(err.value)


# ----------------------------------------------------------------------------------------- rows
def test_odk_rows_are_named_as_the_csv_export_and_read_by_the_import():
    record = {
        "__id": "uuid:root",
        **odk_answers(1, "very bad"),
        "meta": {"instanceID": "uuid:v2"},
        "repeat@odata.navigationLink": "Submissions('uuid:root')/repeat",
        "__system": {"submissionDate": "2005-12-04T04:00:00.000Z", "updatedAt": "2005-12-04T05:00:00.123Z", "submitterName": "Jane Doe",
                     "submitterId": "12", "deviceId": "collect:x", "reviewState": "hasIssues", "edits": 1, "deletedAt": None},
    }  # fmt: skip
    flat = sync.flatten_odk(record)
    assert flat["station-checklist-overcrowding"] == "no" and flat["gps-Latitude"] == "0.5" and flat["gps-Longitude"] == "0.5"
    assert flat["KEY"] == "uuid:root" and flat["meta-instanceID"] == "uuid:v2"
    assert not {"submitterName", "SubmitterName", "deviceId"} & set(flat) and "Jane Doe" not in str(flat)
    row = canonicalise(sync.table_of([flat]), "odk:test").rows.iloc[0]
    assert (row["overall"], row["ps_id"], row["latitude"], row["ballot_box_stuffing"]) == ("very bad", "P0001", 0.5, "yes")
    delivery = sync.odk_delivery(record)
    assert (delivery.form_key, delivery.version_id, delivery.submitted_at, delivery.review) == (
        "uuid:root",
        "uuid:v2",
        "2005-12-04T05:00:00.123Z",
        "flagged",
    )


def test_kobo_rows_are_named_as_the_csv_export_and_read_by_the_import():
    record = {
        "_id": 12,
        **kobo_answers(3, "bad"),
        "meta/instanceID": "uuid:v3",
        "meta/rootUuid": "uuid:v1",
        "meta/deprecatedID": "uuid:v2",
        "_uuid": "v3",
        "_submission_time": "2005-12-04T05:40:11",
        "_validation_status": {"uid": "validation_status_not_approved", "by_whom": "supervisor1"},
        "_submitted_by": "observer_t017",
        "_geolocation": [0.5, 1.5],
        "_attachments": [],
    }
    flat = sync.flatten_kobo(record)
    assert flat["station/_location_latitude"] == "0.5" and flat["station/_location_longitude"] == "1.5"
    assert "_submitted_by" not in flat and "supervisor1" not in str(flat)
    row = canonicalise(sync.table_of([flat]), "kobo:test").rows.iloc[0]
    assert (row["overall"], row["ps_id"], row["longitude"], row["overcrowding"]) == ("bad", "K0003", 1.5, "yes")
    delivery = sync.kobo_delivery(record)
    assert (delivery.form_key, delivery.version_id, delivery.previous_id, delivery.review, delivery.submitted_at) == (
        "v1",
        "v3",
        "v2",
        "rejected",
        "2005-12-04T05:40:11.000Z",
    )
    legacy = sync.kobo_delivery({k: v for k, v in record.items() if k != "meta/rootUuid"})
    assert (legacy.form_key, legacy.previous_id) == ("v3", "v2")  # the store follows the chain


@pytest.mark.parametrize(
    ("odk_state", "kobo_uid", "expected"),
    [
        (None, "", "pending"),
        ("edited", None, "pending"),
        ("hasIssues", "validation_status_on_hold", "flagged"),
        ("approved", "validation_status_approved", "approved"),
        ("rejected", "validation_status_not_approved", "rejected"),
    ],
)
def test_review_states_map_to_one_set(odk_state, kobo_uid, expected):
    odk_record = {"__id": "uuid:x", "__system": {"submissionDate": "2005-12-04T04:00:00.000Z", "reviewState": odk_state}}
    assert sync.odk_delivery(odk_record).review == expected
    status = {"uid": kobo_uid} if kobo_uid else ({} if kobo_uid == "" else None)
    assert sync.kobo_delivery({"_uuid": "x", "_submission_time": "2005-12-04T05:40:11", "_validation_status": status}).review == expected


# ----------------------------------------------------------------------------------------- ODK Central
def test_odk_new_forms_an_edit_a_review_a_deletion_and_an_identical_resubmission(mission, creds, odk):
    write_config(mission, odk=odk)
    ids = [odk.add(PROJECT, FORM, odk_answers(i)) for i in range(12)]  # more than two pages of 5
    first = Run(mission).of("odk:")
    assert (first.new, first.errors) == (12, 0)
    assert current(mission) == {f"P{i:04d}": ("good", "pending") for i in range(12)}

    with open_store(mission) as store:
        version = store.data_version()
    again = Run(mission).of("odk:")  # nothing new on the server: nothing changes
    odk.add(PROJECT, FORM, odk_answers(0), instance_id=ids[0])  # identical XML resubmitted: a no-op on Central too
    again2 = Run(mission).of("odk:")
    with open_store(mission) as store:
        assert store.data_version() == version and (again.new, again.updated, again2.new, again2.updated) == (0, 0, 0, 0)
        store.ingest([], f"odk:{odk.url}/projects/{PROJECT}/forms/{FORM}", cursor="{}")  # the cursor lost: everything comes again
    replay = Run(mission).of("odk:")
    with open_store(mission) as store:
        assert (replay.new, replay.updated, replay.unchanged) == (0, 0, 12) and store.data_version() == version

    odk.edit(PROJECT, FORM, ids[1], {"station": {"overall": "very bad"}})
    odk.review(PROJECT, FORM, ids[2], "rejected")
    odk.review(PROJECT, FORM, ids[3], "hasIssues")
    odk.delete(PROJECT, FORM, ids[4])
    changed = Run(mission).of("odk:")
    assert (changed.new, changed.updated, changed.reviewed, changed.deleted) == (0, 1, 2, 1)
    forms = current(mission)
    assert forms["P0001"] == ("very bad", "pending") and forms["P0002"] == ("good", "rejected") and forms["P0003"] == ("good", "flagged")
    assert "P0004" not in forms and len(forms) == 11
    with open_store(mission) as store:
        assert [v["row"]["overall"] for v in store.history(ids[1])] == ["good", "very bad"]  # the edit replaced, the first kept
    odk.review(PROJECT, FORM, ids[1], "approved")  # a review after an edit: same content, new state
    assert Run(mission).of("odk:").reviewed == 1 and current(mission)["P0001"] == ("very bad", "approved")
    assert current(mission) == expected_from_servers(odk, None)


@pytest.mark.parametrize("step", [timedelta(0), timedelta(microseconds=300)], ids=["one-time-stamp", "same-millisecond"])
def test_odk_forms_sharing_a_time_stamp_across_pages_are_all_taken_once(mission, creds, step):
    """Central prints milliseconds but orders by microseconds; with ``gt`` a page boundary inside a tie would lose forms."""
    with FakeOdk(EMAIL, PASSWORD, clock=Clock(step=step)) as server:
        server.add_form(PROJECT, FORM)
        ids = [server.add(PROJECT, FORM, odk_answers(i)) for i in range(13)]
        write_config(mission, odk=server, page_size=3)
        assert Run(mission).of("odk:").new == 13
        for i in (0, 5, 12):
            server.edit(PROJECT, FORM, ids[i], {"station": {"overall": "bad"}})
        server.add(PROJECT, FORM, odk_answers(13))
        result = Run(mission).of("odk:")
        assert (result.new, result.updated) == (1, 3)
        assert current(mission) == expected_from_servers(server, None)


def test_odk_recovers_from_500s_a_timeout_a_page_cut_short_and_an_expired_session(mission, creds, odk, caplog):
    caplog.set_level(logging.DEBUG)
    write_config(mission, odk=odk, retries=6)
    for i in range(8):
        odk.add(PROJECT, FORM, odk_answers(i))
    odk.fail_next(2, 500)
    odk.stall_next(1, seconds=1.5)  # longer than the client's 0.5 s timeout
    odk.truncate_next(1)
    odk.fail_next(1, 503)
    run = Run(mission)
    assert run.of("odk:").new == 8 and run.of("odk:").errors == 0
    assert len(run.waits) == 5 and all(0 < w <= 0.05 for w in run.waits)  # backoff, bounded
    assert "HTTP 500" in caplog.text and "no answer within 0.5 s" in caplog.text and "cut short" in caplog.text
    odk.add(PROJECT, FORM, odk_answers(8))
    odk.pass_next(1)
    odk.expire_next()  # the session expires between two requests of a run
    run = Run(mission)
    assert run.of("odk:").new == 1
    logins = [r for r in odk.requests if r["path"] == "/v1/sessions"]
    assert len(logins) == 3  # one per run, and one more after the expired session's 401
    assert current(mission) == expected_from_servers(odk, None)
    for secret in (PASSWORD, EMAIL):
        assert secret not in caplog.text and secret not in "\n".join(run.lines)


def test_retries_are_bounded_then_the_next_round_resumes_from_the_cursor(mission, creds, odk):
    write_config(mission, odk=odk)
    for i in range(7):
        odk.add(PROJECT, FORM, odk_answers(i))
    odk.pass_next(1)  # the first page (5 forms) arrives...
    odk.fail_next(4, 502)  # ...then the server fails on: the 4 tries run out
    run = Run(mission)
    summary = run.of("odk:")
    assert (summary.errors, summary.new) == (1, 5)  # the first page stays committed
    assert summary.messages[0].endswith("gave up after 4 tries (HTTP 502); the next round resumes from the cursor.")
    assert len(run.waits) == 3 and run.waits == sorted(run.waits) and all(0 < w <= 0.05 for w in run.waits)
    second = Run(mission).of("odk:")
    assert (second.new, second.errors) == (2, 0) and len(current(mission)) == 7


def test_backoff_doubles_with_jitter_and_is_bounded():
    http = sync.Http(sync.Settings(), sync.Redactor(), lambda s: None)
    try:
        waits = [http.backoff(attempt) for attempt in range(10)]
    finally:
        http.close()
    assert 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5 and 3 <= waits[2] <= 5 and max(waits) <= 60 and waits[-1] >= 45
    assert sync._retry_after("7") == 7 and sync._retry_after("soon") is None and sync._retry_after("100000") == 600
    assert sync._retry_after("Sun, 04 Dec 2005 20:00:00 GMT") == 0  # an HTTP date in the past: no wait


def test_a_refused_login_is_one_sentence_and_the_other_sources_go_on(mission, creds, odk, kobo, caplog):
    caplog.set_level(logging.DEBUG)
    write_config(mission, odk=odk, kobo=kobo)
    odk.add(PROJECT, FORM, odk_answers(1))
    kobo.add(ASSET, kobo_answers(1))
    odk.refuse_login = True
    run = Run(mission)
    failed = run.of("odk:")
    assert failed.errors == 1 and failed.new == 0
    assert failed.messages == [
        f"ODK Central {odk.url} refused the email and password (HTTP 401); check the environment OBSMAP_ODK_EMAIL/OBSMAP_ODK_PASSWORD."
    ]
    assert run.of("kobo:").new == 1
    assert any(line.startswith("odk:") and "refused" in line for line in run.lines)
    text = caplog.text + "\n".join(run.lines)
    assert PASSWORD not in text and EMAIL not in text and TOKEN not in text


def test_a_4xx_skips_the_source_for_the_round_with_one_sentence(mission, creds, odk):
    write_config(mission, odk=odk)
    odk.add(PROJECT, FORM, odk_answers(1))
    odk.fail_next(1, 403)
    run = Run(mission)
    summary = run.of("odk:")
    assert summary.errors == 1 and len(run.waits) == 0  # not retried
    assert "answered HTTP 403 (planned failure 403); this source is skipped this round." in summary.messages[0]
    assert Run(mission).of("odk:").new == 1


# ----------------------------------------------------------------------------------------- KoboToolbox
def test_kobo_new_forms_edits_validation_and_deletions_found_by_reconciliation(mission, creds, kobo):
    write_config(mission, kobo=kobo, reconcile_every=3)
    ids = [kobo.add(ASSET, kobo_answers(i)) for i in range(9)]
    first = Run(mission).of("kobo:")
    assert (first.new, first.errors) == (9, 0)
    kobo.add(ASSET, kobo_answers(9))
    kobo.edit(ASSET, ids[0], {"station/overall": "very bad"})  # an edit: a new _uuid, _submission_time unchanged
    kobo.validate(ASSET, ids[1], "validation_status_not_approved")
    kobo.delete(ASSET, ids[2])
    second = Run(mission).of("kobo:")  # rounds 2 and 3 of 3: only the new form is seen
    assert (second.new, second.updated, second.reviewed, second.deleted) == (1, 0, 0, 0)
    assert Run(mission).of("kobo:").new == 0
    kobo_requests = len(kobo.requests)
    third = Run(mission).of("kobo:")  # round 4: a full reconciliation
    assert (third.new, third.updated, third.reviewed, third.deleted) == (0, 1, 1, 1)
    assert any("_id" in r["args"].get("query", "") for r in kobo.requests[kobo_requests:])
    forms = current(mission)
    assert forms["K0000"] == ("very bad", "pending") and forms["K0001"] == ("good", "rejected") and "K0002" not in forms
    assert forms == expected_from_servers(None, kobo)
    with open_store(mission) as store:
        root = kobo.assets[ASSET][ids[0]].root
        assert [v["row"]["overall"] for v in store.history(root)] == ["good", "very bad"]
        assert store.counts()["forms"] == 9


def test_an_empty_kobo_listing_deletes_nothing(mission, creds, kobo):
    """A server that suddenly lists nothing (a permission changed) must not empty the map."""
    write_config(mission, kobo=kobo, reconcile_every=1)
    ids = [kobo.add(ASSET, kobo_answers(i)) for i in range(2)]
    Run(mission)
    for sid in ids:
        kobo.delete(ASSET, sid)
    summary = Run(mission).of("kobo:")
    assert summary.deleted == 0 and "lists no submissions but 2 form(s) came from it" in summary.messages[0]
    assert len(current(mission)) == 2
    kobo.add(ASSET, kobo_answers(5))  # one listed again: the two gone are now marked deleted
    assert Run(mission).of("kobo:").deleted == 2 and set(current(mission)) == {"K0005"}


def test_kobo_chains_through_deprecated_id_without_root_uuid(mission, creds, kobo):
    write_config(mission, kobo=kobo, reconcile_every=1)
    a = kobo.add(ASSET, kobo_answers(1), with_root=False)
    b = kobo.add(ASSET, kobo_answers(2), with_root=False)
    Run(mission)
    first_uuid = kobo.assets[ASSET][a].uuid
    kobo.edit(ASSET, a, {"station/overall": "bad"})
    Run(mission)
    kobo.edit(ASSET, a, {"station/overall": "very bad"})
    Run(mission)
    with open_store(mission) as store:
        assert [v["row"]["overall"] for v in store.history(first_uuid)] == ["good", "bad", "very bad"]  # one form, three versions
    # Two edits between syncs: the middle version was never seen, the chain breaks; reconciliation still leaves one form.
    kobo.edit(ASSET, b, {"station/overall": "bad"})
    kobo.edit(ASSET, b, {"station/overall": "very bad"})
    Run(mission)
    assert current(mission) == expected_from_servers(None, kobo) and len(current(mission)) == 2


def test_kobo_recovers_from_failures_honours_retry_after_and_a_refused_token_is_one_sentence(mission, creds, kobo, caplog):
    caplog.set_level(logging.DEBUG)
    write_config(mission, kobo=kobo, retries=6)
    for i in range(7):
        kobo.add(ASSET, kobo_answers(i))
    kobo.fail_next(1, 500)
    kobo.fail_next(1, 429, headers={"Retry-After": "0.03"})
    kobo.truncate_next(1)
    kobo.stall_next(1, seconds=1.5)
    run = Run(mission)
    assert run.of("kobo:").new == 7 and run.of("kobo:").errors == 0
    assert 0.03 in run.waits and len(run.waits) == 4
    assert all(r["auth"] == f"Token {TOKEN}" for r in kobo.requests)
    kobo.refuse_token()
    kobo.add(ASSET, kobo_answers(7))
    run = Run(mission)
    summary = run.of("kobo:")
    assert (
        summary.errors == 1 and "KoboToolbox refused the token (HTTP 401); check the environment OBSMAP_KOBO_TOKEN." in summary.messages[0]
    )
    text = caplog.text + "\n".join(run.lines) + "\n".join(summary.messages)
    assert TOKEN not in text
    kobo.accept_token(TOKEN)
    assert Run(mission).of("kobo:").new == 1 and current(mission) == expected_from_servers(None, kobo)


def test_a_token_echoed_in_an_error_body_is_redacted(mission, creds, kobo, caplog):
    """Whatever a server or a library echoes, a known secret never reaches a message."""
    caplog.set_level(logging.DEBUG)
    write_config(mission, kobo=kobo)
    kobo.add(ASSET, kobo_answers(1))

    def echo():
        from flask import request

        return (
            json.dumps({"detail": f"token {request.headers['Authorization']} lacks permission"}),
            403,
            {"Content-Type": "application/json"},
        )

    kobo.app.before_request_funcs[None] = [echo]
    run = Run(mission)
    summary = run.of("kobo:")
    assert summary.errors == 1 and "token Token *** lacks permission" in summary.messages[0]
    assert TOKEN not in caplog.text + "\n".join(run.lines) + summary.messages[0]


# ----------------------------------------------------------------------------------------- watch folder
def test_the_watch_folder_ingests_each_file_once_and_waits_for_files_being_written(mission, creds):
    inbox = mission / "incoming"
    inbox.mkdir()
    write_config(mission, watch="incoming")
    export = inbox / "kobo_export.csv"
    export.write_text(
        "form_type;station/ps_id;station/overall;_location_latitude;_location_longitude;_uuid;_submission_time\n"
        "voting;W1;bad;0.5;0.5;u-1;2005-12-04T06:00:00\n"
        "counting;W2;good;0.5;1.5;u-2;2005-12-04T06:01:00\n"
        "voting;W3;excellent;0.5;1.5;u-3;2005-12-04T06:02:00\n",
        encoding="utf-8",
    )
    (inbox / "notes.pdf").write_bytes(b"%PDF")  # not an export: ignored
    assert Run(mission).of("watch:").new == 0  # modified less than 2 s ago: maybe still being written
    old = time.time() - 10
    os.utime(export, (old, old))
    first = Run(mission).of("watch:")
    assert (first.new, first.set_aside, first.errors) == (2, 1, 0)
    assert current(mission) == {"W1": ("bad", "pending"), "W2": ("good", "pending")}
    again = Run(mission).of("watch:")
    assert (again.new, again.updated, again.set_aside) == (0, 0, 0)
    os.utime(export, (old + 1, old + 1))  # touched, same content: nothing
    assert Run(mission).of("watch:").new == 0
    with open_store(mission) as store:
        before = store.data_version()
        assert store.counts()["set_aside"] == 1
    copy = inbox / "kobo_export (1).csv"  # the same export dropped twice: nothing changes
    copy.write_bytes(export.read_bytes())
    os.utime(copy, (old, old))
    Run(mission)
    with open_store(mission) as store:
        assert store.data_version() == before
    (inbox / "broken.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    os.utime(inbox / "broken.csv", (old, old))
    run = Run(mission)
    assert run.of("watch:").errors == 1 and "broken.csv" in run.of("watch:").messages[0]


def test_an_odk_csv_export_in_the_watch_folder_keys_forms_by_key_and_reads_the_review(mission, creds):
    inbox = mission / "incoming"
    inbox.mkdir()
    write_config(mission, watch="incoming")
    export = inbox / "odk_export.csv"
    export.write_text(
        "SubmissionDate,meta-instanceID,form_type,st-ps_id,st-overall,gps-Latitude,gps-Longitude,gps-Altitude,gps-Accuracy,"
        "KEY,SubmitterID,SubmitterName,ReviewState,Edits\n"
        "2005-12-04T04:00:00.000Z,uuid:v2,voting,O1,bad,0.5,0.5,0,5,uuid:r1,5,Jane Doe,hasIssues,1\n"
        "2005-12-04T04:05:00.000Z,uuid:r2,counting,O2,good,0.5,1.5,0,5,uuid:r2,5,Jane Doe,rejected,0\n",
        encoding="utf-8",
    )
    old = time.time() - 10
    os.utime(export, (old, old))
    assert Run(mission).of("watch:").new == 2
    assert current(mission) == {"O1": ("bad", "flagged"), "O2": ("good", "rejected")}
    with open_store(mission) as store:
        assert store.keys_from_source("watch:incoming") == {"uuid:r1", "uuid:r2"}
        assert "Jane Doe" not in store.history("uuid:r1")[0]["row"].values()


def test_the_watch_folder_waits_while_a_file_grows(mission, creds):
    inbox = mission / "incoming"
    inbox.mkdir()
    cfg = load_config(mission, write_config(mission, watch="incoming"))
    folder = sync.WatchFolder(cfg.watch[0], mission, clock=lambda: time.time() + 60)
    export = inbox / "forms.csv"
    export.write_text("form_id,form_type,region_code,overall\nF1,voting,AA,good\n", encoding="utf-8")
    with Ingestor(mission) as ingestor:
        rnd = sync._Round(ingestor, None, cfg.settings, lambda s: None, lambda: False, first=True, once=True)
        summary = sync.SourceSummary()
        folder.run(rnd, summary)  # first look: settled by its time, taken
        assert summary.new == 1
        with export.open("a", encoding="utf-8") as out:
            out.write("F2,voting,BB,bad\n")
        folder.run(rnd, summary)  # its size changed since the last look: wait
        assert summary.new == 1
        folder.run(rnd, summary)  # same size as last look: taken
        assert (summary.new, summary.unchanged) == (2, 1)


# ----------------------------------------------------------------------------------------- the loop
def test_the_loop_runs_rounds_until_stopped(mission, creds, odk):
    write_config(mission, odk=odk)
    stop = threading.Event()
    lines: list[str] = []
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(sync_main(mission, every=0.05, progress=lines.append, stop_event=stop)))
    thread.start()
    try:
        odk.add(PROJECT, FORM, odk_answers(1))
        deadline = time.time() + 5
        while "P0001" not in current(mission) and time.time() < deadline:
            time.sleep(0.02)
        odk.add(PROJECT, FORM, odk_answers(2))
        while "P0002" not in current(mission) and time.time() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and set(current(mission)) == {"P0001", "P0002"}
    assert result[next(iter(result))].new == 2 and lines[0].startswith("sync: 1 source(s)")


class Killed(BaseException):
    """A sync killed in the middle: not an error the sync may catch."""


@pytest.mark.slow
def test_a_replay_killed_at_random_moments_loses_nothing_and_counts_nothing_twice(mission, creds, monkeypatch):
    """Many forms with edits, deletions and review changes; the sync killed inside pages (before or after a commit)
    or stopped between pages, then restarted with a fresh Ingestor: at the end the store equals a recomputation
    from the servers' final state."""
    rng = random.Random(20051204)
    state = {"kill_before": 0.0, "kill_after": 0.0, "stop_after": 0.0, "stop": None}

    class Flaky(Ingestor):
        def ingest(self, *args, **kwargs):
            if rng.random() < state["kill_before"]:
                raise Killed()
            result = super().ingest(*args, **kwargs)
            if rng.random() < state["kill_after"]:
                raise Killed()  # committed, but the sync never learns it
            if state["stop"] is not None and rng.random() < state["stop_after"]:
                state["stop"].set()  # stopped between pages
            return result

    monkeypatch.setattr(sync, "Ingestor", Flaky)
    with FakeOdk(EMAIL, PASSWORD, clock=Clock(step=timedelta(microseconds=400))) as odk, FakeKobo(TOKEN) as kobo:
        odk.add_form(PROJECT, FORM)
        kobo.add_asset(ASSET)
        write_config(mission, odk=odk, kobo=kobo, page_size=6, reconcile_every=3)
        odk_ids: list[str] = []
        kobo_ids: list[int] = []
        n = 0
        kills = 0
        for _step in range(20):
            for _ in range(rng.randint(2, 4)):  # the servers move on
                n += 1
                if rng.random() < 0.5:
                    odk_ids.append(odk.add(PROJECT, FORM, odk_answers(n, rng.choice(["good", "bad"]), lon=rng.choice([0.5, 1.5]))))
                else:
                    kobo_ids.append(kobo.add(ASSET, kobo_answers(n, rng.choice(["good", "very good"])), with_root=rng.random() < 0.8))
            for _ in range(rng.randint(0, 4)):
                live_odk = [i for i in odk_ids if odk.forms[(PROJECT, FORM)][i].deleted is None]
                live_kobo = [i for i in kobo_ids if not kobo.assets[ASSET][i].deleted]
                action = rng.choice(["edit", "review", "delete", "kedit", "kreview", "kdelete"])
                if action == "edit" and live_odk:
                    odk.edit(PROJECT, FORM, rng.choice(live_odk), {"station": {"overall": rng.choice(["bad", "very bad", "good"])}})
                elif action == "review" and live_odk:
                    odk.review(PROJECT, FORM, rng.choice(live_odk), rng.choice(["hasIssues", "approved", "rejected"]))
                elif action == "delete" and live_odk:
                    odk.delete(PROJECT, FORM, rng.choice(live_odk))
                elif action == "kedit" and live_kobo:
                    kobo.edit(ASSET, rng.choice(live_kobo), {"station/overall": rng.choice(["bad", "very bad", "good"])})
                elif action == "kreview" and live_kobo:
                    kobo.validate(ASSET, rng.choice(live_kobo), rng.choice(list(KOBO_STATES)[1:]))
                elif action == "kdelete" and live_kobo:
                    kobo.delete(ASSET, rng.choice(live_kobo))
            if rng.random() < 0.15:
                odk.fail_next(1, 500)
            state.update(kill_before=0.1, kill_after=0.1, stop_after=0.05, stop=threading.Event())
            try:
                sync_main(mission, once=True, progress=lambda _line: None, sleep=lambda _s: None, stop_event=state["stop"])
            except Killed:
                kills += 1
        assert kills >= 5  # the scenario really killed the sync
        state.update(kill_before=0.0, kill_after=0.0, stop_after=0.0, stop=None)
        write_config(mission, odk=odk, kobo=kobo, page_size=6, reconcile_every=1)  # the last round reconciles Kobo
        Run(mission)
        expected = expected_from_servers(odk, kobo)
        assert current(mission) == expected
        with open_store(mission) as store:
            counts = store.counts()
        assert counts["forms"] == len(expected) and counts["set_aside"] == 0
        assert len(expected) > 40 and any(s.edits for s in odk.forms[(PROJECT, FORM)].values())


def test_the_summary_is_json_ready(mission, creds, odk):
    write_config(mission, odk=odk)
    odk.add(PROJECT, FORM, odk_answers(1))
    run = Run(mission)
    as_json = sync.summary_json(run.totals)
    assert pd.Series(as_json).map(lambda s: s["new"]).sum() == 1 and set(next(iter(as_json.values()))) >= {
        "new",
        "updated",
        "deleted",
        "set_aside",
        "errors",
    }
