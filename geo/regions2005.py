"""The 16 first-level units of Kazakhstan in 2005, with 1999 and 2009 census populations.

As the domain brief (shared/DOMAIN.md, beside this repository) lists them.

Keyed by the ISO 3166-2 codes then in force. ``fips`` links each unit to the Natural Earth
admin-1 feature it comes from; population is in thousands (1999 and 2009 censuses). The Russian
names are the units' official names of the time (:data:`RUSSIAN_NAMES`).
"""

from __future__ import annotations

import pandas as pd

# The official Russian names of the 2005 units (Russian is an official language of Kazakhstan): the Natural Earth copy
# the boundaries come from (Debian qgis-common's world_map.gpkg) has no name_ru. Shown in their short form, as a map
# and a table write them: "Акмолинская область" -> "Акмолинская", "город Алматы" -> "Алматы (город)" (short_ru).
RUSSIAN_NAMES = {
    "KZ-ALA": "город Алматы",
    "KZ-AST": "город Астана",
    "KZ-AKM": "Акмолинская область",
    "KZ-AKT": "Актюбинская область",
    "KZ-ALM": "Алматинская область",
    "KZ-ATY": "Атырауская область",
    "KZ-VOS": "Восточно-Казахстанская область",
    "KZ-ZHA": "Жамбылская область",
    "KZ-ZAP": "Западно-Казахстанская область",
    "KZ-KAR": "Карагандинская область",
    "KZ-KUS": "Костанайская область",
    "KZ-KZY": "Кызылординская область",
    "KZ-MAN": "Мангистауская область",
    "KZ-PAV": "Павлодарская область",
    "KZ-SEV": "Северо-Казахстанская область",
    "KZ-YUZ": "Южно-Казахстанская область",
}


def short_ru(official: str) -> str:
    """The short Russian name a map or a table shows.

    >>> short_ru("Акмолинская область"), short_ru("город Алматы")
    ('Акмолинская', 'Алматы (город)')
    """
    if official.startswith("город "):
        return f"{official.removeprefix('город ')} (город)"
    return official.removesuffix(" область")


# code, English name, centre, centre lat, centre lon, pop 1999, pop 2009, Natural Earth FIPS code
_ROWS = [
    ("KZ-ALA", "Almaty (city)", "Almaty", 43.24, 76.89, 1129, 1366, "KZ02"),
    ("KZ-AST", "Astana (city)", "Astana", 51.17, 71.45, 313, 613, "KZ05"),
    ("KZ-AKM", "Akmola", "Kokshetau", 53.28, 69.40, 836, 737, "KZ03"),
    ("KZ-AKT", "Aktobe", "Aktobe", 50.28, 57.17, 683, 758, "KZ04"),
    ("KZ-ALM", "Almaty oblast", "Taldykorgan", 45.02, 78.37, 1557, 1808, "KZ01"),
    ("KZ-ATY", "Atyrau", "Atyrau", 47.12, 51.88, 440, 510, "KZ06"),
    ("KZ-VOS", "East Kazakhstan", "Oskemen", 49.95, 82.63, 1531, 1397, "KZ15"),
    ("KZ-ZHA", "Zhambyl", "Taraz", 42.90, 71.37, 989, 1022, "KZ17"),
    ("KZ-ZAP", "West Kazakhstan", "Oral", 51.23, 51.37, 617, 599, "KZ07"),
    ("KZ-KAR", "Karaganda", "Karaganda", 49.80, 73.11, 1410, 1342, "KZ12"),
    ("KZ-KUS", "Kostanay", "Kostanay", 53.21, 63.62, 1018, 886, "KZ13"),
    ("KZ-KZY", "Kyzylorda", "Kyzylorda", 44.85, 65.51, 596, 679, "KZ14"),
    ("KZ-MAN", "Mangystau", "Aktau", 43.65, 51.16, 315, 485, "KZ09"),
    ("KZ-PAV", "Pavlodar", "Pavlodar", 52.29, 76.97, 807, 742, "KZ08"),
    ("KZ-SEV", "North Kazakhstan", "Petropavl", 54.87, 69.14, 726, 597, "KZ16"),
    ("KZ-YUZ", "South Kazakhstan", "Shymkent", 42.34, 69.59, 1978, 2469, "KZ10"),
]


def regions_2005() -> pd.DataFrame:
    """Return the 16 units with an estimated 2005 population (thousands) and their Russian names (``name_ru``, short;
    ``name_ru_official``).

    The 2005 estimate is ``pop1999 + 0.68 * (pop2009 - pop1999)`` (domain brief).
    """
    df = pd.DataFrame(
        _ROWS,
        columns=["code", "name", "centre", "centre_lat", "centre_lon", "pop1999", "pop2009", "fips"],
    )
    df["pop2005"] = df["pop1999"] + 0.68 * (df["pop2009"] - df["pop1999"])
    df["name_ru_official"] = df["code"].map(RUSSIAN_NAMES)
    df["name_ru"] = df["name_ru_official"].map(short_ru)
    return df
