"""A run's summary.json before logging: data, target, folds, pooled metrics, the selection
and the explain stage's figures (MLflow identifiers are filled in when the run is logged)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from experiments.config import ExperimentConfig
from experiments.prepare import PreparedData
from models.explain import CAVEAT
from models.insight import Insight, forecast_rows
from models.stack import StackedClassifier
from reports.contract import DataInfo, FoldInfo, RunSummary, TargetInfo


def pooled_metrics(scores: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """`{model: {metric: value}}` of the pooled rows (None where a metric is undefined)."""
    pooled = scores[scores["fold"] == "pooled"].drop(columns="fold").set_index("model")
    return {
        m: {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
        for m, row in pooled.to_dict("index").items()
    }


def summarise(
    config: ExperimentConfig,
    data: PreparedData,
    evaluation,
    final,
    found: Insight | None,
    baselines: list[str],
) -> RunSummary:
    """The run's summary before logging (MLflow identifiers are filled in by `log_run`)."""
    frame, inputs = data.frame, data.inputs
    latest = forecast_rows(frame)
    horizon = data.horizon
    summary = RunSummary(
        experiment=config.tracking.experiment,
        config_name=config.name,
        data=DataInfo(
            source=inputs.source,
            fingerprint=inputs.fingerprint,
            synthetic=inputs.synthetic,
            n_districts=int(frame["district_id"].nunique()),
            n_rows=int(len(frame)),
            periods=[str(frame["period"].min()), str(frame["period"].max())],
        ),
        target=TargetInfo(horizon, f"incidents in period t+{horizon} >= 1"),
        folds=[
            FoldInfo(f.number, f.test_period, int(len(f.train_index)), int(len(f.test_index)))
            for f in data.folds
        ],
        features=data.features,
        metrics=pooled_metrics(evaluation.scores),
        forecast_period=str(frame.loc[latest, "period"].iloc[0]),
        evaluation={"top_k": config.evaluation.top_k},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        main_model=evaluation.selection.chosen,
        baselines=list(baselines),
        backend=config.scale.backend,
        selection={
            **evaluation.selection.to_dict(),
            "bootstrap": evaluation.comparison,
            "weights": final.model.weights()
            if isinstance(final.model, StackedClassifier)
            else None,
        },
    )
    if found is not None:
        summary.explain = {"caveat": CAVEAT, **found.metrics}
        summary.truth_recovery = found.recovery
        summary.truth_plan = found.plan_scores
    if found is not None and "plan" in found.tables:  # the settings the plan was made under
        t = config.targeting
        summary.targeting = {
            "budget": t.budget,
            "method": t.method,
            "max_per_district": t.max_per_district,
            "risk_aversion": t.risk_aversion,
        }
    return summary
