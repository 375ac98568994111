"""Load the generated demo dataset (示例数据) into an empty store, scored by the real pipeline."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from data.batches import store_calls_batch, store_survey_batch
from data.store import Store

DEMO_FILE_SURVEY = "示例数据-问卷.csv"
DEMO_FILE_CALLS = "示例数据-通话.jsonl"


def has_data(store: Store) -> bool:
    """True when any batch (demo or real) is stored."""
    return bool(store.scalar("SELECT count(*) FROM batches"))


def has_demo(store: Store) -> bool:
    return bool(store.scalar("SELECT count(*) FROM batches WHERE is_demo"))


def ensure_demo(
    store: Store,
    model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] = lambda _m: None,
    n_surveys: int | None = None,
    n_calls: int | None = None,
) -> bool:
    """Generate, score and store the demo data when the store is empty. Returns True if loaded."""
    if has_data(store):
        return False
    import pandas as pd

    from data.demo import DEFAULT_TODAY, generate_demo
    from data.demo.journeys import generate_journeys
    from nlp.pipeline import score_frame

    kwargs = {}
    if n_surveys:
        kwargs["n_surveys"] = n_surveys
    if n_calls:
        kwargs["n_calls"] = n_calls
    demo = generate_demo(**kwargs)
    j_surveys, j_calls, j_turns = generate_journeys(DEFAULT_TODAY)
    surveys = pd.concat([demo.surveys, j_surveys], ignore_index=True)
    calls = pd.concat([demo.calls, j_calls], ignore_index=True)
    turns = pd.concat([demo.turns, j_turns], ignore_index=True)
    log(f"生成示例数据：{len(surveys):,} 条问卷，{len(calls):,} 通电话；正在评分……")
    total = len(surveys) + len(turns)

    def survey_progress(done: int, n: int) -> None:
        if progress:
            progress(int(done / max(n, 1) * len(surveys)), total)

    scored = score_frame(surveys, "text", model, survey_progress)
    tag = hashlib.sha256(f"demo:{len(surveys)}:{len(demo.calls)}".encode()).hexdigest()
    store_survey_batch(
        store,
        surveys,
        scored,
        file_name=DEMO_FILE_SURVEY,
        sha="demo-s-" + tag,
        uploaded_by="示例数据",
        is_demo=True,
    )

    def call_progress(done: int, n: int) -> None:
        if progress:
            progress(len(surveys) + int(done / max(n, 1) * len(turns)), total)

    from nlp.compliance import score_calls

    scored = score_calls(calls, turns, model=model, progress=call_progress)
    store_calls_batch(
        store,
        calls,
        turns,
        scored.turn_labels,
        scored.analyses,
        file_name=DEMO_FILE_CALLS,
        sha="demo-c-" + tag,
        uploaded_by="示例数据",
        is_demo=True,
    )
    return True


def remove_demo(store: Store, actor: str) -> int:
    """Delete every demo batch (one action in the UI). Returns rows removed."""
    from data.batches import delete_batch

    ids = store.query("SELECT batch_id FROM batches WHERE is_demo")["batch_id"].tolist()
    return sum(delete_batch(store, b, actor) for b in ids)
