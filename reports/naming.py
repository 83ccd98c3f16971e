"""How the report names things: features by the catalog's label (or the column name in
words), with units, and the plan's driver lists in those words."""

from __future__ import annotations

import re

from reports.results import Results


def label(res: Results, feature: str) -> str:
    """How the report names a feature: the catalog's `label`, else its name in words."""
    spec = res.catalog.get(feature, {})
    return spec.get("label") or str(feature).replace("_", " ").capitalize()


def unit(res: Results, feature: str) -> str:
    """The catalog's unit of a feature in parentheses, for a value shown beside it ("" when
    the catalog gives none)."""
    text = res.catalog.get(feature, {}).get("unit", "")
    return f" ({text})" if text else ""


def drivers_text(res: Results, drivers: object) -> str:
    """plan.csv's "feature (+0.12), ..." with the catalog's labels and the unit (log-odds)."""
    if not isinstance(drivers, str) or not drivers:
        return "–"
    parts = []
    for item in drivers.split(", "):
        match = re.fullmatch(r"(.+) \(([+-][\d.]+)\)", item)
        parts.append(f"{label(res, match[1])} ({match[2]} log-odds)" if match else item)
    return ", ".join(parts)


def describe(res: Results, feature: str) -> str:
    """The catalog's description of a feature, with its unit (a tooltip)."""
    return f"{res.catalog.get(feature, {}).get('description', '')}{unit(res, feature)}".strip()
