"""Drive a Dash app through its own HTTP endpoint, as dash-renderer does, with no browser.

    client = DashClient(create_app(mission))
    reply = client.fire("phase", value="voting")       # a control changed: the page's callbacks answer
    reply["region-map"]["figure"]                       # what the browser would receive

Each callback that listens to the changed property is posted to ``/_dash-update-component`` with
the current value of every input and state (from the layout, updated by earlier replies), exactly
as the browser would, including the chained callbacks that a reply sets off. Used by the tests (no
browser needed) and by ``scripts/benchmark.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


def walk_layout(node: Any) -> Iterator[dict[str, Any]]:
    """Every component (as JSON) in a layout tree."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            yield node
            for value in node["props"].values():
                yield from walk_layout(value)
        else:
            for value in node.values():
                yield from walk_layout(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_layout(item)


@dataclass
class Exchange:
    """One POST: the callback's outputs, the request and the reply, and what it cost."""

    output: str
    request: dict[str, Any]
    status: int
    reply: dict[str, Any]
    seconds: float
    bytes: int


def csrf_token(client: Any) -> str:
    """The CSRF token the server gave this client (the cookie dash-renderer copies into X-CSRFToken)."""
    cookie = client.get_cookie("_csrf_token")
    if cookie is None:
        client.get("/sign-in")  # any page sets it
        cookie = client.get_cookie("_csrf_token")
    return cookie.value


def sign_in(client: Any, username: str, password: str) -> Any:
    """Sign ``client`` (a Flask test client) in through the sign-in form, as a browser does; returns the reply."""
    client.get("/sign-in")
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": csrf_token(client), "next": "/"})


@dataclass
class DashClient:
    """Replays what the browser sends; ``client``: a Flask test client already signed in (default: a new one)."""

    app: Any
    props: dict[tuple[str, str], Any] = field(default_factory=dict)
    log: list[Exchange] = field(default_factory=list)
    client: Any = None

    def __post_init__(self) -> None:
        self.client = self.client or self.app.server.test_client()
        layout = self.client.get("/_dash-layout")
        self.layout_bytes = len(layout.data)
        for component in walk_layout(layout.json):
            props = component["props"]
            if isinstance(props.get("id"), str):
                for key, value in props.items():
                    self.props[(props["id"], key)] = value
        self.dependencies = self.client.get("/_dash-dependencies").json

    def component_ids(self) -> set[str]:
        return {cid for cid, _ in self.props}

    def _listeners(self, changed: set[str]) -> list[dict[str, Any]]:
        return [d for d in self.dependencies if d.get("clientside_function") is None and any(self._listens(d, p) for p in changed)]

    def post(self, dependency: dict[str, Any], changed: list[str]) -> Exchange:
        """Post one callback with the current values, apply its reply to the props, and log it."""
        outputs = [{"id": o.split(".")[0], "property": o.split(".")[1].split("@")[0]} for o in dependency["output"].strip(".").split("...")]
        body = {
            "output": dependency["output"],
            "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
            "inputs": [{**i, "value": self.props.get((i["id"], i["property"]))} for i in dependency["inputs"]],
            "changedPropIds": changed,
            "state": [{**s, "value": self.props.get((s["id"], s["property"]))} for s in dependency["state"]],
        }
        start = time.perf_counter()
        response = self.client.post(
            "/_dash-update-component",
            data=json.dumps(body),
            content_type="application/json",
            headers={"X-CSRFToken": csrf_token(self.client)},
        )
        seconds = time.perf_counter() - start
        reply = response.json["response"] if response.status_code == 200 else {}  # 204: nothing to update
        for cid, props in reply.items():
            for prop, value in props.items():
                if not (isinstance(value, dict) and "__dash_patch_update" in value):  # a Patch: the browser merges it
                    self.props[(cid, prop)] = value
        exchange = Exchange(dependency["output"], body, response.status_code, reply, seconds, len(response.data))
        self.log.append(exchange)
        return exchange

    def fire(self, component: str, prop: str = "value", value: Any = None, *, follow: bool = True) -> dict[str, dict[str, Any]]:
        """The user sets ``component.prop`` to ``value``: post every server callback it sets off, chains included.

        Returns the merged reply (component id -> property -> value). Server callbacks set off by a
        clientside one (the map's measured size) are not followed: no browser measures here.
        """
        self.props[(component, prop)] = value
        merged: dict[str, dict[str, Any]] = {}
        changed = {f"{component}.{prop}": None}  # property -> the callback that set it (None: the user)
        for _round in range(5):
            now: dict[str, str] = {}
            for dependency in self._listeners(set(changed)):
                # dash-renderer does not set a callback off with its own outputs (a circular self-update).
                triggers = sorted(p for p, setter in changed.items() if setter != dependency["output"] and self._listens(dependency, p))
                if not triggers:
                    continue
                exchange = self.post(dependency, triggers)
                if exchange.status not in (200, 204):
                    raise RuntimeError(f"{exchange.output[:80]} answered {exchange.status}")
                for cid, props in exchange.reply.items():
                    merged.setdefault(cid, {}).update(props)
                    now |= {f"{cid}.{p}": dependency["output"] for p in props}
            if not follow or not now:
                break
            changed = now
        return merged

    @staticmethod
    def _listens(dependency: dict[str, Any], prop: str) -> bool:
        return prop in {f"{i['id']}.{i['property']}" for i in dependency["inputs"]}
