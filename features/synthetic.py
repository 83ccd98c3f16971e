"""The embedded default data: a seeded SYNTHETIC transnational region with known ground truth.

Nothing here describes a real place or real people. Covariates are smooth spatial fields plus
country effects, slow AR(1) change, trends and shocks (an insurgency that spreads across
borders from a peripheral district and hollows out state presence, coups, labour-market shocks,
displacement spikes). Incidents follow a known structural model, simulated period by period
(vectorised over districts):

    incidents[t+1] ~ Poisson(exp(eta_t)),
    eta_t = INTERCEPT + sum_k f_k(covariates_t) + g(hist_decay_t) + h(hist_spatial_t)

with hist_decay_t = log1p(incidents_t) + 0.5 * hist_decay_{t-1} (0 before the first period)
and hist_spatial_t the mean of log1p(incidents_t) over queen neighbours (across borders too),
exactly as `features.build` derives them. So the oracle P(incidents[t+1] >= 1) =
1 - exp(-exp(eta_t)) is known for every row, and so is every driver's additive term in eta_t
(interactions split equally); EFFECTS states each term. `minority_share` is protected:
correlated with poverty, services and state presence, but with no effect on incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from features.synthetic_covariates import confound, covariates
from features.synthetic_geometry import build_layout, place_labels

DECAY = 0.5  # must equal features.build.DECAY
BURN_IN = 6  # periods simulated before the panel starts (period-0 incidents)
FLIGHT = 2.0  # displaced per 1,000 per unit of log1p(incidents) in the district
INTERCEPT = -4.3
B_DECAY, B_SPATIAL = 0.2, 0.25
HIST_SAT = 4.0  # history effects saturate (escalation does not run away)
PROTECTED = ("minority_share",)
COVARIATES = (
    "poverty",
    "youth_unemployment",
    "school_enrolment",
    "literacy",
    "health_access",
    "electricity_access",
    "governance_quality",
    "corruption",
    "state_presence",
    "population_density",
    "youth_bulge",
    "displacement",
    "distance_to_border_km",
    "terrain_ruggedness",
    "minority_share",
)
DRIVERS = tuple(c for c in COVARIATES if c not in PROTECTED)
HISTORY = ("hist_decay", "hist_spatial")

Array = np.ndarray


@dataclass(frozen=True)
class SyntheticRegion:
    """A synthetic region and its truth; rows of every frame are sorted by (district_id, period).

    `oracle.oracle_prob` is the true P(incidents[t+1] >= 1 | everything known at t) (defined for
    every row) and `oracle.eta` its log-rate; `contributions` holds each driver's additive term
    in eta (plus `intercept`), summing to `eta`. `adjacency` is the binary queen adjacency
    (csr), rows and columns ordered like `geometry` (sorted district_id). `drivers` are the
    model-eligible covariates (each has a contributions column; decoys' terms are zero),
    `protected` the audit-only ones, `effects` the true functional form of every term.
    """

    panel: pd.DataFrame
    geometry: gpd.GeoDataFrame
    oracle: pd.DataFrame
    contributions: pd.DataFrame
    adjacency: sparse.csr_matrix
    drivers: tuple[str, ...] = DRIVERS
    protected: tuple[str, ...] = PROTECTED
    seed: int = 7
    effects: dict[str, str] = field(default_factory=dict)


def _softplus(x: Array, scale: float) -> Array:
    """Smooth hinge max(x, 0) with a bend of width `scale`."""
    return scale * np.logaddexp(0.0, x / scale)


COEF = {
    "poverty": 3.5,
    "youth_x_state": 3.2,
    "governance_x_border": 2.2,
    "school_enrolment": 0.6,
    "population_density": 0.06,
    "displacement": 0.9,
    "terrain_ruggedness": 0.4,
    "corruption": 0.6,
    "youth_bulge": 3.0,
}
EFFECTS = {
    "poverty": f"smooth threshold: +{COEF['poverty']} per unit of poverty above 0.40",
    "youth_unemployment": f"interaction (half): {COEF['youth_x_state']} × "
    "tanh((youth_unemployment − 0.15) / 0.25) × (1 − state_presence)",
    "state_presence": "interaction (half) with youth_unemployment: low presence amplifies it",
    "governance_quality": f"interaction (half): {COEF['governance_x_border']} × "
    "(1 − governance_quality) × exp(−distance_to_border_km / 80)",
    "distance_to_border_km": "interaction (half) with governance_quality",
    "school_enrolment": f"protective, saturating: −{COEF['school_enrolment']} × "
    "tanh((school_enrolment − 0.55) / 0.15)",
    "population_density": f"U-shaped: {COEF['population_density']} × (population_density − 3.5)²",
    "displacement": f"saturating: {COEF['displacement']} × log(1 + displacement / 10)",
    "terrain_ruggedness": f"linear: {COEF['terrain_ruggedness']} × (terrain_ruggedness − 0.3)",
    "corruption": f"linear: {COEF['corruption']} × (corruption − 0.5)",
    "youth_bulge": f"linear: {COEF['youth_bulge']} × (youth_bulge − 0.29)",
    "health_access": "none (a decoy correlated with development and remoteness)",
    "literacy": "none (a decoy correlated with school enrolment)",
    "electricity_access": "none (a decoy correlated with development)",
    "hist_decay": f"saturating: {B_DECAY} × {HIST_SAT} × tanh(hist_decay / {HIST_SAT})",
    "hist_spatial": f"saturating: {B_SPATIAL} × {HIST_SAT} × tanh(hist_spatial / {HIST_SAT}) "
    "(spillover, across borders too)",
}


def structural_terms(
    x: dict[str, Array], hist_decay: Array, hist_spatial: Array
) -> dict[str, Array]:
    """Each driver's additive term in eta for one period (interactions split equally).

    `x` maps covariate names to (n,) values of that period; see EFFECTS for the forms.
    """
    c = COEF
    youth = c["youth_x_state"] * np.tanh((x["youth_unemployment"] - 0.15) / 0.25)
    youth = youth * (1.0 - x["state_presence"])
    border = c["governance_x_border"] * (1.0 - x["governance_quality"])
    border = border * np.exp(-x["distance_to_border_km"] / 80.0)
    terms = {
        "poverty": c["poverty"] * _softplus(x["poverty"] - 0.4, 0.05),
        "youth_unemployment": youth / 2,
        "state_presence": youth / 2,
        "governance_quality": border / 2,
        "distance_to_border_km": border / 2,
        "school_enrolment": -c["school_enrolment"] * np.tanh((x["school_enrolment"] - 0.55) / 0.15),
        "population_density": c["population_density"] * (x["population_density"] - 3.5) ** 2,
        "displacement": c["displacement"] * np.log1p(x["displacement"] / 10.0),
        "terrain_ruggedness": c["terrain_ruggedness"] * (x["terrain_ruggedness"] - 0.3),
        "corruption": c["corruption"] * (x["corruption"] - 0.5),
        "youth_bulge": c["youth_bulge"] * (x["youth_bulge"] - 0.29),
        "hist_decay": B_DECAY * HIST_SAT * np.tanh(hist_decay / HIST_SAT),
        "hist_spatial": B_SPATIAL * HIST_SAT * np.tanh(hist_spatial / HIST_SAT),
    }
    none = np.zeros_like(hist_decay)
    return {name: terms.get(name, none) for name in (*DRIVERS, *HISTORY)}


@dataclass
class _History:
    """Conflict state carried between periods (all (n,) arrays)."""

    decay: Array
    displaced: Array  # conflict-driven displacement per 1,000, decaying


def _step(
    cov: dict[str, Array], t: int, counts: Array, state: _History, neighbours: sparse.csr_matrix
) -> tuple[dict[str, Array], dict[str, Array]]:
    """Update the state with period-t counts; return (covariates at t, terms of eta_t)."""
    logs = np.log1p(counts)
    spatial = neighbours @ logs
    state.decay = logs + DECAY * state.decay
    state.displaced = 0.5 * state.displaced + FLIGHT * (logs + 0.5 * spatial)
    x = {name: values[:, t] for name, values in cov.items()}
    x["displacement"] = x["displacement"] + state.displaced
    return x, structural_terms(x, state.decay, spatial)


def _simulate(
    rng: np.random.Generator, cov: dict[str, Array], queen: sparse.csr_matrix
) -> tuple[Array, Array, dict[str, Array]]:
    """Incidents (n, T), displacement (n, T) and eta terms {name: (n, T)}, period by period."""
    n, n_periods = cov["poverty"].shape
    degree = np.asarray(queen.sum(axis=1)).ravel()
    neighbours = sparse.diags(1.0 / np.maximum(degree, 1)) @ queen
    state = _History(np.zeros(n), np.zeros(n))
    counts = np.zeros(n, dtype=np.int64)
    for _ in range(BURN_IN):  # period-0 incidents come from a burn-in at period-0 covariates
        _, terms = _step(cov, 0, counts, state, neighbours)
        counts = rng.poisson(np.exp(INTERCEPT + sum(terms.values())))
    state.decay = np.zeros(n)  # hist_decay starts with the panel, as the feature builder's does
    incidents = np.zeros((n, n_periods), dtype=np.int64)
    displacement = np.zeros((n, n_periods))
    contributions = {name: np.zeros((n, n_periods)) for name in (*DRIVERS, *HISTORY)}
    for t in range(n_periods):  # loop over periods, vectorised over districts
        incidents[:, t] = counts
        x, terms = _step(cov, t, counts, state, neighbours)
        displacement[:, t] = x["displacement"]
        for name, value in terms.items():
            contributions[name][:, t] = value
        counts = rng.poisson(np.exp(INTERCEPT + sum(terms.values())))
    return incidents, displacement, contributions


def _long(labels: pd.DataFrame, periods: Array, columns: dict[str, Array]) -> pd.DataFrame:
    """Frame with one row per (district, period), district-major; `columns` are (n, T)."""
    keys = labels.loc[labels.index.repeat(len(periods))].reset_index(drop=True)
    keys.insert(1, "period", np.tile(periods, len(labels)).astype(np.int64))
    return keys.assign(**{name: values.ravel() for name, values in columns.items()})


def generate_region(
    n_districts: int = 600,
    n_periods: int = 18,
    n_countries: int = 4,
    seed: int = 7,
    start_year: int = 2005,
    confounding: float = 0.0,
) -> SyntheticRegion:
    """Generate the synthetic region; the same arguments always give identical output.

    Periods are the years start_year .. start_year + n_periods - 1. Every frame is sorted by
    (district_id, period); geometry and adjacency follow sorted district_id. `confounding`
    in [0, 1] mixes a hidden shared factor into actionable covariates and non-actionable
    drivers (`synthetic_covariates.confound`); 0 is the region without it, draw for draw.
    """
    if n_countries < 1 or n_districts < 2 * n_countries or n_periods < 1:
        raise ValueError("need n_countries >= 1, n_districts >= 2 * n_countries, n_periods >= 1")
    if not 0 <= confounding <= 1:
        raise ValueError(f"confounding must be in [0, 1], not {confounding}")
    # a fifth stream for the confounder: spawned children do not depend on how many are spawned
    geo_rng, cov_rng, sim_rng, name_rng, confound_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    lay = build_layout(geo_rng, n_districts, n_countries)
    cov = covariates(cov_rng, lay, n_countries, n_periods)
    cov = confound(confound_rng, lay, cov, confounding)
    incidents, displacement, terms = _simulate(sim_rng, cov, lay.queen)
    cov["displacement"] = displacement
    order, labels = place_labels(name_rng, lay)
    periods = start_year + np.arange(n_periods)
    ids = labels[["district_id"]]
    panel = _long(
        labels, periods, {"incidents": incidents[order], **{c: cov[c][order] for c in COVARIATES}}
    )
    terms = {name: values[order] for name, values in terms.items()}
    eta = INTERCEPT + sum(terms.values())
    contributions = _long(ids, periods, {"intercept": np.full_like(eta, INTERCEPT), **terms})
    oracle = _long(ids, periods, {"oracle_prob": -np.expm1(-np.exp(eta)), "eta": eta})
    geometry = gpd.GeoDataFrame(
        {"district_id": labels["district_id"]}, geometry=lay.polygons[order], crs="EPSG:4326"
    )
    adjacency = lay.queen[order][:, order].tocsr()
    return SyntheticRegion(
        panel, geometry, oracle, contributions, adjacency, seed=seed, effects=dict(EFFECTS)
    )
