"""The live store in PostgreSQL (``--store postgresql://...``), on a real server the tests start (tests/pg.py).

The store's behaviour is tested on both stores in tests/geo/test_store.py; here, what is PostgreSQL's own: writers on
several connections (machines) taking turns, readers that never wait, the folder that remembers its store, the
snapshot and the page's poll, forks and a dropped connection, and no password anywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest

from dashboard.cli import main
from geo.errors import InputError
from geo.ingest import Delivery, Ingestor
from geo.mission import SNAPSHOT_FILE, load_mission
from geo.pgstore import LOCATION_FILE, PgStore, check_location, recorded_location
from geo.store import Submission, connect_store, open_store
from tests.conftest import ROOT, two_regions

EXPORT = "form_id,form_type,region_code,overall\nF1,voting,AA,good\nF2,voting,BB,bad\nF3,counting,AA,very bad\n"


def row(form_id: str, overall: str = "good") -> dict:
    return {"form_id": form_id, "form_type": "voting", "region_code": "AA", "overall": overall}


def env_without_store(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("OBSMAP_")}, **extra}


def obsmap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "dashboard.cli", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env or env_without_store(), capture_output=True, text=True, timeout=180)


@pytest.fixture()
def exports(tmp_path) -> tuple[Path, Path]:
    bounds, forms = tmp_path / "adm1.geojson", tmp_path / "forms.csv"
    gpd.GeoDataFrame(two_regions()).to_file(bounds)
    forms.write_text(EXPORT, encoding="utf-8")
    return bounds, forms


# ---------------------------------------------------------------------------------------------- writers and readers
def test_two_writers_on_two_connections_take_turns_and_every_version_counts_once(pg_url):
    """Two syncs (two machines) writing at once: each batch gets its own data version, none is lost or doubled."""
    batches = 40
    with connect_store(pg_url):
        pass  # the schema, made once

    def write(name: str) -> list[int]:
        with PgStore(pg_url) as store:
            return [
                store.ingest([Submission(f"{name}-{i}", row(f"{name}-{i}"), "2005-12-04T09:00:00Z")], name, cursor=str(i)).data_version
                for i in range(batches)
            ]

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(write, ["odk", "kobo"])
    assert sorted(a + b) == list(range(1, 2 * batches + 1))  # every version once: the writers took turns
    with PgStore(pg_url) as store:
        assert store.data_version() == 2 * batches and store.counts()["forms"] == 2 * batches
        assert store.cursor("odk") == store.cursor("kobo") == str(batches - 1)


def test_the_same_form_from_two_writers_at_once_is_one_form_with_its_latest_version(pg_url):
    with connect_store(pg_url):
        pass
    barrier = threading.Barrier(2)

    def write(overall_at: tuple[str, str]) -> None:
        overall, at = overall_at
        with PgStore(pg_url) as store:
            barrier.wait()
            for _ in range(20):
                store.ingest([Submission("F1", row("F1", overall), at)], "odk")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, [("good", "2005-12-04T09:00:00Z"), ("bad", "2005-12-04T10:00:00Z")]))
    with PgStore(pg_url) as store:
        forms = store.current_forms()
        assert list(forms.overall) == ["bad"] and store.counts()["versions"] == 2 and len(store.history("F1")) == 2


def test_a_reader_never_waits_for_a_writer_and_sees_only_commits(pg_url):
    with PgStore(pg_url) as writer, PgStore(pg_url) as reader:
        writer.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z")], "odk")
        with writer._transaction() as db:  # a writer holding the data version's row, mid-batch
            db.execute("UPDATE store_meta SET value = '99' WHERE key = 'data_version'")
            done = threading.Event()
            seen: list[int] = []
            threading.Thread(target=lambda: (seen.append(reader.data_version()), done.set())).start()
            assert done.wait(5), "the reader waited for the writer"
            assert seen == [1] and len(reader.current_forms()) == 1
        assert reader.data_version() == 99


# ---------------------------------------------------------------------------------------------- no secrets
@pytest.mark.parametrize(
    "url",
    ["postgresql://obsmap:hunter2-secret@127.0.0.1:5432/mission", "postgresql://obsmap@127.0.0.1/mission?password=hunter2-secret"],
)
def test_a_url_with_a_password_is_refused_in_one_sentence_that_does_not_repeat_it(url, tmp_path, exports):
    with pytest.raises(InputError, match="pgpass"):
        check_location(url)
    bounds, forms = exports
    out = tmp_path / "mission"
    flag = obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out), "--store", url)
    env = obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out), env=env_without_store(OBSMAP_STORE=url))
    for done in (flag, env):
        assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
        assert "~/.pgpass" in done.stderr and "PGPASSFILE" in done.stderr
        assert "hunter2" not in done.stderr + done.stdout
    assert "--store" in flag.stderr and "$OBSMAP_STORE" in env.stderr
    assert not out.exists()  # refused before anything was written


def test_a_server_that_cannot_be_reached_is_one_sentence(tmp_path):
    from tests.pg import free_port

    with pytest.raises(Exception, match=r"could not open the PostgreSQL store") as caught:
        PgStore(f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------- the mission folder
def test_an_import_with_store_records_it_and_later_commands_find_it_without_the_flag(tmp_path, exports, pg_url):
    bounds, forms = exports
    out = tmp_path / "mission"
    done = obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out), "--store", pg_url)
    assert done.returncode == 0, done.stderr
    assert recorded_location(out) == pg_url and not (out / "store.sqlite").exists()
    assert "password" not in (out / LOCATION_FILE).read_text(encoding="utf-8").split("#")[-1]
    with PgStore(pg_url) as store:
        assert store.counts()["forms"] == 3 and store.data_version() == 1

    summary = obsmap("summary", "--data", str(out), "--json")  # no flag, no $OBSMAP_STORE: the folder says where
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["forms_total"] == 3

    (out / "incoming").mkdir()
    (out / "sync.toml").write_text('[[watch]]\nfolder = "incoming"\n', encoding="utf-8")
    late = out / "incoming" / "late.csv"
    late.write_text("form_id,form_type,region_code,overall\nF9,voting,BB,bad\n", encoding="utf-8")
    os.utime(late, (time.time() - 60, time.time() - 60))  # written in whole (the watch folder waits for a file to settle)
    synced = obsmap("sync", "--data", str(out), "--once")
    assert synced.returncode == 0, synced.stderr
    again = obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out))  # a re-import, no flag
    assert again.returncode == 0, again.stderr
    assert recorded_location(out) == pg_url  # carried over to the folder's new version
    assert sorted(load_mission(out).forms.form_id) == ["F1", "F2", "F3", "F9"]


def test_a_folder_keeps_the_store_it_has(tmp_path, exports, pg_url, pg_cluster):
    bounds, forms = exports
    sqlite_folder = tmp_path / "embedded"
    assert obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(sqlite_folder)).returncode == 0
    moved = obsmap("summary", "--data", str(sqlite_folder), env=env_without_store(OBSMAP_STORE=pg_url))
    assert moved.returncode == 2 and "its live store is SQLite" in moved.stderr and moved.stderr.count("\n") == 1

    pg_folder = tmp_path / "central"
    assert obsmap("import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(pg_folder), "--store", pg_url).returncode == 0
    other = pg_cluster.database()
    switched = obsmap("sync", "--data", str(pg_folder), "--once", "--store", other)
    assert switched.returncode == 2 and f"its live store is {pg_url}" in switched.stderr and LOCATION_FILE in switched.stderr


def test_the_snapshot_of_a_postgresql_store_is_kept_in_the_mission_folder_and_brought_up_to_date(tmp_path, exports, pg_url, monkeypatch):
    monkeypatch.setenv("OBSMAP_STORE", pg_url)
    bounds, forms = exports
    out = tmp_path / "mission"
    assert main(["import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out)]) == 0
    first = load_mission(out)
    snapshot = out.resolve() / SNAPSHOT_FILE
    assert snapshot.is_file() and first.store_version == 1
    with PgStore(pg_url) as store:
        stamp = (store.store_id(), snapshot.stat().st_mtime_ns)
    with Ingestor(out) as ingestor:
        page = {"form_id": ["F2"], "form_type": ["voting"], "region_code": ["BB"], "overall": ["very good"]}
        import pandas as pd

        ingestor.ingest(pd.DataFrame(page), [Delivery("F2", "2099-01-01T00:00:00Z")], "file:edit.csv")
    second = load_mission(out)  # the snapshot of version 1, and the one form changed since, from the store
    assert second.store_version == 2 and second.version != first.version
    assert second.forms.set_index("form_id").loc["F2", "overall"] == "very good" and len(second.forms) == 3
    assert snapshot.stat().st_mtime_ns == stamp[1]  # one change: not worth rewriting the snapshot
    assert first.version.endswith(".1") and second.version.endswith(".2") and "-store" in first.version


def test_the_pages_poll_reads_the_postgresql_data_version(tmp_path, exports, pg_url, monkeypatch):
    from dashboard.live import LiveMission

    monkeypatch.setenv("OBSMAP_STORE", pg_url)
    bounds, forms = exports
    out = tmp_path / "mission"
    assert main(["import", "--boundaries", str(bounds), "--forms", str(forms), "--out", str(out)]) == 0
    monkeypatch.delenv("OBSMAP_STORE")  # a server started later, without the flag: the folder's store.toml
    live = LiveMission(out)
    assert live.store_version() == 1 and len(live.current().forms) == 3
    with PgStore(pg_url) as elsewhere:  # another machine's sync
        elsewhere.ingest([Submission("F7", row("F7", "bad") | {"region_code": "BB"}, "2005-12-04T11:00:00Z")], "odk")
    assert live.store_version() == 2 and sorted(live.current().forms.form_id) == ["F1", "F2", "F3", "F7"]


# ---------------------------------------------------------------------------------------------- connections
def test_a_forked_child_opens_its_own_connection_and_the_parents_keeps_working(pg_url):
    """gunicorn's preload: a store opened in the master, used by each worker it forks."""
    with PgStore(pg_url) as store:
        store.ingest([Submission("F1", row("F1"), "2005-12-04T09:00:00Z")], "odk")
        parent_backend = store._db.conn.info.backend_pid
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its own connection, a write of its own
            try:
                ok = store._db.conn.info.backend_pid != parent_backend and store.data_version() == 1
                store.ingest([Submission("F2", row("F2"), "2005-12-04T09:05:00Z")], "odk")
                os.write(write, b"ok" if ok else b"no")
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 2) == b"ok"
        assert store._db.conn.info.backend_pid == parent_backend and store.data_version() == 2
        assert sorted(store.current_forms().form_key) == ["F1", "F2"]


def test_a_dropped_connection_is_replaced_at_the_next_read(pg_url):
    with PgStore(pg_url) as store, psycopg.connect(pg_url, autocommit=True) as admin:
        dropped = store._db.conn.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (dropped,))
        assert store.data_version() == 0  # read again on a new connection (a server restarted, a failover)
        assert store._db.conn.info.backend_pid != dropped


def test_open_store_on_a_folder_without_a_recorded_store_stays_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("OBSMAP_STORE", raising=False)
    folder = tmp_path / "m"
    folder.mkdir()
    with open_store(folder) as store:
        assert not isinstance(store, PgStore) and (folder / "store.sqlite").exists()


def test_serve_with_a_store_but_no_folder_is_refused(pg_url):
    """Without --data, serve shows the demo, which opens without sign-in on this machine: never with a store's forms."""
    done = obsmap("serve", "--store", pg_url)
    assert done.returncode == 2 and "--data" in done.stderr and done.stderr.count("\n") == 1
