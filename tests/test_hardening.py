"""Run-level guarantees: checks before any work, Ctrl-C, the champion guard, staging."""

from __future__ import annotations

from pathlib import Path

import pytest

import train
from experiments import run as run_module
from experiments import staging as staging_module


def _error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_negative_margin_is_refused_before_any_model_is_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    code = train.main(["retrain", "--data", str(tmp_path / "x.csv"), "--margin", "-1"])
    assert code == 2 and "--margin: margin must be >= 0" in _error(capsys)
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", 'tracking.registered_model="bad/na%me@x"'], "is no registry name"),
        (["--set", "tracking.guard_metrics=['recall']"], "guard_metrics"),
    ],
)
def test_bad_tracking_settings_exit_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert train.main(["--output", str(tmp_path / "out"), "-q", *args]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_and_report_that_is_a_folder_exit_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "load", pytest.fail)  # nothing may start
    existing = tmp_path / "file.txt"
    existing.write_text("keep me")
    assert train.main(["--output", str(existing), "-q"]) == 2
    assert "exists and is not a folder" in _error(capsys)
    assert existing.read_text() == "keep me"
    assert train.main(["--output", str(tmp_path / "o"), "--report", str(tmp_path), "-q"]) == 2
    assert "is a folder" in _error(capsys)


def test_ctrl_c_prints_one_line_and_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "load", interrupted)
    assert train.main(["--output", str(tmp_path / "out"), "-q"]) == 130
    err = _error(capsys).strip().splitlines()
    assert len(err) == 1 and err[0].startswith("interrupted:")


def test_publish_moves_files_and_drops_stale_results(tmp_path: Path) -> None:
    out, staging = tmp_path / "out", tmp_path / ".out.staging-1"
    out.mkdir()
    staging.mkdir()
    (out / "plan.csv").write_text("old plan")  # an earlier run's plan
    (out / "report.html").write_text("not a result file: kept")
    (staging / "forecast.csv").write_text("new")
    (staging / "summary.json").write_text("{}")
    files = [staging / "summary.json", staging / "forecast.csv"]
    published = staging_module.publish(staging, out, files)
    assert published == [out / "summary.json", out / "forecast.csv"]
    assert (out / "forecast.csv").read_text() == "new" and not (out / "plan.csv").exists()
    assert (out / "report.html").exists() and not staging.exists()


def test_staging_folders_of_dead_processes_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / ".out.staging-999999999"  # no such process
    dead.mkdir()
    (dead / "half.csv").write_text("x")
    staging = staging_module.staging_dir(tmp_path / "out")
    assert not dead.exists() and staging.exists() and not any(staging.iterdir())


def test_compare_never_calls_an_unfinished_run_comparable() -> None:
    import pandas as pd

    from experiments.compare import CompareOptions, comparison_table

    runs = pd.DataFrame(
        {
            "run_id": ["a" * 32, "b" * 32, "c" * 32],
            "start_time": pd.to_datetime(["2026-01-03", "2026-01-02", "2026-01-01"], utc=True),
            "status": ["RUNNING", "FAILED", "FINISHED"],
            "tags.data.fingerprint": ["f1", "f1", "f1"],
            "params.name": ["default"] * 3,
            "metrics.xgboost.aupr": [0.9, 0.8, 0.7],
        }
    )
    versions = pd.DataFrame(columns=["run_id", "model", "version", "aliases"])
    table = comparison_table(runs, versions, CompareOptions(metrics=("aupr",)))
    assert table.set_index("run")["comparable"].to_dict() == {
        "a" * 8: "no: RUNNING",
        "b" * 8: "no: FAILED",
        "c" * 8: "yes",
    }


@pytest.mark.parametrize("version", ["..", ".", "../x", ".hidden", "a/b"])
def test_downloads_cannot_leave_their_cache(tmp_path: Path, version: str) -> None:
    from ingest.download import DownloadError, fetch

    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("no request may be made")

    cache = tmp_path / "cache"
    with pytest.raises(DownloadError):
        fetch(
            "ucdp_ged",
            version=version,
            cache=cache,
            trust_first_use=True,
            url="http://127.0.0.1:9/x.zip",
            opener=no_network,
        )
    assert not any(tmp_path.rglob("*.zip")) and not (tmp_path / "ucdp_ged").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--budget", "1", "--output", "{file}"],
        ["retrain", "--data", "x.csv", "--output", "{file}"],
        ["synth", "--out", "{file}"],
        ["compare", "--csv", "{dir}"],
        ["--output", "{file}/below", "-q"],
    ],
)
def test_every_output_path_is_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]
) -> None:
    existing = tmp_path / "file.txt"
    existing.write_text("keep me")
    args = [a.format(file=existing, dir=tmp_path) for a in argv]
    assert train.main(args) == 2
    err = _error(capsys)
    assert err.startswith("error: --") and ("folder" in err or "cannot" in err)
    assert existing.read_text() == "keep me"
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()


def test_report_of_a_folder_path_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from reports.__main__ import main as report_main

    assert report_main(["--results", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "--out" in _error(capsys)


def test_an_unusable_mlflow_store_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://nowhere")
    monkeypatch.setattr(run_module, "load", pytest.fail)
    assert train.main(["--output", str(tmp_path / "out"), "-q"]) == 2
    assert "MLflow store bogus://nowhere" in _error(capsys)


def test_na_district_ids_survive_reading_results(tmp_path: Path) -> None:
    from reports.results import _read

    (tmp_path / "forecast.csv").write_text("district_id,period,probability\nNA,2020,\n")
    frame = _read(tmp_path / "forecast.csv")
    assert frame["district_id"].tolist() == ["NA"] and frame["probability"].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iso3": "../x"}, "--iso3"),
        ({"url": "file:///etc/passwd"}, "only http"),
    ],
)
def test_downloads_refuse_climbing_parameters_and_local_urls(
    tmp_path: Path, kwargs: dict, message: str
) -> None:
    from ingest.download import DownloadError, fetch

    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=message):
        fetch("geoboundaries_adm2", cache=cache, trust_first_use=True, **kwargs)
    assert not cache.exists()


def test_a_finished_run_without_its_registration_is_incomplete() -> None:
    import pandas as pd

    from experiments.compare import CompareOptions, comparison_table

    runs = pd.DataFrame(
        {
            "run_id": ["a" * 32, "b" * 32],
            "start_time": pd.to_datetime(["2026-01-02", "2026-01-01"], utc=True),
            "status": ["FINISHED", "FINISHED"],
            "tags.data.fingerprint": ["f1", "f1"],
            "tags.rootcast.host": ["h", "h"],
            "tags.rootcast.complete": [None, "true"],
            "metrics.xgboost.aupr": [0.9, 0.7],
        }
    )
    versions = pd.DataFrame(columns=["run_id", "model", "version", "aliases"])
    table = comparison_table(runs, versions, CompareOptions(metrics=("aupr",)))
    assert table.set_index("run")["comparable"].to_dict() == {
        "a" * 8: "no: INCOMPLETE",
        "b" * 8: "yes",
    }
