"""Fake ODK Central and KoboToolbox servers for the sync tests: small Flask apps on 127.0.0.1, port 0, in a thread.

They follow the documented JSON shapes, and the parts of the real servers' behaviour a sync depends on:

- **ODK Central** (central-backend): ``POST /v1/sessions`` -> ``{"token", "createdAt", "expiresAt"}``; OData
  ``/v1/projects/<p>/forms/<f>.svc/Submissions`` with ``$filter`` (comparisons on ``__id`` and ``__system/*``,
  ``and``/``or``/``not``, parentheses), ``$orderby`` (nulls first ascending, then the row id, as
  ``odataOrderBy``), ``$top``/``$skip``/``$count``. Rows: ``__id`` (the root instanceID), groups as nested
  objects, geopoints as GeoJSON, ``meta.instanceID`` of the current version, ``__system`` with
  ``submissionDate``, ``updatedAt`` (null until the first edit or review), ``reviewState``, ``edits``,
  ``deletedAt``... Deleted submissions are listed only when the filter names ``__system/deletedAt``
  (``odataExcludeDeleted``). Times are kept to the microsecond and printed to the millisecond, as Central does.
- **KoboToolbox** (kpi v2): ``/api/v2/assets/<uid>/data/`` with ``query`` (a MongoDB subset: equality, ``$gt``,
  ``$gte``, ``$lt``, ``$lte``, ``$in``, ``$ne``, ``$or``, ``$and``), ``sort``, ``start``, ``limit`` (at most
  30,000), ``Authorization: Token``. An edit keeps ``_id``, ``_submission_time`` and ``meta/rootUuid``, gives a new
  ``_uuid`` and sets ``meta/deprecatedID`` to the replaced one.

Each fake fails on purpose: :meth:`FakeServer.fail_next` (HTTP status, e.g. 500, 429, 403), :meth:`FakeServer.stall_next`
(sleep longer than the client's timeout), :meth:`FakeServer.truncate_next` (a page cut short), and the token refused
(:meth:`FakeOdk.expire_sessions`, :attr:`FakeOdk.refuse_login`, :meth:`FakeKobo.refuse_token`).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler, make_server


class _Quiet(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server behind nginx

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no request lines in the test output
        pass


class Clock:
    """The fake server's clock: each reading moves on by ``step``; ``step = 0`` makes time stamps tie."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(milliseconds=1, microseconds=234)) -> None:
        self.now = start or datetime(2005, 12, 4, 7, 0, tzinfo=UTC)
        self.step = step
        self._lock = threading.Lock()

    def tick(self) -> datetime:
        with self._lock:
            self.now += self.step
            return self.now


@dataclass
class _Plan:
    kind: str  # "pass", "status", "stall", "truncate", "expire"
    status: int = 500
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """A Flask app served from a thread; planned failures apply to the data endpoint's next requests."""

    def __init__(self, name: str) -> None:
        self.app = Flask(name)
        self.lock = threading.RLock()
        self.plans: deque[_Plan] = deque()
        self.requests: list[dict[str, Any]] = []  # method, path, args, authorization seen (for assertions)
        self._closing = threading.Event()
        self._server = None
        self._thread: threading.Thread | None = None
        self.app.before_request(self._before)
        self.app.after_request(self._after)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name=f"fake-{self.app.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- failures on purpose
    def fail_next(self, n: int = 1, status: int = 500, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.plans.extend(_Plan("status", status=status, headers=headers or {}) for _ in range(n))

    def pass_next(self, n: int = 1) -> None:
        """The next ``n`` data requests are answered normally (so that failures planned after them come later)."""
        with self.lock:
            self.plans.extend(_Plan("pass") for _ in range(n))

    def stall_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """The next ``n`` data requests answer only after ``seconds`` (longer than the client's timeout)."""
        with self.lock:
            self.plans.extend(_Plan("stall", seconds=seconds) for _ in range(n))

    def truncate_next(self, n: int = 1) -> None:
        """The next ``n`` data pages are cut short: half the JSON body, with a matching Content-Length."""
        with self.lock:
            self.plans.extend(_Plan("truncate") for _ in range(n))

    def expire_next(self) -> None:
        """The sessions expire just before the next data request (which then gets a 401)."""
        with self.lock:
            self.plans.append(_Plan("expire"))

    def expire_sessions(self) -> None:  # overridden by servers with sessions
        pass

    def is_data(self, path: str) -> bool:  # overridden
        return True

    def _before(self) -> Response | None:
        self.requests.append(
            {"method": request.method, "path": request.path, "args": dict(request.args), "auth": request.headers.get("Authorization")}
        )
        if not self.is_data(request.path):
            return None
        with self.lock:
            plan = self.plans[0] if self.plans else None
            if plan is not None and plan.kind != "truncate":
                self.plans.popleft()
        if plan is None or plan.kind in ("truncate", "pass"):
            return None
        if plan.kind == "expire":
            self.expire_sessions()
            return None
        if plan.kind == "stall":
            self._closing.wait(plan.seconds)
            return None
        body = json.dumps({"code": plan.status, "message": f"planned failure {plan.status}", "detail": f"planned failure {plan.status}"})
        return Response(body, status=plan.status, headers=plan.headers, mimetype="application/json")

    def _after(self, response: Response) -> Response:
        if not self.is_data(request.path) or response.status_code != 200:
            return response
        with self.lock:
            plan = self.plans[0] if self.plans else None
            if plan is None or plan.kind != "truncate":
                return response
            self.plans.popleft()
        data = response.get_data()
        response.set_data(data[: len(data) // 2])
        return response


def _iso_ms(when: datetime | None) -> str | None:
    """As JavaScript's toISOString: milliseconds, Z."""
    if when is None:
        return None
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value.get("type") != "Point":
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# =============================================================================================== ODK Central
@dataclass
class OdkSubmission:
    row_id: int
    instance_id: str  # __id, the root instanceID
    version_id: str  # meta/instanceID of the current version
    data: dict[str, Any]
    created: datetime
    updated: datetime | None = None
    deleted: datetime | None = None
    review: str | None = None
    edits: int = 0


_ODK_FIELDS = {
    "__id": lambda s: s.instance_id,
    "__system/submissionDate": lambda s: s.created,
    "__system/updatedAt": lambda s: s.updated,
    "__system/deletedAt": lambda s: s.deleted,
    "__system/reviewState": lambda s: s.review,
    "__system/submitterId": lambda s: "5",
}

_TOKEN = re.compile(
    r"\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<time>\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d))|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[$A-Za-z_][$\w/]*))"
)


class ODataFilter:
    """A small parser and evaluator for the OData ``$filter`` subset Central supports on submissions."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError(f"unparseable $filter at {pos}: {text[pos:]!r}")
            pos = m.end()
            kind = m.lastgroup
            value = m[kind]
            if kind == "time":
                self.tokens.append(("lit", _parse_time(value)))
            elif kind == "str":
                self.tokens.append(("lit", value[1:-1].replace("''", "'")))
            elif kind == "num":
                self.tokens.append(("lit", float(value)))
            elif kind == "word" and value == "null":
                self.tokens.append(("lit", None))
            elif kind == "word" and value in ("eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not"):
                self.tokens.append((value, value))
            elif kind == "word":
                name = value.removeprefix("$root/Submissions/")
                if name not in _ODK_FIELDS:
                    raise ValueError(f"unsupported field {value}")
                self.tokens.append(("field", name))
            else:
                self.tokens.append((kind, value))
        self.i = 0
        self.tree = self._or()
        if self.i != len(self.tokens):
            raise ValueError("trailing tokens in $filter")
        self.fields = {t[1] for t in self.tokens if t[0] == "field"}

    def _peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, Any]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "or":
            self._take()
            left = ("or", left, self._and())
        return left

    def _and(self) -> Any:
        left = self._not()
        while self._peek() == "and":
            self._take()
            left = ("and", left, self._not())
        return left

    def _not(self) -> Any:
        if self._peek() == "not":
            self._take()
            return ("not", self._not())
        return self._cmp()

    def _cmp(self) -> Any:
        if self._peek() == "lp":
            self._take()
            inner = self._or()
            if self._take()[0] != "rp":
                raise ValueError("missing )")
            return inner
        left = self._take()
        op = self._take()[0]
        right = self._take()
        if op not in ("eq", "ne", "gt", "ge", "lt", "le"):
            raise ValueError(f"expected a comparison, found {op}")
        return (op, left, right)

    def matches(self, sub: OdkSubmission) -> bool:
        return bool(self._eval(self.tree, sub))

    def _value(self, tok: tuple[str, Any], sub: OdkSubmission) -> Any:
        return _ODK_FIELDS[tok[1]](sub) if tok[0] == "field" else tok[1]

    def _eval(self, node: Any, sub: OdkSubmission) -> bool:
        op = node[0]
        if op == "or":
            return self._eval(node[1], sub) or self._eval(node[2], sub)
        if op == "and":
            return self._eval(node[1], sub) and self._eval(node[2], sub)
        if op == "not":
            return not self._eval(node[1], sub)
        a, b = self._value(node[1], sub), self._value(node[2], sub)
        if op == "eq":
            return a == b
        if op == "ne":
            return a != b
        if a is None or b is None:
            return False  # SQL: a comparison with null is not true
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]


class FakeOdk(FakeServer):
    """ODK Central: one user, projects with forms, submissions that are added, edited, reviewed and deleted."""

    def __init__(self, email: str = "analyst@mission.example", password: str = "s3cret-odk-pass", clock: Clock | None = None) -> None:
        super().__init__("fake-odk")
        self.email, self.password = email, password
        self.clock = clock or Clock()
        self.sessions: set[str] = set()
        self.refuse_login = False
        self.forms: dict[tuple[int, str], dict[str, OdkSubmission]] = {}
        self._next_row = 0
        app = self.app
        app.add_url_rule("/v1/sessions", view_func=self._login, methods=["POST"])
        app.add_url_rule("/v1/projects/<int:project>/forms/<form>.svc/Submissions", view_func=self._submissions)

    def is_data(self, path: str) -> bool:
        return path.endswith("/Submissions")

    # ---------------------------------------------------------------- mission side
    def add_form(self, project: int, form: str) -> None:
        self.forms.setdefault((project, form), {})

    def add(self, project: int, form: str, data: dict[str, Any], instance_id: str | None = None) -> str:
        with self.lock:
            iid = instance_id or f"uuid:{uuidlib.uuid4()}"
            subs = self.forms.setdefault((project, form), {})
            if iid in subs:  # identical XML is a no-op; different XML under the same instanceID is refused (409)
                if subs[iid].data != data:
                    raise ValueError("409: a submission with this instanceID already exists with different content")
                return iid
            self._next_row += 1
            subs[iid] = OdkSubmission(self._next_row, iid, iid, copy.deepcopy(data), self.clock.tick())
            return iid

    def edit(self, project: int, form: str, iid: str, changes: dict[str, Any]) -> None:
        with self.lock:
            sub = self.forms[(project, form)][iid]
            assert sub.deleted is None, "a deleted submission cannot be edited"
            sub.data = _deep_merge(sub.data, changes)
            sub.version_id = f"uuid:{uuidlib.uuid4()}"
            sub.edits += 1
            sub.review = "edited"
            sub.updated = self.clock.tick()

    def review(self, project: int, form: str, iid: str, state: str | None) -> None:
        assert state in (None, "hasIssues", "edited", "approved", "rejected")
        with self.lock:
            sub = self.forms[(project, form)][iid]
            sub.review = state
            sub.updated = self.clock.tick()

    def delete(self, project: int, form: str, iid: str) -> None:
        with self.lock:
            self.forms[(project, form)][iid].deleted = self.clock.tick()  # deletedAt only; updatedAt is left as is

    def expire_sessions(self) -> None:
        """Every session token stops working (401): the client must log in again."""
        with self.lock:
            self.sessions.clear()

    def record(self, sub: OdkSubmission) -> dict[str, Any]:
        data = copy.deepcopy(sub.data)
        meta = data.setdefault("meta", {})
        meta["instanceID"] = sub.version_id
        return {
            "__id": sub.instance_id,
            **data,
            "__system": {
                "submissionDate": _iso_ms(sub.created),
                "updatedAt": _iso_ms(sub.updated),
                "submitterId": "5",
                "submitterName": "Observer Team 17",
                "attachmentsPresent": 0,
                "attachmentsExpected": 0,
                "status": None,
                "reviewState": sub.review,
                "deviceId": "collect:abc123",
                "edits": sub.edits,
                "formVersion": "2005-12-01",
                "deletedAt": _iso_ms(sub.deleted),
            },
        }

    # ---------------------------------------------------------------- HTTP
    def _login(self) -> Response:
        body = request.get_json(silent=True) or {}
        if self.refuse_login or body.get("email") != self.email or body.get("password") != self.password:
            return _json({"code": 401.2, "message": "Could not authenticate with the provided credentials."}, 401)
        token = uuidlib.uuid4().hex + uuidlib.uuid4().hex
        with self.lock:
            self.sessions.add(token)
        now = datetime.now(UTC)
        return _json({"createdAt": _iso_ms(now), "expiresAt": _iso_ms(now + timedelta(hours=24)), "token": token})

    def _submissions(self, project: int, form: str) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.sessions:
            return _json({"code": 401.2, "message": "Could not authenticate with the provided credentials."}, 401)
        if (project, form) not in self.forms:
            return _json({"code": 404.1, "message": "Could not find the resource you were looking for."}, 404)
        args = request.args
        try:
            filt = ODataFilter(args["$filter"]) if "$filter" in args else None
        except ValueError as exc:
            return _json({"code": 400.18, "message": f"The OData filter expression you provided could not be parsed: {exc}"}, 400)
        with self.lock:
            subs = list(self.forms[(project, form)].values())
            if filt is None or "__system/deletedAt" not in filt.fields:
                subs = [s for s in subs if s.deleted is None]
            if filt is not None:
                subs = [s for s in subs if filt.matches(s)]
            subs = _odata_order(subs, args.get("$orderby"))
            count = len(subs)
            skip = int(args.get("$skip", 0))
            top = int(args["$top"]) if "$top" in args else None
            page = subs[skip : skip + top if top is not None else None]
            body: dict[str, Any] = {
                "@odata.context": f"{self.url}/v1/projects/{project}/forms/{form}.svc/$metadata#Submissions",
                "value": [self.record(s) for s in page],
            }
            if top is not None and skip + top < count:
                body["@odata.nextLink"] = f"{self.url}{request.path}?$skiptoken=opaque"
            if args.get("$count") == "true":
                body["@odata.count"] = count
        return _json(body)


def _odata_order(subs: list[OdkSubmission], orderby: str | None) -> list[OdkSubmission]:
    if not orderby:  # Central's default: newest first
        return sorted(subs, key=lambda s: (s.created, s.row_id), reverse=True)
    clauses = []
    for part in orderby.split(","):
        name, _, direction = part.strip().partition(" ")
        clauses.append((_ODK_FIELDS[name], direction.strip().lower() == "desc"))
    out = sorted(subs, key=lambda s: s.row_id, reverse=clauses[0][1])  # the stable column, in the first clause's direction
    for getter, desc in reversed(clauses):
        # ascending: nulls first; descending: nulls last (odataOrderBy)
        out = sorted(out, key=lambda s, g=getter: (g(s) is not None, g(s) or datetime.min.replace(tzinfo=UTC)), reverse=desc)
    return out


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


# =============================================================================================== KoboToolbox
@dataclass
class KoboSubmission:
    id: int
    uuid: str
    root: str
    data: dict[str, Any]  # question paths -> text, e.g. "grp/overall": "bad"
    submission_time: str  # "YYYY-MM-DDTHH:MM:SS", UTC, whole seconds
    with_root: bool = True  # legacy submissions have no meta/rootUuid
    deprecated: str | None = None
    validation: str | None = None
    deleted: bool = False


_VALIDATION_LABELS = {
    "validation_status_approved": "Approved",
    "validation_status_not_approved": "Not Approved",
    "validation_status_on_hold": "On Hold",
}


def _mongo_match(record: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, cond in query.items():
        if key == "$or":
            if not any(_mongo_match(record, q) for q in cond):
                return False
            continue
        if key == "$and":
            if not all(_mongo_match(record, q) for q in cond):
                return False
            continue
        value = record.get(key)
        if not isinstance(cond, dict):
            if value != cond:
                return False
            continue
        for op, arg in cond.items():
            if op == "$in":
                ok = value in arg
            elif op == "$ne":
                ok = value != arg
            elif op == "$eq":
                ok = value == arg
            elif value is None:
                ok = False
            else:
                ok = {"$gt": lambda a, b: a > b, "$gte": lambda a, b: a >= b, "$lt": lambda a, b: a < b, "$lte": lambda a, b: a <= b}[op](
                    value, arg
                )
            if not ok:
                return False
    return True


class FakeKobo(FakeServer):
    """KoboToolbox's v2 data API for a few assets, with token authentication."""

    def __init__(self, token: str = "kobo-t0ken-abcdef0123456789", clock: Clock | None = None) -> None:
        super().__init__("fake-kobo")
        self.tokens = {token}
        self.clock = clock or Clock(step=timedelta(milliseconds=400))  # whole seconds printed: time stamps tie
        self.assets: dict[str, dict[int, KoboSubmission]] = {}
        self._next_id = 1000
        self.app.add_url_rule("/api/v2/assets/<uid>/data/", view_func=self._data)

    def is_data(self, path: str) -> bool:
        return "/data/" in path

    def add_asset(self, uid: str) -> None:
        self.assets.setdefault(uid, {})

    def add(self, uid: str, data: dict[str, Any], *, with_root: bool = True) -> int:
        with self.lock:
            self._next_id += 1
            u = str(uuidlib.uuid4())
            when = self.clock.tick().strftime("%Y-%m-%dT%H:%M:%S")
            self.assets.setdefault(uid, {})[self._next_id] = KoboSubmission(self._next_id, u, u, dict(data), when, with_root)
            return self._next_id

    def edit(self, uid: str, sid: int, changes: dict[str, Any]) -> None:
        with self.lock:
            sub = self.assets[uid][sid]
            assert not sub.deleted
            sub.data.update(changes)
            sub.deprecated, sub.uuid = sub.uuid, str(uuidlib.uuid4())

    def validate(self, uid: str, sid: int, status: str | None) -> None:
        assert status in (None, *_VALIDATION_LABELS)
        with self.lock:
            self.assets[uid][sid].validation = status

    def delete(self, uid: str, sid: int) -> None:
        with self.lock:
            self.assets[uid][sid].deleted = True

    def refuse_token(self) -> None:
        with self.lock:
            self.tokens = set()

    def accept_token(self, token: str) -> None:
        with self.lock:
            self.tokens.add(token)

    def record(self, uid: str, sub: KoboSubmission) -> dict[str, Any]:
        lat = lon = None
        for key, value in sub.data.items():
            if key.endswith("location") and isinstance(value, str):
                lat, lon = (float(v) for v in value.split()[:2])
        out: dict[str, Any] = {
            "_id": sub.id,
            "formhub/uuid": "0f1e2d3c4b5a",
            "start": "2005-12-04T08:00:00.000+06:00",
            "end": "2005-12-04T08:20:00.000+06:00",
            **sub.data,
            "__version__": "vAbC123",
            "meta/instanceID": f"uuid:{sub.uuid}",
        }
        if sub.with_root:
            out["meta/rootUuid"] = f"uuid:{sub.root}"
        if sub.deprecated:
            out["meta/deprecatedID"] = f"uuid:{sub.deprecated}"
        validation = (
            {"timestamp": 1133690000, "uid": sub.validation, "by_whom": "supervisor1", "label": _VALIDATION_LABELS[sub.validation]}
            if sub.validation
            else {}
        )
        out.update(
            {
                "_xform_id_string": uid,
                "_uuid": sub.uuid,
                "_attachments": [],
                "_status": "submitted_via_web",
                "_geolocation": [lat, lon],
                "_submission_time": sub.submission_time,
                "_tags": [],
                "_notes": [],
                "_validation_status": validation,
                "_submitted_by": "observer_t017",
            }
        )
        return out

    def _data(self, uid: str) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Token "):
            return _json({"detail": "Authentication credentials were not provided."}, 401)
        if auth[6:] not in self.tokens:
            return _json({"detail": "Invalid token."}, 401)
        if uid not in self.assets:
            return _json({"detail": "Not found."}, 404)
        args = request.args
        try:
            query = json.loads(args.get("query", "{}"))
            sort = json.loads(args.get("sort", '{"_id": 1}'))
            start = int(args.get("start", 0))
            limit = min(int(args.get("limit", 30000)), 30000)
        except ValueError as exc:
            return _json({"detail": f"Bad request: {exc}"}, 400)
        with self.lock:
            records = [self.record(uid, s) for s in self.assets[uid].values() if not s.deleted]
            records = [r for r in records if _mongo_match(r, query)]
            for key, direction in reversed(list(sort.items())):
                records.sort(key=lambda r, k=key: (r.get(k) is not None, r.get(k)), reverse=direction == -1)
            page = records[start : start + limit]
            more = start + limit < len(records)
            body = {
                "count": len(records),
                "next": f"{self.url}{request.path}?start={start + limit}&limit={limit}" if more else None,
                "previous": None,
                "results": page,
            }
        return _json(body)
