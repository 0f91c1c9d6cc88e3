"""The map's shapes are a file of their own, named by their digest: fetched once, kept by the browser, not in the page."""

from __future__ import annotations

import json

import pytest

from dashboard.app import create_app
from scripts.dash_client import DashClient
from tests.conftest import components


@pytest.fixture(scope="module")
def page(demo):
    client = DashClient(create_app(demo))
    return client


def _map_figure(page: DashClient) -> dict:
    layout = page.client.get("/_dash-layout").get_json()
    return components(layout)["region-map"]["props"]["figure"]


def test_the_page_names_its_shapes_and_carries_none(page, demo):
    figure = _map_figure(page)
    url = figure["data"][0]["geojson"]
    assert isinstance(url, str) and url.startswith("/geometry/") and url.endswith("/regions.json")
    some_shape = json.dumps(demo.geojson["features"][0]["geometry"]["coordinates"])[:60]
    assert some_shape not in page.client.get("/_dash-layout").get_data(as_text=True)
    assert page.layout_bytes < 60_000  # the demo's layout was 177 KB with its shapes inlined


def test_the_shapes_are_served_once_and_kept(page, demo):
    url = _map_figure(page)["data"][0]["geojson"]
    reply = page.client.get(url)
    assert reply.status_code == 200 and reply.get_json() == json.loads(json.dumps(demo.geojson))
    assert "immutable" in reply.headers["Cache-Control"] and "max-age=31536000" in reply.headers["Cache-Control"]
    again = page.client.get(url, headers={"If-None-Match": reply.headers["ETag"]})
    assert again.status_code == 304 and not again.data


@pytest.mark.parametrize("path", ["/geometry/0123456789abcdef01234567/regions.json", "/geometry/{digest}/nothing.json"])
def test_other_shapes_are_not_found(page, path):
    digest = _map_figure(page)["data"][0]["geojson"].split("/")[2]
    assert page.client.get(path.format(digest=digest)).status_code == 404


def test_a_mission_with_districts_names_their_file_too(tmp_path):
    from dashboard.app import geometry_urls
    from tests.conftest import build_tiny

    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "overall": "good"}])
    assert set(geometry_urls(mission)) == {"regions"}  # no districts: no file named for them
