"""Baselines, the xgboost pipeline, evaluation and (later) explanation and targeting."""
