"""Hypothesis strategies and helpers of tests/test_fuzz.py: valid inputs and their mutations
(panels, TOML catalogs, program catalogs, configs, GeoJSON)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

COLUMNS = ["district_id", "period", "country", "incidents", "poverty", "distance", "minority_share"]


NASTY = st.one_of(
    st.sampled_from(
        [
            np.nan,
            np.inf,
            -np.inf,
            1e308,
            -1e308,
            3.5e38,
            3.4e38,
            5e-324,
            0.5,
            -1,
            0,
            2**63,
            -(2**63),
            10**30,
            True,
            False,
            None,
            pd.NA,
            "",
            " ",
            "abc",
            "NA",
            "nan",
            "None",
            "null",
            "True",
            "false",
            "1e400",
            " 2010",
            "2010",
            "2010-13",
            "2010-00",
            "2010-1",
            "20O7",
            "٢٠١٠",  # Arabic-Indic digits
            "２０１０",  # full-width digits
            "2010.0",
            "99999",
            "-5",
            "1,5",
            '"',
            "\n",
            "a,b",
            "é",
        ]
    ),
    st.integers(),
    st.floats(),
    st.text(max_size=6),
)


NAMES = st.one_of(
    st.sampled_from(COLUMNS + ["name", "person_id", "Unnamed: 0", "", "target", "x"]),
    st.text(max_size=6),
)


MUTATION = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(COLUMNS), st.floats(0, 1), NASTY),
    st.tuples(st.just("fill"), st.sampled_from(COLUMNS), NASTY),
    st.tuples(st.just("drop_col"), st.sampled_from(COLUMNS)),
    st.tuples(st.just("rename"), st.sampled_from(COLUMNS), NAMES),
    st.tuples(st.just("add_col"), NAMES, NASTY),
    st.tuples(st.just("dup_row"), st.floats(0, 1)),
    st.tuples(st.just("dup_col"), st.sampled_from(COLUMNS)),
    st.tuples(st.just("keep_rows"), st.integers(0, 30)),
    st.tuples(st.just("shuffle"), st.integers(0, 2**16)),
    st.tuples(st.just("id"), st.integers(0, 3), NASTY),
)


@st.composite
def valid_panels(draw) -> pd.DataFrame:
    """A valid panel: 1-4 districts × 1-7 consecutive years or months."""
    n_districts, n_periods = draw(st.integers(1, 4)), draw(st.integers(1, 7))
    monthly, start = draw(st.booleans()), draw(st.integers(1990, 2030))
    periods = [f"{start + t // 12}-{t % 12 + 1:02d}" if monthly else start + t for t in range(12)]
    n = n_districts * n_periods
    numbers = st.floats(-1e6, 1e6, allow_nan=False)
    return pd.DataFrame(
        {
            "district_id": [f"D{d}" for d in range(n_districts) for _ in range(n_periods)],
            "period": [periods[t] for _ in range(n_districts) for t in range(n_periods)],
            "country": "X",
            "incidents": draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)),
            "poverty": draw(st.lists(numbers, min_size=n, max_size=n)),
            "distance": draw(st.lists(numbers, min_size=n, max_size=n)),
            "minority_share": draw(st.lists(numbers | st.just(np.nan), min_size=n, max_size=n)),
        }
    )


def mutate(panel: pd.DataFrame, mutations: list[tuple]) -> pd.DataFrame:
    """Apply mutations to an all-object copy (columns addressed by their first position, as
    names may repeat)."""
    frame = panel.astype(object)
    for kind, *args in mutations:
        names = list(frame.columns)
        pos = names.index(args[0]) if args and args[0] in names else None
        if kind in {"set", "fill", "drop_col", "rename", "dup_col"} and pos is None:
            continue
        column = pd.Series([args[-1]] * len(frame), index=frame.index, dtype=object)
        if kind == "set" and len(frame):
            frame.iloc[int(args[1] * (len(frame) - 1)), pos] = args[2]
        elif kind == "fill":
            frame.isetitem(pos, column)
        elif kind == "drop_col":
            frame = frame.iloc[:, [i for i in range(len(names)) if i != pos]]
        elif kind == "rename":
            frame.columns = [args[1] if i == pos else n for i, n in enumerate(names)]
        elif kind == "add_col":
            frame.insert(len(names), args[0], column, allow_duplicates=True)
        elif kind == "dup_row" and len(frame):
            frame = pd.concat([frame, frame.iloc[[int(args[0] * (len(frame) - 1))]]])
        elif kind == "dup_col":
            frame.insert(len(names), args[0], frame.iloc[:, pos], allow_duplicates=True)
        elif kind == "keep_rows":
            frame = frame.iloc[: args[0]]
        elif kind == "shuffle":
            frame = frame.sample(frac=1.0, random_state=args[0])
        elif kind == "id" and "district_id" in names:
            at = names.index("district_id")
            ids = frame.iloc[:, at].map(
                lambda v, old=f"D{args[0]}": isinstance(v, str) and v == old
            )
            rows = np.flatnonzero(ids.to_numpy(dtype=bool))
            frame.iloc[rows, at] = args[1]
    return frame


CSV_EDITS = st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 8), st.binary(max_size=6)), min_size=1, max_size=4
)


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, but astral characters written as they are (JSON
    would write surrogate pairs, which TOML refuses)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return toml_string(value)


def toml_tables(root: str, tables: dict) -> str:
    """`[root."name"]` tables of scalar (or inline) keys."""
    lines = []
    for name, body in tables.items():
        lines.append(f"[{root}.{toml_string(name)}]")
        if isinstance(body, dict):
            lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.append(f"value = {toml_value(body)}")
    return "\n".join(lines) + "\n"


def mostly(valid: st.SearchStrategy, odd: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` about three times in four, else `odd`: deep paths run, not only refusals."""
    return st.one_of(valid, valid, valid, odd)


SCALAR = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["socio-economic", "geography", "demography", "conflict history"]),
)


VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(NAMES, SCALAR, max_size=2))


TEXT_EDITS = mostly(
    st.just([]),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 6), st.binary(max_size=4)), max_size=3),
)


ENCODING = mostly(st.just("utf-8"), st.sampled_from(["utf-16", "latin-1"]))


def write_text_file(path: Path, text: str, edits, encoding: str) -> Path:
    data = bytearray(text.encode(encoding, errors="replace"))
    for where, delete, insert in edits:
        at = int(where * len(data))
        data[at : at + delete] = insert
    path.write_bytes(bytes(data))
    return path


DOMAIN = st.sampled_from(["socio-economic", "governance", "geography", "conflict history"])


VALID_SPEC = st.fixed_dictionaries(
    {"domain": DOMAIN},
    optional={"actionable": st.booleans(), "protected": st.booleans(), "unit": st.text()},
)


ODD_SPEC = st.dictionaries(
    st.sampled_from(["domain", "actionable", "programs", "unit", "protected", "oops"]),
    VALUE,
    max_size=4,
)


FEATURE_SPEC = mostly(VALID_SPEC, st.one_of(ODD_SPEC, SCALAR))


FEATURE_NAME = mostly(
    st.sampled_from(["poverty", "distance", "minority_share", "x", "y", "z"]),
    st.one_of(
        st.sampled_from(["target", "period_index", "hist_rate", "incidents", "district_id"]),
        st.sampled_from(["period", "country", "", "name", "person_id"]),
        st.text(max_size=6),
    ),
)


PROGRAM_FEATURE = mostly(
    st.just("poverty"), st.sampled_from(["distance", "minority_share", "unknown", ""])
)


ODD_NUMBER = st.one_of(
    st.floats(), st.integers(-(2**70), 2**70), st.text(max_size=3), st.booleans()
)


NUMBER = mostly(st.floats(-10, 10), ODD_NUMBER)


VALID_PROGRAM = st.fixed_dictionaries(
    {
        "shift": st.dictionaries(PROGRAM_FEATURE, NUMBER, min_size=1, max_size=1),
        "cost_per_district": mostly(st.floats(0.01, 10), ODD_NUMBER),
    },
    optional={
        "scale": st.dictionaries(PROGRAM_FEATURE, mostly(st.floats(0, 2), ODD_NUMBER), max_size=1),
        "min_risk": mostly(st.floats(0, 1), ODD_NUMBER),
        "description": st.text(max_size=5),
    },
)


PROGRAM = mostly(VALID_PROGRAM, SCALAR) | st.fixed_dictionaries(
    {},
    optional={
        "description": SCALAR,
        "shift": st.dictionaries(PROGRAM_FEATURE, NUMBER, max_size=2) | NUMBER,
        "scale": st.dictionaries(PROGRAM_FEATURE, NUMBER, max_size=2),
        "cost_per_district": NUMBER,
        "min_risk": NUMBER,
        "oops": SCALAR,
    },
)


CONFIG_KEYS = st.sampled_from(
    [
        "model.seed",
        "synthetic.seed",
        "synthetic.n_districts",
        "split.n_folds",
        "split.min_train_periods",
        "target.horizon",
        "model.calibration",
        "model.xgboost.max_depth",
        "model.xgboost.learning_rate",
        "model.xgboost.n_jobs",
        "data.panel",
        "data.adjacency_tolerance",
        "explain.enabled",
        "targeting.budget",
        "targeting.method",
        "tracking.registered_model",
        "tracking.experiment",
        "model",
        "name",
        "",
        ".",
        "model..seed",
        "unknown.key",
    ]
)


SET_VALUE = mostly(
    st.one_of(
        st.integers(0, 12).map(str),
        st.sampled_from(["0.5", "true", "false", '"sigmoid"', '"greedy"', '"run-1"', '"p.csv"']),
    ),
    st.one_of(
        st.sampled_from(
            ["99999999999999999999", "-1", "4294967296", "4294967295", "1e400", "inf", "nan"]
            + ['"x"', "[1, 2]", "{a = 1}", "{seed = 1}", "'", '"', "", "=", "1_000", "0x10"]
        ),
        st.integers().map(str),
        st.floats().map(repr),
        st.text(max_size=8),
    ),
)


def square(i: int) -> dict:
    x, y = i % 3, i // 3
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


GEOMETRY = mostly(
    st.integers(0, 8).map(square),
    st.sampled_from(
        [
            None,
            {"type": "Polygon", "coordinates": []},
            {
                "type": "Polygon",
                "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]],
            },  # bowtie
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},  # unclosed
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},  # degenerate
            {"type": "Polygon", "coordinates": [[[0, 0], [1e308, 0], [1e308, 1e308], [0, 0]]]},
            {"type": "MultiPolygon", "coordinates": [square(4)["coordinates"]]},
            {"type": "MultiPolygon", "coordinates": []},
            {"type": "Point", "coordinates": [0.5, 0.5]},
            {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
            {"type": "GeometryCollection", "geometries": []},
            {"type": "Polygon", "coordinates": "oops"},
            {"type": "Blob", "coordinates": [[0, 0]]},
        ]
    ),
)


GEO_ID = mostly(
    st.sampled_from(["D0", "D1", "D2", "D3", "NA"]),
    st.one_of(st.sampled_from(["", " ", None, 7, 7.5, True]), st.text(max_size=4)),
)


@st.composite
def geojson_texts(draw) -> str:
    features = []
    for _ in range(draw(st.integers(0, 6))):
        properties = {} if draw(st.integers(0, 9)) == 0 else {"district_id": draw(GEO_ID)}
        features.append({"type": "Feature", "properties": properties, "geometry": draw(GEOMETRY)})
    collection = {"type": "FeatureCollection", "features": features}
    text = json.dumps(collection)
    if draw(st.integers(0, 9)) == 0:  # not GeoJSON at all, or cut short
        text = draw(st.sampled_from(["", "{}", "[]", "null", text[: len(text) // 2], "oops"]))
    return text
