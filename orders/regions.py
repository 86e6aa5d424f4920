"""Mainland China's provinces and the seven regions warehouses and carriers are planned by.

Channels write a province every way there is ("广东省", "广东", "Guangdong", "Guangdong Sheng",
"GD"): `province_of(text)` reads any of them as one code, so a rule "华南 → 广州仓" matches
every spelling, the preview's filter (`province_filter_prefixes`) means the same, and an
address whose province is none of them can be named as unparseable.
"""

from __future__ import annotations

from functools import lru_cache

from django.utils.translation import gettext_lazy as _

# code: (Chinese short name, English name, other spellings channels send)
PROVINCES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "BJ": ("北京", "Beijing", ("Peking",)),
    "TJ": ("天津", "Tianjin", ()),
    "HE": ("河北", "Hebei", ()),
    "SX": ("山西", "Shanxi", ()),
    "NM": ("内蒙古", "Inner Mongolia", ("Nei Mongol", "Neimenggu")),
    "LN": ("辽宁", "Liaoning", ()),
    "JL": ("吉林", "Jilin", ()),
    "HL": ("黑龙江", "Heilongjiang", ()),
    "SH": ("上海", "Shanghai", ()),
    "JS": ("江苏", "Jiangsu", ()),
    "ZJ": ("浙江", "Zhejiang", ()),
    "AH": ("安徽", "Anhui", ()),
    "FJ": ("福建", "Fujian", ()),
    "JX": ("江西", "Jiangxi", ()),
    "SD": ("山东", "Shandong", ()),
    "HA": ("河南", "Henan", ()),
    "HB": ("湖北", "Hubei", ()),
    "HN": ("湖南", "Hunan", ()),
    "GD": ("广东", "Guangdong", ()),
    "GX": ("广西", "Guangxi", ()),
    "HI": ("海南", "Hainan", ()),
    "CQ": ("重庆", "Chongqing", ()),
    "SC": ("四川", "Sichuan", ()),
    "GZ": ("贵州", "Guizhou", ()),
    "YN": ("云南", "Yunnan", ()),
    "XZ": ("西藏", "Tibet", ("Xizang",)),
    "SN": ("陕西", "Shaanxi", ()),
    "GS": ("甘肃", "Gansu", ()),
    "QH": ("青海", "Qinghai", ()),
    "NX": ("宁夏", "Ningxia", ()),
    "XJ": ("新疆", "Xinjiang", ()),
    "TW": ("台湾", "Taiwan", ()),
    "HK": ("香港", "Hong Kong", ("Hongkong",)),
    "MO": ("澳门", "Macau", ("Macao",)),
}

# The regions of China's usual seven-way split, by which operations plan warehouses and carriers.
REGIONS: dict[str, tuple[object, tuple[str, ...]]] = {
    "north": (_("North China (华北)"), ("BJ", "TJ", "HE", "SX", "NM")),
    "northeast": (_("Northeast China (东北)"), ("LN", "JL", "HL")),
    "east": (_("East China (华东)"), ("SH", "JS", "ZJ", "AH", "FJ", "JX", "SD", "TW")),
    "central": (_("Central China (华中)"), ("HA", "HB", "HN")),
    "south": (_("South China (华南)"), ("GD", "GX", "HI", "HK", "MO")),
    "southwest": (_("Southwest China (西南)"), ("CQ", "SC", "GZ", "YN", "XZ")),
    "northwest": (_("Northwest China (西北)"), ("SN", "GS", "QH", "NX", "XJ")),
}
REGION_PREFIX = "region:"


def _normal(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


# Every spelling, normalised, to its code; longest first, so "内蒙古自治区" is not read as "内".
_SPELLINGS: list[tuple[str, str]] = sorted(
    ((_normal(spelling), code) for code, (zh, en, others) in PROVINCES.items() for spelling in (zh, en, *others)),
    key=lambda pair: -len(pair[0]),
)
_BY_CODE = {_normal(code): code for code in PROVINCES}


@lru_cache(maxsize=4096)  # a few dozen spellings, read for every order an import or rule checks
def province_of(text: str | None) -> str | None:
    """The province code of what a channel wrote ("广东省" / "Guangdong Province" / "GD" → "GD"),
    or None when it names no province we know."""
    normal = _normal(text or "")
    if not normal:
        return None
    if normal in _BY_CODE:
        return _BY_CODE[normal]
    for spelling, code in _SPELLINGS:
        if normal.startswith(spelling):
            return code
    return None


def province_label(code: str) -> str:
    zh, en, _others = PROVINCES[code]
    return f"{zh} {en}"


def places_expand(places) -> frozenset[str]:
    """A rule's places (province codes and "region:<code>") as the province codes they cover."""
    codes: set[str] = set()
    for place in places or ():
        if str(place).startswith(REGION_PREFIX):
            codes.update(REGIONS[str(place)[len(REGION_PREFIX) :]][1])
        else:
            codes.add(str(place))
    return frozenset(codes)


def place_choices() -> list[tuple[str, object]]:
    """The regions, then every province, for the rule editor."""
    return [(REGION_PREFIX + code, label) for code, (label, _codes) in REGIONS.items()] + [
        (code, province_label(code)) for code in PROVINCES
    ]


def place_is_known(place: str) -> bool:
    if place.startswith(REGION_PREFIX):
        return place[len(REGION_PREFIX) :] in REGIONS
    return place in PROVINCES


def province_filter_prefixes(codes) -> list[str]:
    """What a stored province column may start with for these provinces: the spellings above
    (a query cannot normalise like `province_of`, so "Guangdong Province" and "广东省" are found
    by their start, case-insensitively)."""
    prefixes: list[str] = []
    for code in sorted(codes):
        zh, en, others = PROVINCES[code]
        prefixes.extend((zh, en, *others))
    return prefixes
