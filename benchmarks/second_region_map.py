"""Map of the second synthetic region: Voronoi districts in an irregular outline, 2 countries.

Districts are Voronoi cells of Lloyd-relaxed random points, clipped to a star-shaped outline,
so they have irregular shapes and 2 to ~9 neighbours (no grid); neighbouring cells share
edges exactly. A wavy line splits the region into two countries; provinces (admin1) are the
nearest of a few seeds inside each country. The region sits in the open southern Indian
Ocean, so it cannot be mistaken for a real place.
"""

from __future__ import annotations

import numpy as np
import shapely

Array = np.ndarray
LON0, LAT0 = 72.0, -38.0  # centre of the region (open ocean: fictitious)
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQUATOR = 111.32
DISTRICT_KM2 = 4000.0  # area of a district, about
LLOYD_ROUNDS = 3
ADMIN1_SIZE = 20  # districts per province, about


def _outline(rng: np.random.Generator, area_km2: float) -> shapely.Polygon:
    """Irregular star-shaped outline of `area_km2` centred on (0, 0), in km."""
    theta = np.linspace(0.0, 2 * np.pi, 361)[:-1]
    radius = np.ones_like(theta)
    for k in range(2, 7):  # a few lobes and bays
        radius += rng.uniform(0.04, 0.16) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    shape = shapely.Polygon(np.c_[1.3 * radius * np.cos(theta), radius * np.sin(theta)])
    factor = np.sqrt(area_km2 / shape.area)
    return shapely.affinity.scale(shape, factor, factor, origin=(0, 0))


def _points_inside(rng: np.random.Generator, outline: shapely.Polygon, n: int) -> Array:
    minx, miny, maxx, maxy = outline.bounds
    found = np.empty((0, 2))
    while len(found) < n:
        candidate = rng.uniform((minx, miny), (maxx, maxy), (4 * n, 2))
        inside = shapely.contains_xy(outline, candidate[:, 0], candidate[:, 1])
        found = np.vstack([found, candidate[inside]])
    return found[:n]


def _cells(points: Array, outline: shapely.Polygon) -> Array:
    """Voronoi cells of `points` (in their order), clipped to `outline`."""
    diagram = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=outline, ordered=True)
    cells = shapely.intersection(np.asarray(shapely.get_parts(diagram)), outline)
    return np.array([_largest(c) for c in cells], dtype=object)


def _largest(shape: shapely.Geometry) -> shapely.Geometry:
    """A clipped cell can split at a narrow bay: keep a Polygon (its largest part)."""
    if shape.geom_type == "Polygon":
        return shape
    parts = [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area)


def layout(rng: np.random.Generator, n: int) -> tuple[Array, Array, Array]:
    """(cells in km, centroids in km, binary queen adjacency as a dense bool matrix)."""
    outline = _outline(rng, n * DISTRICT_KM2)
    points = _points_inside(rng, outline, n)
    for _ in range(LLOYD_ROUNDS):  # Lloyd relaxation: evenly sized, compact cells
        points = shapely.get_coordinates(shapely.centroid(_cells(points, outline)))
    cells = _cells(points, outline)
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[left, right] = True
    np.fill_diagonal(adjacency, False)
    return cells, shapely.get_coordinates(shapely.centroid(cells)), adjacency


def to_lonlat(cells: Array) -> Array:
    """Local km plane -> lon/lat (equirectangular); shared vertices stay shared."""
    scale_lon = KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(LAT0))
    return shapely.transform(
        cells, lambda xy: np.c_[LON0 + xy[:, 0] / scale_lon, LAT0 + xy[:, 1] / KM_PER_DEG_LAT]
    )


def countries(rng: np.random.Generator, xy: Array) -> Array:
    """0/1 country of each district: a wavy line splits the region about 45/55."""
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    along = xy @ direction
    across = xy @ np.array([-direction[1], direction[0]])
    span = np.ptp(across) + 1e-9
    wavy = along + 0.12 * np.ptp(along) * np.sin(
        2 * np.pi * across / span * 1.5 + rng.uniform(0, 6)
    )
    return (wavy > np.quantile(wavy, 0.45)).astype(int)


def provinces(rng: np.random.Generator, xy: Array, country: Array) -> Array:
    """Province of each district: nearest of a few seeds in its own country (global index)."""
    out = np.empty(len(xy), dtype=int)
    offset = 0
    for c in (0, 1):
        members = np.flatnonzero(country == c)
        k = max(2, round(len(members) / ADMIN1_SIZE))
        seeds = xy[rng.choice(members, k, replace=False)]
        nearest = np.argmin(np.linalg.norm(xy[members, None] - seeds[None], axis=-1), axis=1)
        out[members] = offset + nearest
        offset += k
    return out
