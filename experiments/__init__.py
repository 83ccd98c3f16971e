"""Experiment configs, run orchestration and the one module that talks to MLflow."""
