import pandas as pd

from geo.join import join_points_to_regions
from tests.conftest import two_regions


def test_join_points_to_regions_assigns_containing_region():
    pts = pd.DataFrame({"latitude": [0.5, 0.5, 0.2], "longitude": [0.5, 1.5, 1.9]}, index=[10, 11, 12])
    assert join_points_to_regions(pts, two_regions()).tolist() == ["AA", "BB", "BB"]


def test_join_points_outside_or_without_coordinates_get_na():
    pts = pd.DataFrame({"latitude": [5.0, None, "x"], "longitude": [5.0, 0.5, 0.5]})
    assert join_points_to_regions(pts, two_regions()).isna().all()


def test_join_point_on_shared_border_gets_exactly_one_region():
    pts = pd.DataFrame({"latitude": [0.5], "longitude": [1.0]})
    codes = join_points_to_regions(pts, two_regions())
    assert len(codes) == 1 and codes.iloc[0] == "AA"


def test_join_reprojects_projected_regions():
    regions = two_regions().to_crs(3857)
    pts = pd.DataFrame({"latitude": [0.5], "longitude": [1.5]})
    assert join_points_to_regions(pts, regions).tolist() == ["BB"]


def test_join_empty_input():
    pts = pd.DataFrame({"latitude": [], "longitude": []})
    assert join_points_to_regions(pts, two_regions()).empty
