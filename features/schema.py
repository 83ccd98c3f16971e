"""The panel data contract: one row per (district_id, period), validated before any use.

`validate_panel` either returns a clean copy (periods normalised, keys sorted) or raises a
`DataContractError` naming the source, the column and example offending rows.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.catalog import FeatureCatalog
from features.errors import DataContractError

KEYS = ["district_id", "period"]
LABELS = ["country", "admin1", "district_name"]
OUTCOME = "incidents"
MAX_EXAMPLES = 5

# Columns whose name says they identify or describe a person: the tool takes aggregates only.
PERSON_LEVEL_PATTERN = re.compile(
    r"^(person|individual|respondent|victim|perpetrator|suspect)(_?id)?$|"
    r"(^|_)(first|last|full|given|family)_?name$|^name$|date_of_birth|^dob$|birth_?date|"
    r"passport|national_id|^cnic$|tazkira|phone|e_?mail|street_address|home_address",
    re.IGNORECASE,
)
MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _rows_text(frame: pd.DataFrame, index: pd.Index) -> str:
    """Describe up to MAX_EXAMPLES rows by position and key, e.g. `row 3 (D1, 2010)`."""
    shown = []
    for idx in list(index)[:MAX_EXAMPLES]:
        pos = frame.index.get_loc(idx)
        keys = ", ".join(str(frame.at[idx, k]) for k in KEYS if k in frame.columns)
        shown.append(f"row {pos} ({keys})" if keys else f"row {pos}")
    more = f" and {len(index) - MAX_EXAMPLES} more" if len(index) > MAX_EXAMPLES else ""
    return "; ".join(shown) + more


def period_ordinal(period: pd.Series) -> pd.Series:
    """Consecutive integer index of each period: the year, or year*12 + month-1 for YYYY-MM."""
    if pd.api.types.is_integer_dtype(period):
        return period.astype("int64")
    text = period.astype(str)
    return text.str[:4].astype("int64") * 12 + text.str[5:7].astype("int64") - 1


def _normalise_period(panel: pd.DataFrame, source: str) -> pd.DataFrame:
    """Integer years stay ints (also from whole floats or 4-digit text); YYYY-MM stays text."""
    period = panel["period"]
    if pd.api.types.is_integer_dtype(period):
        return panel
    if pd.api.types.is_float_dtype(period):
        bad = panel.index[period.isna() | (period != period.round())]
        if len(bad):
            raise DataContractError(
                f"{source}: column 'period' must hold whole years; bad values at "
                f"{_rows_text(panel, bad)}"
            )
        return panel.assign(period=period.astype("int64"))
    text = period.astype(str).str.strip()
    is_year = text.str.fullmatch(r"\d{4}")
    is_month = text.str.match(MONTH_PATTERN)
    bad = panel.index[~(is_year | is_month)]
    if len(bad):
        raise DataContractError(
            f"{source}: column 'period' must hold integer years or 'YYYY-MM' months; "
            f"bad values at {_rows_text(panel, bad)}"
        )
    if is_year.all():
        return panel.assign(period=text.astype("int64"))
    if is_month.all():
        return panel.assign(period=text)
    raise DataContractError(
        f"{source}: column 'period' mixes years and months (years at "
        f"{_rows_text(panel, panel.index[is_year])}); use one period type per panel"
    )


def _check_columns(panel: pd.DataFrame, catalog: FeatureCatalog, source: str) -> None:
    person = [c for c in panel.columns if PERSON_LEVEL_PATTERN.search(str(c))]
    if person:
        raise DataContractError(
            f"{source}: columns {person} look like person-level data; rootcast accepts "
            "district (or coarser) aggregates only — remove them"
        )
    missing = [c for c in KEYS + [OUTCOME] if c not in panel.columns]
    if missing:
        raise DataContractError(f"{source}: required column(s) {missing} are missing")
    known = set(KEYS + LABELS + [OUTCOME]) | set(catalog.features)
    undeclared = [c for c in panel.columns if c not in known]
    if undeclared:
        raise DataContractError(
            f"{source}: column(s) {undeclared} are not declared in the feature catalog; "
            "declare them (domain, actionable, ...) or drop them"
        )
    absent = [c for c in catalog.features if c not in panel.columns]
    if absent:
        raise DataContractError(f"{source}: catalog feature(s) {absent} are missing from the panel")


def _pandera_schema(catalog: FeatureCatalog, present: list[str]) -> pa.DataFrameSchema:
    """Model features: finite, no NaN. Protected columns (audit only, never model inputs) may
    be missing (NaN, e.g. districts without census rows) but never infinite."""
    finite = pa.Check(lambda s: np.isfinite(s), error="must be finite (no NaN or inf)")
    not_infinite = pa.Check(
        lambda s: ~np.isinf(s), error="must not be infinite (NaN is allowed: protected)"
    )
    columns = {
        "district_id": pa.Column(str, nullable=False),
        OUTCOME: pa.Column(
            "int64",
            [pa.Check.ge(0, error="must be >= 0")],
            nullable=False,
            coerce=False,
        ),
    }
    for name, spec in catalog.features.items():
        if spec.protected:
            columns[name] = pa.Column(float, not_infinite, nullable=True, coerce=True)
        else:
            columns[name] = pa.Column(float, finite, nullable=False, coerce=True)
    for name in LABELS:
        if name in present:
            columns[name] = pa.Column(str, nullable=True, coerce=True)
    return pa.DataFrameSchema(columns, strict=False)


def _coerce_incidents(panel: pd.DataFrame, source: str) -> pd.DataFrame:
    counts = pd.to_numeric(panel[OUTCOME], errors="coerce")
    # inf and absurd magnitudes would overflow int64; no district-period has a billion incidents
    bad = panel.index[
        counts.isna() | ~np.isfinite(counts) | (counts.abs() > 1e9) | (counts != counts.round())
    ]
    if len(bad):
        raise DataContractError(
            f"{source}: column '{OUTCOME}' must hold whole-number counts; "
            f"bad values at {_rows_text(panel, bad)}"
        )
    return panel.assign(**{OUTCOME: counts.astype("int64")})


def _coerce_features(panel: pd.DataFrame, catalog: FeatureCatalog, source: str) -> pd.DataFrame:
    out = panel.copy()
    for name in catalog.features:
        values = pd.to_numeric(panel[name], errors="coerce")
        bad = panel.index[values.isna() & panel[name].notna()]
        if len(bad):
            raise DataContractError(
                f"{source}: column '{name}' must be numeric; "
                f"non-numeric values at {_rows_text(panel, bad)}"
            )
        out[name] = values.astype("float64")
    return out


def _raise_pandera(errors: pa.errors.SchemaErrors, panel: pd.DataFrame, source: str) -> None:
    cases = errors.failure_cases
    first = cases.iloc[0]
    column = first["column"]
    rows = cases.loc[cases["column"] == column, "index"].dropna()
    where = _rows_text(panel, pd.Index(rows.astype(int))) if len(rows) else "the column"
    raise DataContractError(
        f"{source}: column '{column}' fails check '{first['check']}' at {where}"
    ) from None


def _check_missing_keys(panel: pd.DataFrame, source: str) -> None:
    for key in KEYS:
        blank = panel.index[panel[key].isna() | (panel[key].astype(str).str.strip() == "")]
        if len(blank):
            raise DataContractError(
                f"{source}: key column '{key}' is missing at {_rows_text(panel, blank)}"
            )


def _check_duplicate_keys(panel: pd.DataFrame, source: str) -> None:
    """Run after keys are normalised, so 2010 and "2010" are the same period."""
    dup = panel.index[panel.duplicated(KEYS, keep=False)]
    if len(dup):
        raise DataContractError(
            f"{source}: more than one row per (district_id, period) — duplicates at "
            f"{_rows_text(panel, dup)}; aggregate to one row per district and period"
        )


def check_gaps(panel: pd.DataFrame, source: str) -> None:
    """Refuse districts whose periods are not consecutive between their first and last."""
    ordinal = period_ordinal(panel["period"])
    grouped = ordinal.groupby(panel["district_id"])
    span = grouped.max() - grouped.min() + 1
    gaps = span[span != grouped.size()]
    if len(gaps):
        names = ", ".join(map(str, gaps.index[:MAX_EXAMPLES]))
        raise DataContractError(
            f"{source}: districts with gaps in their periods: {names}"
            f"{' and more' if len(gaps) > MAX_EXAMPLES else ''}; every district needs one row "
            "per period between its first and last (use incidents=0 for quiet periods)"
        )


def validate_panel(panel: pd.DataFrame, catalog: FeatureCatalog, source: str) -> pd.DataFrame:
    """Check `panel` against the contract and return a normalised copy sorted by keys.

    Raises DataContractError naming `source`, the column and example rows on: person-level
    columns, missing or undeclared columns, missing or duplicate keys, bad periods, gaps in a
    district's periods, non-integer or negative incidents, non-numeric or non-finite features.
    Protected columns (catalog `protected = true`) may hold NaN; they must not be infinite.
    """
    panel = panel.reset_index(drop=True)
    _check_columns(panel, catalog, source)
    _check_missing_keys(panel, source)
    panel = _normalise_period(panel, source)
    panel = panel.assign(district_id=panel["district_id"].astype(str).str.strip())
    _check_duplicate_keys(panel, source)
    panel = _coerce_incidents(panel, source)
    panel = _coerce_features(panel, catalog, source)
    try:
        panel = _pandera_schema(catalog, list(panel.columns)).validate(panel, lazy=True)
    except pa.errors.SchemaErrors as errors:
        _raise_pandera(errors, panel, source)
    check_gaps(panel, source)
    ordered = [c for c in KEYS + LABELS + [OUTCOME] if c in panel.columns]
    ordered += list(catalog.features)
    return panel[ordered].sort_values(KEYS, kind="stable").reset_index(drop=True)
