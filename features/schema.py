"""The panel data contract: one row per (district_id, period), validated before any use.

`validate_panel` either returns a clean copy (periods normalised, keys sorted) or raises a
`DataContractError` naming the source, the column and example offending rows.
"""

from __future__ import annotations

import logging
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
# xgboost computes in float32: larger magnitudes become inf there (and overflow sums elsewhere)
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_YEAR = 9999
log = logging.getLogger(__name__)

# Columns whose name says they identify or describe a person: the tool takes aggregates only.
PERSON_LEVEL_PATTERN = re.compile(
    r"^(person|individual|respondent|victim|perpetrator|suspect)(_?id)?$|"
    r"(^|_)(first|last|full|given|family)_?name$|^name$|date_of_birth|^dob$|birth_?date|"
    r"passport|national_id|^cnic$|tazkira|phone|e_?mail|street_address|home_address",
    re.IGNORECASE,
)
MONTH_PATTERN = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")  # ASCII digits only


def _rows_text(frame: pd.DataFrame, index: pd.Index) -> str:
    """Describe up to MAX_EXAMPLES rows by position and key, e.g. `row 3 (D1, 2010)`."""
    shown = []
    for idx in list(index)[:MAX_EXAMPLES]:
        pos = frame.index.get_loc(idx)
        keys = ", ".join(str(frame.at[idx, k]) for k in KEYS if k in frame.columns)
        shown.append(f"row {pos} ({keys})" if keys else f"row {pos}")
    more = f" and {len(index) - MAX_EXAMPLES} more" if len(index) > MAX_EXAMPLES else ""
    return "; ".join(shown) + more


def _ids_text(ids: pd.Index | list) -> str:
    """Up to MAX_EXAMPLES district ids, e.g. `D1, D2 and 3 more`."""
    ids = list(ids)
    more = f" and {len(ids) - MAX_EXAMPLES} more" if len(ids) > MAX_EXAMPLES else ""
    return ", ".join(map(str, ids[:MAX_EXAMPLES])) + more


def period_ordinal(period: pd.Series) -> pd.Series:
    """Consecutive integer index of each period: the year, or year*12 + month-1 for YYYY-MM."""
    if pd.api.types.is_integer_dtype(period):
        return period.astype("int64")
    text = period.astype(str)
    return text.str[:4].astype("int64") * 12 + text.str[5:7].astype("int64") - 1


def _normalise_period(panel: pd.DataFrame, source: str) -> pd.DataFrame:
    """Integer years stay ints (also from whole floats or 4-digit text); YYYY-MM stays text."""
    period = panel["period"]
    if pd.api.types.is_integer_dtype(period) or pd.api.types.is_float_dtype(period):
        number = period.astype("float64")
        bad = panel.index[
            ~np.isfinite(number) | (number != number.round()) | (number < 0) | (number > MAX_YEAR)
        ]
        if len(bad):
            raise DataContractError(
                f"{source}: column 'period' must hold whole years from 0 to {MAX_YEAR}; bad "
                f"values at {_rows_text(panel, bad)}"
            )
        if pd.api.types.is_integer_dtype(period):
            return panel
        return panel.assign(period=period.astype("int64"))
    text = period.astype(str).str.strip()
    is_year = text.str.fullmatch(r"[0-9]{4}")
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
    repeated = sorted({str(c) for c in panel.columns[panel.columns.duplicated()]})
    if repeated:
        raise DataContractError(f"{source}: column(s) {repeated} appear more than once")
    person = [c for c in panel.columns if PERSON_LEVEL_PATTERN.search(str(c))]
    if person:
        raise DataContractError(
            f"{source}: columns {person} look like person-level data; rootcast accepts "
            "district (or coarser) aggregates only — remove them"
        )
    reserved = [c for c in KEYS + LABELS + [OUTCOME] if c in catalog.features]
    if reserved:
        raise DataContractError(
            f"{source}: the feature catalog declares {reserved} as features; keys, labels "
            "and the outcome are not covariates — remove them from the catalog"
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
    """Model features: finite, no NaN, unless the catalog says `missing = "allowed"` (NaN
    where not measured, never infinite). Protected columns (audit only, never model inputs)
    may be missing (NaN, e.g. districts without census rows) but never infinite."""
    finite = pa.Check(lambda s: np.isfinite(s), error="must be finite (no NaN or inf)")
    not_infinite = pa.Check(
        lambda s: ~np.isinf(s), error="must not be infinite (NaN is allowed: protected)"
    )
    measured_or_nan = pa.Check(
        lambda s: ~np.isinf(s),
        error='must not be infinite (NaN is allowed: missing = "allowed")',
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
            columns[name] = pa.Column(float, not_infinite, nullable=True)
        elif spec.missing == "allowed":
            columns[name] = pa.Column(float, measured_or_nan, nullable=True)
        else:
            columns[name] = pa.Column(float, finite, nullable=False)
    for name in LABELS:
        if name in present:
            columns[name] = pa.Column(str, nullable=True, coerce=True)
    return pa.DataFrameSchema(columns, strict=False)


def _is_bool(value: object) -> bool:
    return isinstance(value, bool | np.bool_)


def _coerce_incidents(panel: pd.DataFrame, source: str) -> pd.DataFrame:
    column = panel[OUTCOME]
    if pd.api.types.is_bool_dtype(column):
        flags = panel.index
    elif column.dtype == object:  # True/False mixed with numbers or blanks
        flags = panel.index[column.map(_is_bool).to_numpy(dtype=bool)]
    else:
        flags = panel.index[:0]
    if len(flags):
        raise DataContractError(
            f"{source}: column '{OUTCOME}' must hold counts, not True/False; booleans at "
            f"{_rows_text(panel, flags)}"
        )
    counts = pd.to_numeric(column, errors="coerce").astype("float64")
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
    """The catalog's features as float64, built in one frame (one block, not one per column:
    a frame of ~50 blocks costs a consolidating copy on every later copy or take)."""
    coerced = {}
    for name in catalog.features:
        column = panel[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column
            # float32 and integer columns cannot exceed float32's range
            wide = values.dtype.kind == "f" and getattr(values.dtype, "itemsize", 8) > 4
        else:
            values = pd.to_numeric(column, errors="coerce")
            bad = panel.index[values.isna() & column.notna()]
            if len(bad):
                raise DataContractError(
                    f"{source}: column '{name}' must be numeric; "
                    f"non-numeric values at {_rows_text(panel, bad)}"
                )
            wide = True
        values = values.astype("float64")
        if wide:
            huge = panel.index[np.isfinite(values) & (values.abs() > FLOAT32_MAX)]
            if len(huge):
                raise DataContractError(
                    f"{source}: column '{name}' has values beyond ±{FLOAT32_MAX:.3g} (the "
                    f"models compute in 32-bit floats); rescale the column — at "
                    f"{_rows_text(panel, huge)}"
                )
        coerced[name] = values
    return pd.DataFrame(
        {c: coerced[c] if c in coerced else panel[c] for c in panel.columns}, index=panel.index
    )


def _raise_pandera(errors: pa.errors.SchemaErrors, panel: pd.DataFrame, source: str) -> None:
    cases = errors.failure_cases
    first = cases.iloc[0]
    column = first["column"]
    rows = cases.loc[cases["column"] == column, "index"].dropna()
    where = _rows_text(panel, pd.Index(rows.astype(int))) if len(rows) else "the column"
    if first["check"] == "not_nullable":
        raise DataContractError(
            f"{source}: column '{column}' is empty (NaN) at {where}; a model feature needs a "
            'value in every row — declare `missing = "allowed"` in the feature catalog if '
            "it is not measured everywhere"
        ) from None
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


def warn_early_ends(panel: pd.DataFrame, source: str) -> None:
    """Log a warning naming districts whose last period is before the panel's last: they get
    no forecast (districts that start late are fine)."""
    ordinal = period_ordinal(panel["period"])
    last = ordinal.groupby(panel["district_id"]).max()
    short = last.index[last < ordinal.max()]
    if len(short):
        latest = panel["period"].iloc[int(np.argmax(ordinal.to_numpy()))]
        log.warning(
            "%s: %d district(s) have no row for the last period %s and get no forecast: %s",
            source,
            len(short),
            latest,
            _ids_text(short),
        )


def check_keys_across_parts(panel: pd.DataFrame, source: str) -> pd.DataFrame:
    """The key checks of `validate_panel` on a panel assembled from separately validated
    parts (files): duplicates between parts, gaps, early ends; returns it sorted by keys."""
    panel = panel.reset_index(drop=True)
    _check_duplicate_keys(panel, source)
    check_gaps(panel, source)
    warn_early_ends(panel, source)
    return panel.sort_values(KEYS, kind="stable").reset_index(drop=True)


def check_outcome_varies(panel: pd.DataFrame, source: str) -> None:
    """Refuse a validated panel to train on whose incidents are all 0 or all >= 1: no model
    can learn a risk from one class."""
    counts = panel[OUTCOME]
    if not (counts >= 1).any():
        raise DataContractError(
            f"{source}: the panel has no incidents (column '{OUTCOME}' is 0 in all "
            f"{len(panel)} rows); a model needs district-periods with and without incidents"
        )
    if (counts >= 1).all():
        raise DataContractError(
            f"{source}: every district-period has incidents (column '{OUTCOME}' is >= 1 in "
            f"all {len(panel)} rows); a model needs district-periods with and without incidents"
        )


def validate_panel(
    panel: pd.DataFrame, catalog: FeatureCatalog, source: str, whole: bool = True
) -> pd.DataFrame:
    """Check `panel` against the contract and return a normalised copy sorted by keys.

    Raises DataContractError naming `source`, the column and example rows on: no rows,
    person-level, repeated, missing or undeclared columns, missing or duplicate keys, bad
    periods, gaps in a district's periods, non-integer, boolean or negative incidents,
    non-numeric or non-finite features and features beyond float32's range. Protected columns
    (catalog `protected = true`) and features the catalog declares `missing = "allowed"` may
    hold NaN (empty cells); they must not be infinite. Districts that end
    before the last period are only a logged warning (they get no forecast).
    `whole=False` validates one part of a panel (a file of several): the period checks
    across rows (gaps, early ends) are left to `check_keys_across_parts` on the whole.
    """
    panel = panel.reset_index(drop=True)
    if len(panel) == 0:
        raise DataContractError(f"{source}: the panel has no rows (only a header?)")
    _check_columns(panel, catalog, source)
    _check_missing_keys(panel, source)
    panel = _normalise_period(panel, source)
    panel = panel.assign(district_id=panel["district_id"].astype(str).str.strip())
    _check_duplicate_keys(panel, source)
    panel = _coerce_incidents(panel, source)
    panel = _coerce_features(panel, catalog, source)
    try:
        schema = _pandera_schema(catalog, list(panel.columns))  # inplace: our own frame
        panel = schema.validate(panel, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as errors:
        _raise_pandera(errors, panel, source)
    if whole:
        check_gaps(panel, source)
        warn_early_ends(panel, source)
    ordered = [c for c in KEYS + LABELS + [OUTCOME] if c in panel.columns]
    ordered += list(catalog.features)
    return panel[ordered].sort_values(KEYS, kind="stable").reset_index(drop=True)
