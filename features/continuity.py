"""Checks that new periods continue an existing panel (for retraining with new data)."""

from __future__ import annotations

import pandas as pd

from features.errors import DataContractError
from features.schema import KEYS, check_gaps, period_ordinal


def continue_panel(
    existing: pd.DataFrame, new: pd.DataFrame, source: str, allow_new_districts: bool = False
) -> pd.DataFrame:
    """Append validated `new` rows to validated `existing` rows and return the combined panel.

    Refuses (DataContractError naming `source`): other columns; period types that differ;
    periods that overlap the existing ones or leave a gap after the last existing period;
    districts that disappear; new districts unless `allow_new_districts`.
    """
    if list(new.columns) != list(existing.columns):
        extra = sorted(set(new.columns) - set(existing.columns))
        lacking = sorted(set(existing.columns) - set(new.columns))
        raise DataContractError(
            f"{source}: columns differ from the model's data (extra {extra}, missing {lacking})"
        )
    if new["period"].dtype.kind != existing["period"].dtype.kind:
        raise DataContractError(f"{source}: period type differs from the model's data")
    old_t, new_t = period_ordinal(existing["period"]), period_ordinal(new["period"])
    last = int(old_t.max())
    overlap = new.index[new_t <= last]
    if len(overlap):
        shown = ", ".join(sorted(map(str, new.loc[overlap, "period"].unique()))[:5])
        raise DataContractError(
            f"{source}: periods {shown} are already in the model's data (last: "
            f"{existing['period'].max()}); give only the new periods"
        )
    if int(new_t.min()) != last + 1:
        raise DataContractError(
            f"{source}: new data starts at {new['period'].min()}, but the next period after "
            f"{existing['period'].max()} is expected (no gap allowed)"
        )
    latest = set(existing.loc[old_t == last, "district_id"])
    first_new = set(new.loc[new_t == new_t.min(), "district_id"])
    gone = sorted(latest - first_new)
    if gone:
        raise DataContractError(
            f"{source}: district(s) {gone[:5]} of the last period are missing from the new data"
        )
    added = sorted(set(new["district_id"]) - set(existing["district_id"]))
    if added and not allow_new_districts:
        raise DataContractError(
            f"{source}: new district(s) {added[:5]} are not in the model's data; pass "
            "--allow-new-districts to accept declared boundary changes"
        )
    combined = pd.concat([existing, new], ignore_index=True)
    check_gaps(combined, f"{source} (appended to the model's data)")
    return combined.sort_values(KEYS, kind="stable").reset_index(drop=True)
