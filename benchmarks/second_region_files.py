"""User files of the second synthetic region: its feature catalog and program catalog (TOML).

The catalog declares every covariate (domain, actionable, programs) and one protected column
with no effect; the programs move actionable features only. Each entry carries the true
effect as a TOML comment (ignored by the tool) for readers checking a model against it.
"""

from __future__ import annotations

from pathlib import Path

from features.writers import write_atomically

# catalog: column -> (domain, actionable, programs, unit, description); panel order
CATALOG = {
    "unemployment": (
        "socio-economic",
        True,
        ["jobs"],
        "share of labour force",
        "Unemployment rate of the working-age population.",
    ),
    "informal_work": (
        "socio-economic",
        False,
        [],
        "share of workers",
        "Share of workers in informal jobs (tracks unemployment closely).",
    ),
    "governance": (
        "governance",
        True,
        ["local_governance"],
        "index 0-1 (1 = best)",
        "Quality of local governance.",
    ),
    "police_presence": (
        "governance",
        True,
        ["local_governance"],
        "index 0-1 (1 = full presence)",
        "Presence of police and justice services.",
    ),
    "drought_index": (
        "geography",
        False,
        [],
        "index (0 = normal)",
        "Drought severity in the period; episodic regional droughts.",
    ),
    "irrigation": (
        "service access",
        True,
        ["water"],
        "share of farmland",
        "Share of farmland under irrigation.",
    ),
    "mobile_coverage": (
        "service access",
        True,
        ["connectivity"],
        "share of population",
        "Share of the population covered by a mobile network.",
    ),
    "market_distance_km": (
        "geography",
        False,
        [],
        "km",
        "Travel distance to the nearest regional market.",
    ),
    "road_density": (
        "service access",
        False,
        [],
        "km per 100 km²",
        "Density of all-season roads.",
    ),
    "youth_share": (
        "demography",
        False,
        [],
        "share of population",
        "Share of the population aged 15-24.",
    ),
    "rainfall_anomaly": (
        "geography",
        False,
        [],
        "standard deviations",
        "Rainfall of the period against the long-run mean.",
    ),
    "livestock_density": (
        "socio-economic",
        False,
        [],
        "tropical livestock units per km²",
        "Livestock per km².",
    ),
}
PROTECTED = "pastoralist_share"
PROGRAMS = {
    "jobs": (
        "Jobs and skills: vocational training, public works, small-business grants",
        {"unemployment": -0.05},
        1.5,
    ),
    "local_governance": (
        "Local governance and justice: councils, grievance redress, community policing",
        {"governance": 0.10, "police_presence": 0.08},
        1.3,
    ),
    "water": ("Irrigation and water harvesting", {"irrigation": 0.12}, 1.2),
    "connectivity": ("Mobile network extension", {"mobile_coverage": 0.15}, 0.7),
}
NAIVE_PROGRAM = "jobs"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(float(value)) if isinstance(value, float) else str(value)


def catalog_toml(seed: int, effects: dict[str, str]) -> str:
    lines = [
        "# Feature catalog of the SECOND synthetic region (benchmarks/second_region.py, "
        f"seed {seed}).",
        "# Generated values: they describe no real place or people.",
    ]
    source = "second synthetic region (rootcast benchmarks)"
    for name, (domain, actionable, programs, unit, description) in CATALOG.items():
        lines += ["", f"# true effect: {effects[name]}", f"[features.{name}]"]
        spec = {
            "domain": domain,
            "actionable": actionable,
            "programs": programs,
            "unit": unit,
            "source": source,
            "description": description,
        }
        lines += [f"{k} = {_toml_value(v)}" for k, v in spec.items()]
    lines += [
        "",
        f"# true effect: {effects[PROTECTED]}",
        f"[features.{PROTECTED}]",
        'domain = "demography"',
        "protected = true",
        'unit = "share of population"',
        f"source = {_toml_value(source)}",
        'description = "Share of the population living from herding (audit only)."',
    ]
    return "\n".join(lines) + "\n"


def programs_toml(effects: dict[str, str]) -> str:
    lines = [
        "# Programs of the second synthetic region: effects are ASSUMPTIONS, costs in millions",
        f'# per district. targeting.naive_program = "{NAIVE_PROGRAM}" names one of them.',
    ]
    for name, (description, shift, cost) in PROGRAMS.items():
        moved = ", ".join(f"{f}: {effects[f]}" for f in shift)
        lines += [
            "",
            f"# true effect of what it moves — {moved}",
            f"[programs.{name}]",
            f"description = {_toml_value(description)}",
            f"shift = {_toml_value(shift)}",
            f"cost_per_district = {_toml_value(cost)}",
        ]
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
