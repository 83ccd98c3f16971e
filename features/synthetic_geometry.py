"""Map of the synthetic region: district polygons, countries, provinces, names, smooth fields.

Districts are quadrilaterals cut from one jittered vertex grid, so neighbours share edges and
corners exactly (queen contiguity = the grid's 8-neighbourhood). Countries and provinces
(admin1) are contiguous blocks grown from random seeds. The region sits in the open South
Atlantic and its names are random syllables, so it cannot be mistaken for a real place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

LON0, LAT0 = -27.5, -26.0  # south-west corner of the region (open ocean: fictitious)
CELL_DEG = 0.35  # district size in degrees (~35-40 km) for REFERENCE_DISTRICTS districts
REFERENCE_DISTRICTS = 600  # the region keeps its extent: more districts make smaller ones
JITTER = 0.22  # vertex jitter, in cells (keeps every quadrilateral simple)
ASPECT = 1.5  # columns per row of the grid
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQUATOR = 111.32
SYLLABLES = np.array(
    "ka lo ma ri tu ne sa bo di ra ku ze mi ta no le ga fu si ya mo ba ke ru wa jo".split()
)


@dataclass(frozen=True)
class Layout:
    """District polygons and their static spatial attributes, in grid order.

    `rook` and `queen` are binary csr adjacencies (edge-sharing; edge- or corner-sharing),
    `xy_km` centroids on a local plane in km, `country`/`admin1` integer labels, `capital`
    one district index per country.
    """

    polygons: np.ndarray
    lonlat: np.ndarray
    xy_km: np.ndarray
    rook: sparse.csr_matrix
    queen: sparse.csr_matrix
    country: np.ndarray
    admin1: np.ndarray
    admin1_country: np.ndarray
    capital: np.ndarray
    border_km: np.ndarray


def grid_shape(n_districts: int) -> tuple[int, int]:
    """(rows, columns) of the smallest ~ASPECT-shaped grid holding `n_districts` cells."""
    rows = max(1, round(float(np.sqrt(n_districts / ASPECT))))
    return rows, int(np.ceil(n_districts / rows))


def _vertices(rng: np.random.Generator, rows: int, cols: int, cell: float) -> np.ndarray:
    """(rows+1, cols+1, 2) lon/lat vertices: a jittered grid under a gentle smooth warp."""
    r, c = np.meshgrid(np.arange(rows + 1.0), np.arange(cols + 1.0), indexing="ij")
    c = c + rng.uniform(-JITTER, JITTER, c.shape)
    r = r + rng.uniform(-JITTER, JITTER, r.shape)
    phase = rng.uniform(0, 2 * np.pi, 2)
    c_warp = c + 0.6 * np.sin(r / max(rows, 1) * np.pi + phase[0])
    r_warp = r + 0.6 * np.sin(c / max(cols, 1) * 2 * np.pi + phase[1])
    return np.stack([LON0 + cell * c_warp, LAT0 + cell * r_warp], axis=-1)


def _cells(rows: int, cols: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the first `n` cells (row-major; the top row may be partial)."""
    index = np.arange(n)
    return index // cols, index % cols


def _adjacency(
    row: np.ndarray, col: np.ndarray, shape: tuple[int, int], queen: bool
) -> sparse.csr_matrix:
    """Binary adjacency of grid cells: 4-neighbourhood (rook) or 8-neighbourhood (queen)."""
    n = len(row)
    index = np.full((shape[0] + 2, shape[1] + 2), -1)  # padded so offsets never wrap
    index[row + 1, col + 1] = np.arange(n)
    steps = [(0, 1), (1, 0), (1, 1), (1, -1)] if queen else [(0, 1), (1, 0)]
    other = np.stack([index[row + 1 + dr, col + 1 + dc] for dr, dc in steps])
    cell = np.broadcast_to(np.arange(n), other.shape)
    has = other >= 0
    i, j = cell[has], other[has]
    data = np.ones(2 * len(i))
    return sparse.csr_matrix((data, (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def _to_km(lonlat: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Local equirectangular projection (km) around `centre` (lon, lat)."""
    scale = np.array([KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(centre[1])), KM_PER_DEG_LAT])
    return (lonlat - centre) * scale


def grow_regions(
    rng: np.random.Generator,
    adjacency: sparse.csr_matrix,
    seeds: np.ndarray,
    group: np.ndarray | None = None,
    seed_group: np.ndarray | None = None,
) -> np.ndarray:
    """Label every cell with a seed index by random contiguous growth along `adjacency`.

    A cell only joins labels whose seed has the same `group` (e.g. provinces inside their
    country); small labels grow faster, so sizes stay comparable. Each label is contiguous by
    construction. Loops over growth rounds, not cells.
    """
    n, k = adjacency.shape[0], len(seeds)
    labels = np.full(n, -1)
    labels[seeds] = np.arange(k)
    allowed = np.ones((n, k), bool) if group is None else group[:, None] == seed_group[None, :]
    while (labels < 0).any():
        onehot = sparse.csr_matrix(
            (np.ones(int((labels >= 0).sum())), (np.flatnonzero(labels >= 0), labels[labels >= 0])),
            shape=(n, k),
        )
        weight = np.asarray((adjacency @ onehot).todense()) * allowed
        size = np.bincount(labels[labels >= 0], minlength=k)
        weight *= rng.uniform(0.0, 1.0, weight.shape) ** 2 / size[None, :] ** 2  # balance sizes
        choice = weight.argmax(axis=1)
        accept = 0.6 * np.minimum(1.0, size.min() / size[choice])
        grow = (labels < 0) & (weight.sum(axis=1) > 0) & (rng.uniform(size=n) < accept)
        labels[grow] = choice[grow]
    return labels


def _spread_seeds(rng: np.random.Generator, xy: np.ndarray, k: int, pool: np.ndarray) -> np.ndarray:
    """`k` well-spread cells of `pool`: farthest-point sampling from a random start."""
    chosen = [int(rng.choice(pool))]
    for _ in range(k - 1):  # loop over seeds
        dist = np.min(np.linalg.norm(xy[pool, None] - xy[None, chosen], axis=-1), axis=1)
        chosen.append(int(pool[np.argmax(dist * rng.uniform(0.7, 1.0, len(pool)))]))
    return np.array(chosen)


def _border_km(
    verts_km: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    country: np.ndarray,
    xy: np.ndarray,
    rook: sparse.csr_matrix,
) -> np.ndarray:
    """Distance (km) from each centroid to the nearest edge shared by two countries."""
    i, j = sparse.triu(rook).nonzero()
    cross = country[i] != country[j]
    i, j = i[cross], j[cross]
    if len(i) == 0:
        return np.full(len(row), 500.0)
    horizontal = row[i] == row[j]  # neighbours side by side share a vertical edge
    r0, c0 = np.minimum(row[i], row[j]), np.minimum(col[i], col[j])
    start = np.where(horizontal[:, None], verts_km[r0, c0 + 1], verts_km[r0 + 1, c0])
    end = np.where(horizontal[:, None], verts_km[r0 + 1, c0 + 1], verts_km[r0 + 1, c0 + 1])
    lines = shapely.multilinestrings(shapely.linestrings(np.stack([start, end], axis=1)))
    return shapely.distance(shapely.points(xy), lines)


def build_layout(
    rng: np.random.Generator, n_districts: int, n_countries: int, admin1_size: int = 25
) -> Layout:
    """Polygons, adjacencies, countries, provinces, capitals and border distances."""
    rows, cols = grid_shape(n_districts)
    verts = _vertices(rng, rows, cols, CELL_DEG * np.sqrt(REFERENCE_DISTRICTS / n_districts))
    row, col = _cells(rows, cols, n_districts)
    corners = np.stack(
        [verts[row, col], verts[row, col + 1], verts[row + 1, col + 1], verts[row + 1, col]],
        axis=1,
    )
    polygons = shapely.polygons(corners)
    lonlat = shapely.get_coordinates(shapely.centroid(polygons))
    centre = verts.reshape(-1, 2).mean(axis=0)
    verts_km, xy = _to_km(verts, centre), _to_km(lonlat, centre)
    rook = _adjacency(row, col, (rows, cols), queen=False)
    queen = _adjacency(row, col, (rows, cols), queen=True)
    everyone = np.arange(n_districts)
    country_seeds = _spread_seeds(rng, xy, n_countries, everyone)
    country = grow_regions(rng, rook, country_seeds)
    sizes = np.bincount(country, minlength=n_countries)
    per_country = [max(min(2, int(s)), round(int(s) / admin1_size)) for s in sizes]
    admin_seeds = np.concatenate(
        [_spread_seeds(rng, xy, k, np.flatnonzero(country == c)) for c, k in enumerate(per_country)]
    )
    admin_country = np.repeat(np.arange(n_countries), per_country)
    admin1 = grow_regions(rng, rook, admin_seeds, country, admin_country)
    capital = np.array([rng.choice(admin_seeds[admin_country == c]) for c in range(n_countries)])
    border = _border_km(verts_km, row, col, country, xy, rook)
    return Layout(
        polygons, lonlat, xy, rook, queen, country, admin1, admin_country, capital, border
    )


def fourier_basis(
    rng: np.random.Generator, xy: np.ndarray, length_km: float, m: int = 64
) -> np.ndarray:
    """(n, m) random Fourier features: basis @ N(0, 1) weights is a smooth unit-variance field."""
    freq = rng.standard_normal((m, 2)) / length_km
    phase = rng.uniform(0, 2 * np.pi, m)
    return np.sqrt(2.0 / m) * np.cos(xy @ freq.T + phase)


def smooth_fields(basis: np.ndarray, rng: np.random.Generator, k: int) -> np.ndarray:
    """(n, k) smooth fields, each standardised to mean 0 and sd 1 over the districts."""
    values = basis @ rng.standard_normal((basis.shape[1], k))
    return (values - values.mean(axis=0)) / values.std(axis=0)


def _names(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct fictitious place names of two to four random syllables."""
    names: dict[str, None] = {}
    while len(names) < count:  # a few rounds at most: ~475,000 names are possible
        size = 2 * (count - len(names)) + 30
        parts = rng.choice(SYLLABLES, (size, 4))
        length = rng.choice([2, 3, 3, 4], size)
        fresh = ("".join(p[:k]).capitalize() for p, k in zip(parts, length, strict=True))
        names.update(dict.fromkeys(fresh))
    return list(names)[:count]


def place_labels(rng: np.random.Generator, lay: Layout) -> tuple[np.ndarray, pd.DataFrame]:
    """Order of districts by (country, admin1, grid) and their id/name labels in that order."""
    order = np.lexsort((np.arange(len(lay.country)), lay.admin1, lay.country))
    country = lay.country[order]
    n_countries = int(lay.country.max()) + 1
    within = np.arange(len(order)) - np.searchsorted(country, country)
    width, digits = len(str(n_countries)), max(4, len(str(int(within.max()) + 1)))
    names = _names(rng, len(order) + len(lay.admin1_country))
    admin_names = np.array(names[len(order) :])
    letters = [chr(65 + c) if n_countries <= 26 else str(c + 1) for c in range(n_countries)]
    return order, pd.DataFrame(
        {
            "district_id": [
                f"C{c + 1:0{width}d}-D{k + 1:0{digits}d}"
                for c, k in zip(country, within, strict=True)
            ],
            "country": [f"Country {letters[c]}" for c in country],
            "admin1": [f"{a} Province" for a in admin_names[lay.admin1[order]]],
            "district_name": names[: len(order)],
        }
    )
