"""Country and province outlines on the report's maps, and the cross-border spillover
paragraph (reports/maps.py `borders_of`, reports/model_card.py `spillover`)."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import pandas as pd
from conftest import TINY_REGION
from shapely.geometry import box

from reports.maps import borders_of as _borders
from reports.model_card import spillover

# four unit squares in a row: two provinces of country A, one of B
IDS = ["a1", "a2", "a3", "b1"]
LABELS = pd.DataFrame(
    {"name": ["A one", "A two", "A three", "B one"], "admin1": ["P", "P", "Q", "R"]}
    | {"country": ["A", "A", "A", "B"]},
    index=IDS,
)
GEO = gpd.GeoDataFrame({"district_id": IDS}, geometry=[box(i, 0, i + 1, 1) for i in range(4)])


def test_borders_outline_each_country_and_province() -> None:
    borders = _borders(GEO, LABELS)
    assert set(borders) == {"country", "admin1"}
    assert sorted(borders["country"].index) == ["A", "B"]
    assert borders["country"].loc["A"].length == 8  # the 3 x 1 rectangle of A's districts
    assert sorted(borders["admin1"].index) == ["P", "Q", "R"]


def test_a_single_country_gets_no_country_outline() -> None:
    borders = _borders(GEO, LABELS.assign(country="A", admin1=""))
    assert borders == {}


def _drivers(period: str = "2016") -> pd.DataFrame:
    rows = []
    for district, own, xborder in (("a1", 0.5, 0.0), ("a3", 0.2, 0.3), ("b1", 0.4, -0.1)):
        rows += [
            {"district_id": district, "period": period, "feature": "hist_decay", "shap_value": own},
            {
                "district_id": district,
                "period": period,
                "feature": "hist_spatial_xborder",
                "shap_value": xborder,
            },
        ]
    return pd.DataFrame(rows)


def test_spillover_share_and_the_districts_where_it_weighs_most() -> None:
    found = spillover(SimpleNamespace(district_drivers=_drivers()), LABELS, "2016")
    assert found["features"] == ["hist_spatial_xborder"]
    assert found["share"] == 0.4 / 1.5
    assert [r["name"] for r in found["top"]][:2] == ["A three", "B one"]
    assert found["top"][0] == {"name": "A three", "country": "A", "shap": 0.3}


def test_no_spillover_paragraph_without_cross_border_features() -> None:
    drivers = _drivers().query("feature == 'hist_decay'")
    assert spillover(SimpleNamespace(district_drivers=drivers), LABELS, "2016") is None
    assert spillover(SimpleNamespace(district_drivers=None), LABELS, "2016") is None


def test_a_report_with_cross_border_lags_renders(tmp_path) -> None:
    """The spillover paragraph names the cross-border features by their labels (it once
    failed to render: a function given to Jinja's `map` filter)."""
    from experiments.config import load_config
    from experiments.run import run_training
    from reports.risk_report import build_report

    overrides = [o for o in TINY_REGION if o != "--set"] + ["data.cross_border_lags=true"]
    overrides += ["synthetic.n_districts=120", "data.cross_border_tolerance_km=20"]
    run_training(load_config(None, overrides), tmp_path / "out", lambda message: None)
    html = build_report(tmp_path / "out", tmp_path / "report.html").read_text()
    paragraph = html.split("Incidents in neighbouring districts across a national border (")[1]
    assert paragraph.startswith("Cross-border neighbours")
