"""The map's shapes are a file of their own, named by their digest: fetched once, kept by the browser, not in the page."""

from __future__ import annotations

import json

import pytest

from dashboard.app import create_app
from dashboard.figures import LABELS_META
from geo.i18n import use
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
    assert set(geometry_urls(mission)) == {"regions", "labels"}  # no districts: no file named for them


def _labels_url(page: DashClient, lang: str | None = None) -> str:
    headers = {"Referer": f"http://localhost/?lang={lang}", "Sec-Fetch-Site": "same-origin"} if lang else {}
    layout = page.client.get("/_dash-layout", headers=headers).get_json()
    return components(layout)["region-map"]["props"]["figure"]["layout"]["meta"][LABELS_META]


def test_the_names_on_the_map_are_a_file_per_language_not_part_of_the_page(page, demo):
    """dcc.Graph copies the figure's layout on every redraw: 4,556 names inlined there cost 0.6 s of each click."""
    url = _labels_url(page)
    assert isinstance(url, str) and url.startswith("/geometry/") and url.endswith("/labels-en.json")
    assert "Karaganda" not in json.dumps(components(page.client.get("/_dash-layout").get_json())["region-map"]["props"]["figure"]["layout"])
    reply = page.client.get(url)
    assert reply.status_code == 200 and "immutable" in reply.headers["Cache-Control"]
    features = reply.get_json()["features"]
    names = [f["properties"]["name"] for f in features if not f["properties"]["note"]]
    assert sorted(names) == sorted(demo.region_names.values())  # every region once, its name as plain text
    assert [f["properties"]["name"] for f in features if f["properties"]["note"]] == [n["name"] for n in demo.map_notes]
    assert page.client.get(url, headers={"If-None-Match": reply.headers["ETag"]}).status_code == 304


def test_the_russian_page_names_its_own_file(page, demo):
    english, russian = _labels_url(page), _labels_url(page, "ru")
    assert russian.endswith("/labels-ru.json") and russian.split("/")[2] != english.split("/")[2]
    with use("ru"):
        expected = sorted(demo.region_names.values())
    names = sorted(f["properties"]["name"] for f in page.client.get(russian).get_json()["features"] if not f["properties"]["note"])
    assert names == expected and "Карагандинская" in names
    digest = russian.split("/")[2]
    for wrong in (f"/geometry/{digest}/labels-en.json", f"/geometry/{digest}/labels-xx.json", f"/geometry/{digest}/labels.json"):
        assert page.client.get(wrong).status_code == 404, wrong


def test_a_picture_carries_its_names_inline_and_escaped(tmp_path):
    from dashboard.figures import map_labels
    from tests.conftest import build_tiny

    mission = build_tiny(tmp_path, [{"form_type": "voting", "region_code": "AA", "overall": "good"}])
    names = {code: f"<b>{name}</b>" for code, name in mission.region_names.items()}
    inline = [f["properties"]["name"] for f in map_labels(mission.geojson, names, [])["features"]]
    plain = [f["properties"]["name"] for f in map_labels(mission.geojson, names, [], escaped=False)["features"]]
    assert plain == list(names.values()) and all("<b>" not in n and "&lt;b&gt;" in n for n in inline)
