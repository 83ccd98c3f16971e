"""Risk reports built from a small real training run: sections, escaping, offline, notes, CLIs."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from experiments import report_cli
from models.targeting import DEFAULT_PROGRAMS
from reports.__main__ import main as reports_main
from reports.risk_report import build_report, pdf_available

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SECTIONS = ["use", "ranking", "map", "profiles", "drivers", "plan", "card", "audit"]
EXPLAIN_FILES = [
    "district_profiles.csv",
    "district_drivers.parquet",
    "shap_global.csv",
    "shap_domains.csv",
    "shap_stability.csv",
    "shap_interactions.csv",
    "plan.csv",
]


@pytest.fixture(scope="module")
def run(champion_report: dict) -> dict:
    """The session's small training run (conftest) and its report, built with every model's
    `fit` disabled (reports never refit): out, uri, summary, html and text."""
    return champion_report


def copy_results(run: dict, dest: Path) -> Path:
    return Path(shutil.copytree(run["out"], dest / "results"))


def section(text: str, name: str) -> str:
    """The HTML of one <section id=name>."""
    match = re.search(rf'<section id="{name}">(.*?)</section>', text, re.S)
    assert match, f"no section {name}"
    return match.group(1)


def test_report_has_every_section(run: dict) -> None:
    missing = [s for s in SECTIONS if f'<section id="{s}">' not in run["text"]]
    assert missing == []


def test_header_names_forecast_data_model_and_run(run: dict) -> None:
    s, text = run["summary"], run["text"]
    expected = [s["run_id"], s["data"]["fingerprint"], s["forecast_period"], s["registered_model"]]
    assert [e for e in expected if e not in text] == []


def test_synthetic_data_gets_a_banner(run: dict) -> None:
    assert 'id="synthetic-banner"' in run["text"]


def test_intended_use_rules_out_security_operations_and_causal_reading(run: dict) -> None:
    use = section(run["text"], "use")
    assert "Not for security" in use and "association, not cause" in use


def test_ranking_lists_top_districts_by_probability(run: dict) -> None:
    ranking = section(run["text"], "ranking")
    forecast = pd.read_csv(run["out"] / "forecast.csv").sort_values("probability")
    assert ranking.count("<tr>") - 1 == min(25, len(forecast))
    assert forecast["district_id"].iloc[-1] in ranking
    assert forecast["district_id"].iloc[0] not in ranking


def test_ranking_shows_change_since_the_previous_period(run: dict) -> None:
    assert '<th class="num">Change</th>' in section(run["text"], "ranking")


def test_maps_are_inline_images(run: dict) -> None:
    maps = section(run["text"], "map")
    assert maps.count('src="data:image/png;base64,') == 3  # risk, plan, uncertainty
    assert "Width of each district's 90% forecast interval" in maps


def test_profiles_show_waterfall_domains_and_history_of_top_districts(run: dict) -> None:
    profiles = section(run["text"], "profiles")
    assert profiles.count('class="profile"') == 5
    assert profiles.count("Waterfall of drivers") == 5
    assert profiles.count("Incident and forecast history") == 5


def test_plan_states_program_assumptions_and_totals(run: dict) -> None:
    plan = section(run["text"], "plan")
    programs = tomllib.loads(DEFAULT_PROGRAMS.read_text())["programs"]
    assert "assumed, not measured" in plan
    assert [p for p in programs if p.replace("_", " ") not in plan] == []  # names in words
    table = pd.read_csv(run["out"] / "plan.csv")
    assert f"{len(table.district_id.unique())} districts" in plan
    drivers = plan.split('id="plan-table"')[1]
    assert "log-odds)" in drivers  # the drivers' SHAP pushes say their unit
    raw = [f for f in json.loads((run["out"] / "catalog.json").read_text())["features"]]
    named = [f for f in raw if re.search(rf"(<td>|, ){f} \(", drivers)]
    assert named == []  # labels, not column names


def test_model_card_compares_every_model_with_baselines_and_oracle(run: dict) -> None:
    card = section(run["text"], "card")
    assert [m for m in run["summary"]["metrics"] if f"<td>{m} (" not in card] == []
    assert "Reliability diagram" in card and "Truth recovery" in card


def test_model_card_flags_unstable_drivers(run: dict) -> None:
    stability = pd.read_csv(run["out"] / "shap_stability.csv")
    table = section(run["text"], "card").split('id="stability-table"')[1].split("</table>")[0]
    assert table.count(">unstable<") == int(stability["unstable"].sum())


def test_disparity_audit_compares_quintiles_of_protected_share(run: dict) -> None:
    audit = section(run["text"], "audit")
    assert "minority_share" in audit
    assert all(f"<td>Q{i}</td>" in audit for i in range(1, 6))


def test_report_references_no_external_resource(run: dict) -> None:
    text = run["text"]
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I) == []
    outside = r"url\(\s*['\"]?\s*(?:https?:)?//|@import|<link|<script\s+[^>]*src"
    assert re.findall(outside, text, re.I) == []
    assert len(re.findall(r"<script", text, re.I)) == 1  # the district search (test_report_brief)
    assert all(src.startswith("data:image/") for src in re.findall(r'src="([^"]*)"', text))


def test_hostile_names_and_descriptions_are_escaped(run: dict, tmp_path: Path) -> None:
    results = copy_results(run, tmp_path)
    panel = pd.read_parquet(results / "panel.parquet")
    panel["district_name"] = HOSTILE
    panel.to_parquet(results / "panel.parquet", index=False)
    catalog = json.loads((results / "catalog.json").read_text())
    for spec in catalog["features"].values():
        spec["description"] = f'{HOSTILE}" onmouseover="alert(2)'
    (results / "catalog.json").write_text(json.dumps(catalog))
    text = build_report(results, tmp_path / "report.html").read_text()
    assert HOSTILE not in text and 'onmouseover="' not in text
    assert ESCAPED in section(text, "ranking") and ESCAPED in section(text, "card")


def test_results_without_geometry_or_protected_columns_build_with_notes(
    run: dict, tmp_path: Path
) -> None:
    results = copy_results(run, tmp_path)
    (results / "geometry.geojson").unlink()
    panel = pd.read_parquet(results / "panel.parquet")
    panel.drop(columns="minority_share").to_parquet(results / "panel.parquet", index=False)
    text = build_report(results, tmp_path / "report.html").read_text()
    assert 'id="note-map"' in text and 'id="note-audit"' in text


def test_results_of_an_older_run_without_risk_aversion_build(run: dict, tmp_path: Path) -> None:
    results = copy_results(run, tmp_path)
    summary = json.loads((results / "summary.json").read_text())
    assert summary["targeting"]["risk_aversion"] == 0.0
    del summary["targeting"]["risk_aversion"]  # as written before the setting existed
    (results / "summary.json").write_text(json.dumps(summary))
    text = build_report(results, tmp_path / "report.html").read_text()
    assert "risk aversion" not in section(text, "plan")
    summary["targeting"]["risk_aversion"] = 0.5  # a plan made with risk aversion says so
    (results / "summary.json").write_text(json.dumps(summary))
    text = build_report(results, tmp_path / "report2.html").read_text()
    assert "minus 0.50 × its distance to the 90% interval's lower bound" in section(text, "plan")


def test_results_without_explanation_files_build_with_notes(run: dict, tmp_path: Path) -> None:
    results = copy_results(run, tmp_path)
    for name in EXPLAIN_FILES:
        (results / name).unlink()
    text = build_report(results, tmp_path / "report.html").read_text()
    assert 'id="note-drivers"' in text and 'id="note-plan"' in text


def test_report_cli_fetches_a_run_from_mlflow(champion_store: dict, tmp_path: Path) -> None:
    run = champion_store
    out = tmp_path / "report.html"
    assert report_cli.main(["--run-id", run["summary"]["run_id"], "--out", str(out)]) == 0
    assert run["summary"]["run_id"] in out.read_text()


def test_report_cli_unknown_run_is_a_user_error(
    champion_store: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert report_cli.main(["--run-id", "0" * 32, "--out", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_results_folder_without_summary_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert reports_main(["--results", str(tmp_path)]) == 2
    assert "summary.json" in capsys.readouterr().err


def _page_texts(html: str) -> list[str]:
    """The text on each printed page (weasyprint's layout, margin boxes included)."""
    import weasyprint

    def texts(box, out: list[str]) -> list[str]:
        if getattr(box, "text", None):
            out.append(box.text)
        for child in getattr(box, "children", None) or []:
            texts(child, out)
        return out

    pages = weasyprint.HTML(string=html).render().pages
    return [" ".join(texts(page._page_box, [])) for page in pages]


@pytest.mark.skipif(not pdf_available(), reason="weasyprint not installed")
def test_pdf_export_writes_a_pdf_with_page_numbers_status_and_repeated_headers(
    run: dict, tmp_path: Path
) -> None:
    html = build_report(run["out"], tmp_path / "report.html", pdf=True)
    assert html.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    pages = _page_texts(html.read_text(encoding="utf-8"))
    assert len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in text
        assert "SYNTHETIC DATA" in text  # the running header says what the data is
    # the feature table runs over pages: its header row is on each of them
    features = [f for f in json.loads((run["out"] / "catalog.json").read_text())["features"]]
    first = next(i for i, t in enumerate(pages) if "Used by the model" in t)
    last = max(i for i, t in enumerate(pages) if features[-1] in t)
    assert last > first, "the feature table fits one page: the check needs a longer table"
    assert all("Used by the model" in pages[i] for i in range(first, last + 1))


def _line_groups(box, out: list[list[str]]) -> list[list[str]]:
    """Per block of weasyprint's layout: the text of each of its lines, in order."""
    from weasyprint.formatting_structure import boxes

    def texts(node, found: list[str]) -> list[str]:
        if isinstance(node, boxes.TextBox):
            found.append(node.text)
        for child in getattr(node, "children", None) or []:
            texts(child, found)
        return found

    children = getattr(box, "children", None) or []
    lines = [c for c in children if isinstance(c, boxes.LineBox)]
    if lines:
        out.append([" ".join(texts(line, [])) for line in lines])
    for child in children:
        if not isinstance(child, boxes.LineBox):
            _line_groups(child, out)
    return out


@pytest.mark.skipif(not pdf_available(), reason="weasyprint not installed")
def test_pdf_breaks_no_word_across_lines(run: dict) -> None:
    """No line of the printed report ends inside a word: neither a hyphenation ("gover-" /
    "nance") nor a break of a word that fits its cell. Identifiers may wrap after "_"."""
    import weasyprint

    html = run["text"]
    words = set(re.findall(r"[A-Za-z]{3,}", re.sub(r"<[^>]+>", " ", html)))
    broken = []
    for page in weasyprint.HTML(string=html).render().pages:
        for lines in _line_groups(page._page_box, []):
            for first, second in zip(lines, lines[1:], strict=False):
                end = re.findall(r"[A-Za-z\u2010-]+$", first.rstrip())
                start = re.findall(r"^[A-Za-z]+", second.lstrip())
                if not (end and start):
                    continue
                left = end[0].rstrip("-\u2010")
                hyphenated = end[0] != left and left + start[0] in words
                split = left + start[0] in words and not {left, start[0]} <= words
                if hyphenated or split:
                    broken.append(f"{first[-25:]!r} / {second[:25]!r}")
    assert broken == []


def test_pdf_request_without_weasyprint_writes_html_and_says_so(
    run: dict, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import reports.risk_report

    monkeypatch.setattr(reports.risk_report, "pdf_available", lambda: False)
    out = tmp_path / "report.html"
    assert reports_main(["--results", str(run["out"]), "--out", str(out), "--pdf"]) == 0
    assert out.exists() and not out.with_suffix(".pdf").exists()
    assert "PDF skipped: weasyprint is not installed" in capsys.readouterr().out


def test_plain_language_method_comes_before_the_model_card(run: dict) -> None:
    text = run["text"]
    method = section(text, "method")
    assert text.index('id="method"') < text.index('id="card"')
    for phrase in ("trained on the past only", "not proven causes", "assumptions", "synthetic"):
        assert phrase in method
    assert "not security operations" in method


def test_features_are_named_by_their_catalog_label(run: dict) -> None:
    """Derived features carry labels; catalog features without one read as words."""
    text = run["text"]
    assert "Historical incident rate" in text or "Recent incident history" in text
    card = section(text, "card")
    assert "<code>hist_<wbr>rate</code>" in card and "Historical incident rate" in card
    assert "Youth unemployment" in card  # the synthetic catalog's youth_unemployment
