"""The report as a brief: first-page headline, track record, searchable appendix, labelled
map, waterfalls in probability points, and the script policy that keeps it offline."""

from __future__ import annotations

import base64
import hashlib
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from reports import brief
from reports.contract import RISK_BANDS
from reports.maps import MAP_RANKS, map_marks
from reports.plots import waterfall_points


def section(text: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', text, re.S)
    assert match, f"no section {name}"
    return match.group(1)


def table(html: str, table_id: str) -> str:
    return html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]


# ---------- pure parts ----------


def test_waterfall_points_start_at_the_average_district_and_end_at_the_forecast() -> None:
    log_odds = [1.2, -0.4, 0.7, 0.05]
    points = waterfall_points(log_odds, 0.8)
    base = np.log(0.8 / 0.2) - sum(log_odds)
    assert points[0] == pytest.approx(100 / (1 + np.exp(-base)))
    assert points[-1] == pytest.approx(80.0)
    steps = np.diff(points)
    assert np.sign(steps).tolist() == np.sign(log_odds).tolist()  # a push keeps its direction
    assert steps.sum() == pytest.approx(80.0 - points[0])


def test_band_moves_count_districts_that_changed_band() -> None:
    frame = pd.DataFrame(
        {
            "probability": [0.05, 0.35, 0.65, 0.2, 0.5],
            "previous_probability": [0.5, 0.05, 0.62, 0.2, np.nan],
        }
    )
    assert brief._band_moves(frame) == (1, 1)  # 0.05 -> 0.35 up; 0.5 -> 0.05 down


def test_band_ranges_state_every_threshold() -> None:
    ranges = brief.band_ranges()
    assert [r["band"] for r in ranges] == [name for name, _ in RISK_BANDS]
    assert ranges[0]["range"] == "< 10%" and ranges[-1]["range"] == "≥ 60%"


@pytest.mark.parametrize(("hits", "n"), [(0, 20), (3, 40), (40, 40), (57, 300)])
def test_share_interval_brackets_the_share(hits: int, n: int) -> None:
    low, high = brief._share_interval(hits, n)
    assert 0 <= low <= hits / n <= high <= 1
    assert high - low < 1


def test_map_marks_name_countries_and_number_the_top_districts() -> None:
    ids = [f"D{i:02d}" for i in range(16)]
    geo = gpd.GeoDataFrame(
        {"district_id": ids},
        geometry=[box(i % 4, i // 4, i % 4 + 1, i // 4 + 1) for i in range(16)],
    )
    labels = pd.DataFrame({"name": ids, "admin1": "P", "country": ["A"] * 8 + ["B"] * 8}, index=ids)
    probability = pd.Series(np.linspace(0.01, 0.9, 16), index=ids)
    marks = map_marks(geo, labels, probability)
    assert sorted(t for *_, t, kind in marks if kind == "unit") == ["A", "B"]
    ranks = [(t, x, y) for x, y, t, kind in marks if kind == "rank"]
    assert [t for t, *_ in ranks] == [str(r) for r in range(1, MAP_RANKS + 1)]
    top = geo.set_index("district_id").loc["D15"].geometry  # the highest probability
    assert top.contains(gpd.points_from_xy([ranks[0][1]], [ranks[0][2]])[0])


# ---------- the report of the session's training run ----------


def test_first_page_gives_the_headline(champion_report: dict) -> None:
    text, out = champion_report["text"], champion_report["out"]
    page = section(text, "brief")
    forecast = pd.read_csv(out / "forecast.csv").sort_values("probability", ascending=False)
    assert text.index('<section id="brief">') < text.index('<section id="use">')
    top = table(page, "brief-top")
    names = forecast["district_name"].head(brief.N_TOP).tolist()
    assert [top.index(n) for n in names] == sorted(top.index(n) for n in names)
    everyone = pd.read_csv(out / "aggregates.csv").query("level == 'all'").iloc[0]
    assert f"<strong>{everyone['expected_districts']:.0f}</strong>" in page  # as in the table
    assert f"(90% interval {everyone['expected_low']:.0f} to" in page
    assert f"sum: {forecast['probability'].sum():.0f};" in page
    rows = table(page, "brief-bands").split("<tr>")[2:]
    assert len(rows) == len(RISK_BANDS)
    now = [int(re.findall(r'<td class="num">(\d+)</td>', r)[0]) for r in rows]
    assert sum(now) == len(forecast)  # every district in one band
    assert "Biggest rises" in page and "Data up to period" in page
    assert "not all uncertainty" in page  # the intervals say what they are not


def test_track_record_compares_held_out_forecasts_with_outcomes(champion_report: dict) -> None:
    text, out = champion_report["text"], champion_report["out"]
    track = section(text, "track")
    preds = pd.read_parquet(out / "predictions.parquet")
    model = champion_report["summary"]["main_model"]
    rows = table(track, "track-periods").split("<tr>")[2:]
    assert len(rows) == preds["period"].nunique()
    observed = preds.groupby("period")["target"].sum().astype(int).tolist()
    found = [int(re.findall(r'<td class="num">(\d+)</td>', r)[0]) for r in rows]
    assert found == observed
    bands = table(track, "track-bands")
    counts = re.findall(r'<td>[a-z ]+</td><td class="num">(\d+)</td>', bands)
    assert sum(int(n) for n in counts) == len(preds.dropna(subset=["target", model]))
    last = table(track, "track-last")
    n_last = (preds["period"] == preds["period"].max()).sum()
    assert last.count("<tr>") - 1 == min(brief.N_LAST, n_last)
    assert "Back-tests, not forecasts issued at the time" in track
    assert "data:image/svg+xml;base64," in track


def test_appendix_lists_every_district_by_name_with_search(champion_report: dict) -> None:
    text, out = champion_report["text"], champion_report["out"]
    appendix = section(text, "appendix")
    forecast = pd.read_csv(out / "forecast.csv", keep_default_na=False)
    rows = re.findall(r'<tr data-search="([^"]*)"><td>([^<]*) <span', appendix)
    assert len(rows) == len(forecast)
    names = [name for _, name in rows]
    assert names == sorted(names)
    assert all(key == key.lower() for key, _ in rows)
    assert 'id="district-search"' in appendix


def test_the_only_script_is_the_search_and_the_policy_allows_only_it(champion_report: dict) -> None:
    text = champion_report["text"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, re.S)
    assert len(scripts) == 1 and scripts[0][0] == ""  # inline, no src
    digest = base64.b64encode(hashlib.sha256(scripts[0][1].encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text).group(1)
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
