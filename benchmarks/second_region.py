"""A second SYNTHETIC region, built differently from the embedded one, written as user files.

Defaults tuned on the embedded region (features/synthetic.py) prove nothing about other data;
this region is where we check that they generalise. It describes no real place or people.
What differs from the embedded region, and why:

- Map: fewer, larger districts (300 by default, ~4,000 km² each, vs 600 of ~1,500 km²) as
  Voronoi cells in an irregular star-shaped outline, not a warped square grid, so districts
  have 2 to ~9 neighbours; 2 countries (not 4) split by a wavy line. Periods are years.
- Rarer events: ~5-8 % of district-years have an incident (vs ~13-20 %), and counts are
  over-dispersed (gamma-Poisson, not Poisson).
- Strong persistent district heterogeneity: a random district effect (sd 1, plus a few hot
  spots) that no covariate carries; only a district's history reveals it.
- Threshold and interaction effects: unemployment matters only where governance is weak; a
  drought matters only beyond a threshold, and irrigation dampens it.
- Contagion with a lag of two periods: incidents[t+1] depend on the neighbours' incidents of
  t-1 (across the national border too), not of t.
- Pure-noise covariates (rainfall_anomaly, livestock_density, mobile_coverage, which also
  trends upward), strongly correlated pairs (informal_work ~ unemployment, road_density ~
  -market_distance_km) whose second member has no effect, and a protected column
  (pastoralist_share, NaN for a few districts) correlated with drought and weak governance
  but with NO effect.

The structural model, simulated period by period (vectorised over districts):

    incidents[t+1] ~ NegBin(mean = exp(eta_t), shape K),
    eta_t = INTERCEPT + u_district + sum_k f_k(covariates_t)
            + B_SELF * tanh(log1p(incidents_t)) + B_CONTAGION * tanh(nb_{t-1} / NB_SCALE)

with nb_{t-1} the mean log1p(incidents_{t-1}) over queen neighbours, so the true
P(incidents[t+1] >= 1) = 1 - (1 + exp(eta_t) / K) ** -K is known for every row.

    python benchmarks/second_region.py --out DIR [--seed S] [--districts N] [--periods T]

writes panel.csv, catalog.toml, geometry.geojson, programs.toml and truth.parquet (the true
probability and every additive term of eta per row).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.second_region_files import (  # noqa: E402
    NAIVE_PROGRAM,
    PROTECTED,
    catalog_toml,
    programs_toml,
    write_text,
)
from benchmarks.second_region_map import countries, layout, provinces, to_lonlat  # noqa: E402
from features.writers import write_csv, write_geojson, write_parquet  # noqa: E402

Array = np.ndarray

COUNTRIES = ("Country East", "Country West")
CODES = ("E", "W")
START_YEAR = 2004
BURN_IN = 8  # periods simulated before the panel starts

# outcome model
INTERCEPT = -4.65
K = 0.7  # gamma-Poisson shape: smaller = more over-dispersed
SD_DISTRICT = 1.0  # persistent district effect (unobserved)
HOTSPOT_SHARE, HOTSPOT_LIFT = 0.05, 1.5
B_SELF = 0.5
B_CONTAGION, NB_SCALE = 1.8, 0.6
C = {
    "unemp_x_gov": 2.4,  # per 0.1 of unemployment above 0.15, where governance < ~0.35
    "drought_x_irrigation": 2.2,  # beyond a drought index of 1.0, times (1 - irrigation)
    "police": 0.7,
    "market": 0.45,
    "youth": 6.0,
}
EFFECTS = {
    "unemployment": f"interaction (half): {C['unemp_x_gov']} × softplus(unemployment − 0.15) "
    "/ 0.1 × sigmoid((0.35 − governance) / 0.04): matters only where governance is weak",
    "governance": "interaction (half) with unemployment",
    "drought_index": f"threshold (half): {C['drought_x_irrigation']} × sigmoid((drought_index − "
    "1.0) / 0.08) × (1 − irrigation)",
    "irrigation": "interaction (half) with drought_index: dampens droughts",
    "police_presence": f"protective, saturating: −{C['police']} × tanh((police_presence − 0.5) "
    "/ 0.15)",
    "market_distance_km": f"linear: {C['market']} × (market_distance_km − 60) / 40",
    "youth_share": f"linear: {C['youth']} × (youth_share − 0.22)",
    "informal_work": "none (correlated ~0.9 with unemployment)",
    "road_density": "none (correlated ~−0.9 with market_distance_km)",
    "mobile_coverage": "none (smooth in space, trends upward over time)",
    "rainfall_anomaly": "none (white noise)",
    "livestock_density": "none (static noise)",
    "pastoralist_share": "none (protected; correlated with drought and weak governance)",
    "district_effect": f"random: N(0, {SD_DISTRICT}²), +{HOTSPOT_LIFT} in {HOTSPOT_SHARE:.0%} "
    "of districts; in no covariate",
    "self": f"{B_SELF} × tanh(log1p(incidents_t))",
    "contagion": f"{B_CONTAGION} × tanh(mean over neighbours of log1p(incidents_(t−1)) / "
    f"{NB_SCALE}): lag of two periods to the outcome",
}
DRIVERS = (
    "unemployment",
    "governance",
    "drought_index",
    "irrigation",
    "police_presence",
    "market_distance_km",
    "youth_share",
)


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def _softplus(x: Array, scale: float) -> Array:
    return scale * np.logaddexp(0.0, x / scale)


def _standardise(x: Array, axis: int = 0) -> Array:
    return (x - x.mean(axis=axis, keepdims=True)) / (x.std(axis=axis, keepdims=True) + 1e-12)


# --------------------------------------------------------------------------------- covariates


def _fields(rng: np.random.Generator, xy: Array, length_km: float, k: int) -> Array:
    """(n, k) smooth standardised spatial fields (random Fourier features)."""
    m = 48
    freq = rng.standard_normal((m, 2)) / length_km
    basis = np.cos(xy @ freq.T + rng.uniform(0, 2 * np.pi, m))
    return _standardise(basis @ rng.standard_normal((m, k)))


def _ar1(rng: np.random.Generator, n: int, periods: int, rho: float) -> Array:
    """(n, T) unit-variance AR(1) paths."""
    out = np.empty((n, periods))
    out[:, 0] = rng.standard_normal(n)
    for t in range(1, periods):  # loop over periods, vectorised over districts
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return out


def _droughts(rng: np.random.Generator, xy: Array, periods: int, aridity: Array) -> Array:
    """(n, T) drought index: a regional drought most years, a footprint ~250 km across."""
    out = np.zeros((len(xy), periods))
    for t in range(periods):  # loop over periods
        for _ in range(rng.poisson(1.2)):
            centre = xy[rng.integers(len(xy))]
            dist = np.linalg.norm(xy - centre, axis=1)
            out[:, t] += rng.uniform(0.8, 2.2) * np.exp(-((dist / rng.uniform(150, 300)) ** 2))
    return np.clip(out + 0.25 * aridity[:, None] + 0.15 * rng.standard_normal(out.shape), 0, None)


def _covariates(
    rng: np.random.Generator, xy: Array, country: Array, periods: int
) -> dict[str, Array]:
    """Every panel covariate as an (n, T) array (the protected one included)."""
    n = len(xy)
    f = _fields(rng, xy, 250.0, 7)
    years = np.arange(periods)[None, :]
    # governance: country level, a slow field, AR(1) and a setback in one country
    gov_level = np.where(country == 0, 0.3, -0.3)[:, None]
    setback = np.zeros((n, periods))
    hit, start = rng.integers(2), rng.integers(periods // 3, periods)
    decay = 0.6 ** np.clip(years - start, 0, None) * (years >= start)
    setback[country == hit] = -1.2 * decay[0]
    gov_logit = gov_level + 0.9 * f[:, [0]] + 0.35 * _ar1(rng, n, periods, 0.8) + setback
    governance = _sigmoid(gov_logit - 0.4)
    # unemployment and its shadow, informal work (correlation ~0.9)
    unemp_z = 0.8 * f[:, [1]] + 0.6 * _ar1(rng, n, periods, 0.7) - 0.3 * f[:, [0]]
    unemployment = np.clip(0.17 + 0.06 * unemp_z, 0.01, 0.6)
    informal = 0.9 * _standardise(unemp_z, None) + np.sqrt(0.19) * rng.standard_normal((n, periods))
    informal_work = np.clip(0.45 + 0.1 * informal, 0.0, 1.0)
    police = _sigmoid(0.4 * gov_logit + 0.8 * f[:, [2]] + 0.3 * _ar1(rng, n, periods, 0.6))
    aridity = f[:, 3]
    drought = _droughts(rng, xy, periods, aridity)
    irrigation = np.clip(
        _sigmoid(-1.0 + 0.9 * f[:, [4]] - 0.3 * aridity[:, None]) + 0.006 * years, 0, 1
    )
    mobile = np.clip(_sigmoid(-0.6 + 0.9 * f[:, [5]]) + 0.025 * years, 0, 1)
    centre_dist = np.linalg.norm(xy - xy.mean(axis=0), axis=1)
    market_z = 0.6 * _standardise(centre_dist) + 0.8 * f[:, 6]
    market = 60.0 + 30.0 * market_z + 8.0 * rng.standard_normal(n)
    roads = 12.0 - 3.5 * (0.9 * _standardise(market) + np.sqrt(0.19) * rng.standard_normal(n))
    youth = 0.22 + 0.025 * _standardise(0.5 * market_z + rng.standard_normal(n))
    livestock = np.exp(0.6 * rng.standard_normal(n) + 2.0)
    pastoral = _sigmoid(-1.2 + 1.0 * aridity - 0.8 * f[:, 0] + 0.4 * rng.standard_normal(n))
    pastoral[rng.uniform(size=n) < 0.03] = np.nan  # no census figure for a few districts
    ones = np.ones((1, periods))
    return {
        "unemployment": unemployment,
        "informal_work": informal_work,
        "governance": governance,
        "police_presence": police,
        "drought_index": drought,
        "irrigation": irrigation,
        "mobile_coverage": mobile,
        "market_distance_km": np.clip(market, 5.0, None)[:, None] * ones,
        "road_density": np.clip(roads, 0.5, None)[:, None] * ones,
        "youth_share": youth[:, None] * ones,
        "rainfall_anomaly": rng.standard_normal((n, periods)),
        "livestock_density": livestock[:, None] * np.exp(0.1 * _ar1(rng, n, periods, 0.9)),
        PROTECTED: pastoral[:, None] * ones,
    }


# ---------------------------------------------------------------------------------- outcome


def _terms(x: dict[str, Array]) -> dict[str, Array]:
    """Each driver's additive term in eta for one period (interactions split equally)."""
    unemp = C["unemp_x_gov"] * _softplus(x["unemployment"] - 0.15, 0.02) / 0.1
    unemp = unemp * _sigmoid((0.35 - x["governance"]) / 0.04)
    drought = C["drought_x_irrigation"] * _sigmoid((x["drought_index"] - 1.0) / 0.08)
    drought = drought * (1.0 - x["irrigation"])
    return {
        "unemployment": unemp / 2,
        "governance": unemp / 2,
        "drought_index": drought / 2,
        "irrigation": drought / 2,
        "police_presence": -C["police"] * np.tanh((x["police_presence"] - 0.5) / 0.15),
        "market_distance_km": C["market"] * (x["market_distance_km"] - 60.0) / 40.0,
        "youth_share": C["youth"] * (x["youth_share"] - 0.22),
    }


def _draw(rng: np.random.Generator, eta: Array) -> Array:
    """Gamma-Poisson (negative binomial) counts with mean exp(eta) and shape K."""
    return rng.poisson(rng.gamma(K, np.exp(eta) / K))


def _simulate(
    rng: np.random.Generator, cov: dict[str, Array], adjacency: Array, effect: Array
) -> tuple[Array, dict[str, Array]]:
    """Incidents (n, T) and eta's terms {name: (n, T)} (eta of row t drives period t+1)."""
    n, periods = cov["unemployment"].shape
    neighbours = adjacency / np.maximum(adjacency.sum(axis=1, keepdims=True), 1)
    prev, now = np.zeros(n), np.zeros(n)

    def eta_terms(t: int) -> dict[str, Array]:
        terms = _terms({name: values[:, t] for name, values in cov.items()})
        terms["district_effect"] = effect
        terms["self"] = B_SELF * np.tanh(np.log1p(now))
        terms["contagion"] = B_CONTAGION * np.tanh(neighbours @ np.log1p(prev) / NB_SCALE)
        return terms

    for _ in range(BURN_IN):  # incidents of the panel's first period come from a burn-in
        prev, now = now, _draw(rng, INTERCEPT + sum(eta_terms(0).values()))
    incidents = np.zeros((n, periods), dtype=np.int64)
    names = (*DRIVERS, "district_effect", "self", "contagion")
    terms = {name: np.zeros((n, periods)) for name in names}
    for t in range(periods):  # loop over periods, vectorised over districts
        incidents[:, t] = now
        for name, value in eta_terms(t).items():
            terms[name][:, t] = value
        eta = INTERCEPT + sum(terms[name][:, t] for name in names)
        prev, now = now, _draw(rng, eta)
    return incidents, terms


def generate(
    seed: int = 23, n_districts: int = 300, n_periods: int = 20
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, pd.DataFrame]:
    """(panel, geometry, truth) of the second region; the same arguments give identical output."""
    if n_districts < 10 or n_periods < 3:
        raise ValueError("need n_districts >= 10 and n_periods >= 3")
    geo_rng, cov_rng, sim_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 2]).spawn(3)
    )
    cells, xy, adjacency = layout(geo_rng, n_districts)
    country = countries(geo_rng, xy)
    admin1 = provinces(geo_rng, xy, country)
    effect = SD_DISTRICT * geo_rng.standard_normal(n_districts)
    effect += HOTSPOT_LIFT * (geo_rng.uniform(size=n_districts) < HOTSPOT_SHARE)
    cov = _covariates(cov_rng, xy, country, n_periods)
    incidents, terms = _simulate(sim_rng, cov, adjacency, effect)

    order = np.lexsort((-xy[:, 1], xy[:, 0], country))  # west to east within each country
    within = np.empty(n_districts, dtype=int)
    for c in (0, 1):
        members = order[country[order] == c]
        within[members] = np.arange(len(members))
    codes = np.array(CODES)[country]
    ids = np.array([f"{codes[i]}{within[i] + 1:03d}" for i in range(n_districts)])
    _, admin_rank = np.unique(admin1, return_inverse=True)
    labels = pd.DataFrame(
        {
            "district_id": ids,
            "country": np.array(COUNTRIES)[country],
            "admin1": [f"Province {codes[i]}{admin_rank[i] + 1}" for i in range(n_districts)],
            "district_name": [f"District {ids[i]}" for i in range(n_districts)],
        }
    )
    periods = START_YEAR + np.arange(n_periods)

    def long(columns: dict[str, Array], frame: pd.DataFrame) -> pd.DataFrame:
        keys = frame.loc[frame.index.repeat(n_periods)].reset_index(drop=True)
        keys.insert(1, "period", np.tile(periods, len(frame)).astype(np.int64))
        return keys.assign(**{k: v.ravel() for k, v in columns.items()})

    panel = long({"incidents": incidents, **cov}, labels)
    eta = INTERCEPT + sum(terms.values())
    truth = long(
        {
            "oracle_prob": 1.0 - (1.0 + np.exp(eta) / K) ** -K,
            "eta": eta,
            "intercept": np.full_like(eta, INTERCEPT),
            **{f"term_{k}": v for k, v in terms.items()},
        },
        labels[["district_id"]],
    )
    geometry = gpd.GeoDataFrame(
        {"district_id": ids, "country": labels["country"]},
        geometry=to_lonlat(cells),
        crs="EPSG:4326",
    )
    panel = panel.sort_values(["district_id", "period"], kind="stable").reset_index(drop=True)
    truth = truth.sort_values(["district_id", "period"], kind="stable").reset_index(drop=True)
    geometry = geometry.sort_values("district_id").reset_index(drop=True)
    return panel, geometry, truth


def write_second_region(
    out_dir: str | Path, seed: int = 23, n_districts: int = 300, n_periods: int = 20
) -> dict[str, Path]:
    """Write the region's user files into `out_dir`; returns {name: path} for panel, catalog,
    geometry, programs and truth."""
    out = Path(out_dir)
    panel, geometry, truth = generate(seed, n_districts, n_periods)
    return {
        "panel": write_csv(out / "panel.csv", panel),
        "catalog": write_text(out / "catalog.toml", catalog_toml(seed, EFFECTS)),
        "geometry": write_geojson(out / "geometry.geojson", geometry),
        "programs": write_text(out / "programs.toml", programs_toml(EFFECTS)),
        "truth": write_parquet(out / "truth.parquet", truth),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--districts", type=int, default=300)
    parser.add_argument("--periods", type=int, default=20)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    paths = write_second_region(args.out, args.seed, args.districts, args.periods)
    panel = pd.read_csv(paths["panel"])
    print(
        f"{len(panel)} rows, {panel['district_id'].nunique()} districts, "
        f"{(panel['incidents'] >= 1).mean():.1%} with an incident; "
        f"{time.perf_counter() - start:.1f} s"
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    print(f'train with --set targeting.naive_program="{NAIVE_PROGRAM}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
