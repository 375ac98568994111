"""Shared fixtures: a real DuckDB file per test, the lexicon model for data-layer tests.

Data-layer tests (``tests/data/``, ``tests/test_bad_inputs.py``) run with
``BV_SENTIMENT_MODEL=lexicon`` and ``BV_DB_PATH`` in their own temp dir, so they never load
the transformer and never touch ``var/``. Nothing else is patched: the store, the readers,
validation and the scorer are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parent
DATA_LAYER = (TESTS / "data", TESTS / "test_bad_inputs.py")

# Every table of the schema, in a fixed order, for before/after comparisons.
TABLES = (
    "meta",
    "batches",
    "responses",
    "calls",
    "turns",
    "scores",
    "aspects",
    "call_analysis",
    "reviews",
    "audit_log",
    "column_mappings",
)


def _is_data_layer(path: Path) -> bool:
    return any(path == p or p in path.parents for p in DATA_LAYER)


@pytest.fixture
def lexicon_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """Score with the fast lexicon backend (no transformer load)."""
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    return "lexicon"


@pytest.fixture(autouse=True)
def _data_layer_env(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lexicon model and a throwaway default database for data-layer tests only."""
    if not _is_data_layer(Path(str(request.node.path))):
        return
    monkeypatch.setenv("BV_SENTIMENT_MODEL", "lexicon")
    monkeypatch.setenv("BV_DB_PATH", str(tmp_path_factory.mktemp("default-db") / "bv.duckdb"))


def close_store(path: Path | str) -> None:
    """Close the cached connection for one database file (others stay open)."""
    import data.store

    store = data.store._STORES.pop(str(path), None)
    if store is not None:
        store.con.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    """A path for a real DuckDB file under tmp_path; its connection is closed afterwards."""
    path = tmp_path / "bv.duckdb"
    yield path
    close_store(path)


@pytest.fixture
def tmp_store(db_path: Path):
    """A freshly migrated store on a real DuckDB file in a temp dir."""
    from data.store import open_store

    return open_store(db_path)


def table_contents(store) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: equal dicts mean equal database content."""
    out = {}
    for table in TABLES:
        frame = store.query(f"SELECT * FROM {table}")
        rows = [
            tuple(None if _missing(v) else str(v) for v in row)
            for row in frame.itertuples(index=False)
        ]
        out[table] = sorted(rows, key=repr)
    return out


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays
        return False


def row_counts(store) -> dict[str, int]:
    """Rows per table."""
    return {t: int(store.scalar(f"SELECT count(*) FROM {t}")) for t in TABLES}


@pytest.fixture(scope="session")
def db_tools() -> SimpleNamespace:
    """Helpers for database assertions: ``contents(store)``, ``counts(store)``, ``close(path)``."""
    return SimpleNamespace(contents=table_contents, counts=row_counts, close=close_store)


def _still_layer(dim: int):
    """An adapted sentiment layer that changes nothing (zero gate and head weights)."""
    import numpy as np

    from nlp.adapt.model import SentimentLayer

    return SentimentLayer(
        mean=np.zeros(dim),
        scale=np.ones(dim),
        gate_weights=np.zeros(dim),
        gate_bias=0.0,
        head_weights=np.zeros((3, dim + 3)),
        head_bias=np.zeros(3),
        mix=0.5,
    )


@pytest.fixture(scope="session")
def still_layer():
    """``still_layer(dim)``: a sentiment layer that changes nothing, for version-guard tests."""
    return _still_layer
