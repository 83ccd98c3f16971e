"""Covariates of the synthetic region: smooth spatial fields, country effects, slow AR(1)
change, trends and shocks (an insurgency front, coups, labour-market shocks, disasters)."""

from __future__ import annotations

import numpy as np

from features.synthetic_geometry import Layout, fourier_basis, smooth_fields

Array = np.ndarray
SPREAD_KM = 50.0  # advance of the insurgency front per period
CRISIS_FLOOR = 0.4  # protracted crisis intensity, relative to the peak
STATE_TREND = 0.03  # yearly change of state presence (logit)


def _sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def _ar1(rng: np.random.Generator, basis: Array, n_periods: int, rho: float, sd: float) -> Array:
    """(n, T) stationary AR(1) deviations whose innovations are half spatial, half local."""
    n = basis.shape[0]
    spatial = basis @ rng.standard_normal((basis.shape[1], n_periods))
    shocks = np.sqrt(0.5) * spatial + np.sqrt(0.5) * rng.standard_normal((n, n_periods))
    out = np.empty((n, n_periods))
    out[:, 0] = shocks[:, 0]
    for t in range(1, n_periods):  # loop over periods, vectorised over districts
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * shocks[:, t]
    return sd * out


def _standardise(x: Array) -> Array:
    return (x - x.mean()) / (x.std() + 1e-12)


def _country_effects(rng: np.random.Generator, n_countries: int, sd: float) -> Array:
    """Evenly spread country effects with standard deviation `sd`, in random order."""
    levels = np.linspace(-1.0, 1.0, n_countries)
    return rng.permutation(sd * levels / max(levels.std(), 1e-12))


def _latents(rng: np.random.Generator, lay: Layout, n_countries: int) -> dict[str, Array]:
    """Static district traits: remoteness, development, minority share, ruggedness, ..."""
    fields = smooth_fields(fourier_basis(rng, lay.xy_km, 180.0), rng, 5)
    d_capital = np.linalg.norm(lay.xy_km - lay.xy_km[lay.capital[lay.country]], axis=1)
    remote = _standardise(0.7 * _standardise(d_capital) + 0.5 * fields[:, 0])
    near_border = np.exp(-lay.border_km / 60.0)
    minority = _sigmoid(-1.6 + 2.2 * fields[:, 1] + 0.6 * remote + 1.0 * near_border)
    country_dev = _country_effects(rng, n_countries, 0.4)[lay.country]
    dev = country_dev + 0.5 * fields[:, 2] - 0.4 * remote - 0.3 * _standardise(minority)
    return {
        "remote": remote,
        "near_border": near_border,
        "minority": minority,
        "dev": dev,
        "country_gov": _country_effects(rng, n_countries, 0.5)[lay.country],
        "rugged": _sigmoid(-1.0 + 1.6 * fields[:, 3] + 0.3 * remote),
        "urban": np.exp(-d_capital / 45.0),
        "local": fields[:, 4],
    }


def _crisis(rng: np.random.Generator, lay: Layout, lat: dict[str, Array], n_periods: int) -> Array:
    """(n, T) intensity of an insurgency that spreads from one peripheral district.

    The front advances ~SPREAD_KM a period regardless of borders; behind it intensity settles
    to a protracted level. Remote districts are more susceptible.
    """
    periphery = np.flatnonzero(lat["remote"] > np.quantile(lat["remote"], 0.8))
    origin = lay.xy_km[rng.choice(periphery)]
    arrival = round(0.2 * n_periods) + np.linalg.norm(lay.xy_km - origin, axis=1) / SPREAD_KM
    k = np.arange(n_periods)[None, :] - arrival[:, None]
    profile = _sigmoid(3.0 * k) * (CRISIS_FLOOR + (1 - CRISIS_FLOOR) * 0.7 ** np.maximum(k, 0.0))
    return _sigmoid(1.2 * lat["remote"] + 0.5)[:, None] * profile


def _governance_shocks(rng: np.random.Generator, country: Array, n_periods: int) -> Array:
    """(n, T) country-wide governance setbacks (e.g. coups) that fade over a few periods."""
    n_countries = int(country.max()) + 1
    hit = rng.uniform(size=(n_countries, n_periods)) < 0.08
    shock = np.zeros((n_countries, n_periods))
    for t in range(n_periods):  # loop over periods
        shock[:, t] = (0.6 * shock[:, t - 1] if t else 0.0) + 1.0 * hit[:, t]
    return shock[country]


def _economic_shocks(rng: np.random.Generator, country: Array, n_periods: int) -> Array:
    """(n, T) one decaying labour-market shock per country at a random period."""
    n_countries = int(country.max()) + 1
    start = rng.integers(0, n_periods, n_countries)
    size = rng.uniform(0.5, 1.0, n_countries)
    k = np.arange(n_periods)[None, :] - start[:, None]
    shock = np.where(k < 0, 0.0, size[:, None] * 0.6 ** np.maximum(k, 0))
    return shock[country]


def _disasters(rng: np.random.Generator, xy: Array, n_periods: int) -> Array:
    """(n, T) displaced per 1,000 from floods/droughts: clustered spikes that decay."""
    base = rng.lognormal(0.3, 0.6, xy.shape[0])
    stock = np.zeros(xy.shape[0])
    out = np.empty((xy.shape[0], n_periods))
    for t in range(n_periods):  # loop over periods
        n_events = rng.poisson(2.5)
        centre = xy[rng.integers(0, xy.shape[0], n_events)]
        size = rng.lognormal(3.3, 0.7, n_events)
        d2 = ((xy[:, None, :] - centre[None, :, :]) ** 2).sum(-1)
        stock = 0.45 * stock + (size * np.exp(-d2 / (2 * 70.0**2))).sum(axis=1)
        out[:, t] = base + stock
    return out


def covariates(
    rng: np.random.Generator, lay: Layout, n_countries: int, n_periods: int
) -> dict[str, Array]:
    """Every covariate as an (n, T) array; `displacement` lacks its conflict-driven part.

    Each covariate mixes shared latent traits (development, remoteness, minority share), a
    smooth field of its own, slow AR(1) change, trends, and the crisis and shocks.
    """
    lat = _latents(rng, lay, n_countries)
    basis = fourier_basis(rng, lay.xy_km, 120.0)
    static_basis = fourier_basis(rng, lay.xy_km, 150.0)
    year = np.arange(n_periods)[None, :]
    crisis = _crisis(rng, lay, lat, n_periods)
    dev, remote = lat["dev"][:, None], lat["remote"][:, None]
    minz, urban = _standardise(lat["minority"])[:, None], lat["urban"][:, None]

    def ar(rho: float, sd: float) -> Array:
        return _ar1(rng, basis, n_periods, rho, sd)

    def own(sd: float) -> Array:
        return sd * smooth_fields(static_basis, rng, 1)

    pov_logit = -0.3 - 0.5 * dev + own(0.4) - 0.02 * year + 0.6 * crisis + ar(0.6, 0.6)
    gov_logit = lat["country_gov"][:, None] - 0.3 * remote + own(0.3) + ar(0.85, 0.3)
    gov_logit = gov_logit - 0.6 * crisis - _governance_shocks(rng, lay.country, n_periods)
    economy = _economic_shocks(rng, lay.country, n_periods)
    return {
        "poverty": _sigmoid(pov_logit),
        "youth_unemployment": _sigmoid(
            -1.4 + 0.2 * pov_logit + own(0.4) + economy + 0.6 * crisis + ar(0.6, 0.5)
        ),
        "school_enrolment": _sigmoid(
            0.3 + 0.3 * dev + own(0.5) - 0.2 * minz + 0.05 * year - 1.2 * crisis + ar(0.8, 0.35)
        ),
        "literacy": _sigmoid(0.1 + 0.6 * dev + own(0.3) + 0.03 * year + ar(0.95, 0.15)),
        "health_access": _sigmoid(
            0.4 + 0.4 * dev - 0.4 * remote + own(0.4) + 0.03 * year - 0.5 * crisis + ar(0.9, 0.25)
        ),
        "electricity_access": _sigmoid(
            -1.2 + 0.8 * dev + 1.5 * urban + own(0.3) + 0.08 * year + ar(0.9, 0.2)
        ),
        "governance_quality": _sigmoid(gov_logit),
        "corruption": _sigmoid(0.2 - 0.8 * gov_logit + own(0.4) + ar(0.85, 0.25)),
        "state_presence": _sigmoid(
            1.0
            - 0.5 * remote
            + own(0.4)
            - 0.3 * minz
            + 0.3 * gov_logit
            - 2.5 * crisis
            + STATE_TREND * year
            + ar(0.7, 0.5)
        ),
        "population_density": 2.8
        + 0.4 * dev
        + 3.0 * urban
        + own(0.7)
        + 0.025 * year
        + ar(0.98, 0.05),
        "youth_bulge": 0.22 + 0.15 * _sigmoid(-0.8 * dev + own(0.3) + 0.02 * year + ar(0.95, 0.2)),
        "displacement": _disasters(rng, lay.xy_km, n_periods) + 40.0 * crisis,
        "distance_to_border_km": np.repeat(lay.border_km[:, None], n_periods, axis=1),
        "terrain_ruggedness": np.repeat(lat["rugged"][:, None], n_periods, axis=1),
        "minority_share": np.clip(lat["minority"][:, None] + ar(0.95, 0.02), 0.0, 1.0),
    }


# Structural coefficients (log-rate scale); EFFECTS spells out each driver's term.


# How a shared latent factor moves each covariate's logit at confounding strength 1 (per sd):
# it worsens the actionable covariates and raises the non-actionable drivers together.
CONFOUNDING_LOADINGS = {
    "poverty": 1.2,
    "youth_unemployment": 1.0,
    "school_enrolment": -1.0,
    "governance_quality": -0.8,
    "youth_bulge": 2.0,  # non-actionable
    "terrain_ruggedness": 1.5,  # non-actionable, static: moved by the factor's static part
}


def _logit(p: Array) -> Array:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def confound(
    rng: np.random.Generator, lay: Layout, cov: dict[str, Array], strength: float
) -> dict[str, Array]:
    """Covariates with a shared latent factor mixed in at `strength` in [0, 1]: a standardised
    static smooth field plus slow AR(1) change, added to each CONFOUNDING_LOADINGS covariate's
    logit (youth_bulge's 0.22 + 0.15 x sigmoid form: to that sigmoid's logit). The structural
    model does not see the factor, so it correlates actionable covariates with
    non-actionable drivers without changing any effect. Strength 0 returns `cov` unchanged
    (and draws nothing)."""
    if strength == 0:
        return cov
    n_periods = cov["poverty"].shape[1]
    static = smooth_fields(fourier_basis(rng, lay.xy_km, 150.0), rng, 1)
    factor = static + _ar1(rng, fourier_basis(rng, lay.xy_km, 120.0), n_periods, 0.8, 0.5)
    factor = _standardise(factor)
    out = dict(cov)
    for name, loading in CONFOUNDING_LOADINGS.items():
        shift = strength * loading * (static if name == "terrain_ruggedness" else factor)
        if name == "youth_bulge":
            inner = _logit((cov[name] - 0.22) / 0.15)
            out[name] = 0.22 + 0.15 * _sigmoid(inner + shift)
        else:
            out[name] = _sigmoid(_logit(cov[name]) + shift)
    return out
