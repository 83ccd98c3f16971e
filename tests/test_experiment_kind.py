"""The experiment is marked as model training, so the MLflow UI opens on its training runs
(MLflow 3 opens unmarked experiments on its GenAI overview)."""

from __future__ import annotations

from mlflow import MlflowClient

from experiments.tracking.store import EXPERIMENT_KIND_TAG, TRAINING_KIND, _experiment_id


def test_a_training_run_marks_its_experiment(champion_run: dict) -> None:
    client = MlflowClient(champion_run["uri"])
    experiment = client.get_experiment_by_name(champion_run["summary"]["experiment"])
    assert experiment.tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND


def test_an_unmarked_experiment_is_marked_and_a_users_choice_kept(fresh_store: str) -> None:
    client = MlflowClient(fresh_store)
    plain = client.create_experiment("older")
    chosen = client.create_experiment("theirs", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    assert _experiment_id("older") == plain and _experiment_id("theirs") == chosen
    assert client.get_experiment(plain).tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND
    assert client.get_experiment(chosen).tags[EXPERIMENT_KIND_TAG] == "genai_development"
    new = _experiment_id("new")
    assert client.get_experiment(new).tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND
