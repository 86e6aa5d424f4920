"""The provinces however channels spell them, and the regions rules plan by."""

from __future__ import annotations

import pytest

from orders.regions import REGIONS, place_is_known, places_expand, province_of


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("广东省", "GD"),
        ("广东", "GD"),
        ("Guangdong Province", "GD"),
        ("guangdong sheng", "GD"),
        ("GD", "GD"),
        ("内蒙古自治区", "NM"),
        ("Inner Mongolia", "NM"),
        ("广西壮族自治区", "GX"),
        ("黑龙江省", "HL"),
        ("上海市", "SH"),
        ("Shaanxi", "SN"),
        ("Shanxi", "SX"),
        ("香港特别行政区", "HK"),
        ("California", None),
        ("", None),
        ("火星", None),
    ],
)
def test_a_province_however_it_is_written(written, code):
    assert province_of(written) == code


def test_the_regions_cover_every_province_once():
    covered = [code for _label, codes in REGIONS.values() for code in codes]
    assert len(covered) == len(set(covered)) == 34
    assert places_expand(["region:south", "ZJ"]) == {"GD", "GX", "HI", "HK", "MO", "ZJ"}
    assert place_is_known("region:east") and place_is_known("SC")
    assert not place_is_known("region:moon") and not place_is_known("广东")
