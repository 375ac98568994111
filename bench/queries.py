"""Dashboard query benchmark: p50/p95 of the overview's queries at N stored responses.

    python -m bench.queries --rows 100000 [--rows 1000000]

Builds a throw-away DuckDB file by replicating the scored demo responses (new ids, dates
spread over the year), then times every query the overview page runs, cold and warm, plus a
filter change. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from data import queries
from data.queries import Filters
from data.store import open_store


def build(path: Path, rows: int) -> None:
    """A store with ``rows`` responses, copied from the lexicon-scored demo."""
    from data.demo_loader import ensure_demo

    store = open_store(path)
    ensure_demo(store, model="lexicon")
    base = store.scalar("SELECT count(*) FROM responses")
    copies = max(0, rows // base - 1)
    with store.transaction() as cur:
        for i in range(copies):
            cur.execute(
                """INSERT INTO responses SELECT response_id || '-' || ?, batch_id, respondent_id,
                   submitted_at - INTERVAL (? % 30) DAY, product, region, overdue_bucket, channel,
                   csat, nps, text FROM responses WHERE response_id NOT LIKE '%-%-%-%'""",
                [i, i],
            )
            cur.execute(
                """INSERT INTO scores SELECT target_kind, target_id || '-' || ?, batch_id,
                   model_id, sentiment, sentiment_score, confidence, aspects, emotions,
                   complaint, complaint_reasons, requests FROM scores
                   WHERE target_kind = 'response' AND target_id NOT LIKE '%-%-%-%'""",
                [i],
            )
            cur.execute(
                """INSERT INTO aspects SELECT target_kind, target_id || '-' || ?, batch_id, tactic,
                   polarity FROM aspects WHERE target_kind = 'response'
                   AND target_id NOT LIKE '%-%-%-%'""",
                [i],
            )


OVERVIEW = [
    ("kpis", {}),
    ("sentiment_by_tactic", {}),
    ("trend", {"freq": "month"}),
    ("breakdown", {"dim": "product"}),
    ("emotions_by_tactic", {}),
    ("plan_outcomes", {}),
    ("violation_outcomes", {}),
    ("csat_by_tactic", {}),
    ("records", {"tactic": "third_party_contact", "polarity": "negative"}),
]


def time_page(store, f: Filters) -> dict[str, float]:
    out = {}
    for name, kw in OVERVIEW:
        t0 = time.perf_counter()
        getattr(queries, name)(store, f, **kw)
        out[name] = time.perf_counter() - t0
    return out


def ingest_throughput(rows: int, model: str) -> tuple[float, int]:
    """Seconds to ingest a survey CSV of ``rows`` demo answers (read, validate, score, store)."""
    from data.demo import generate_demo
    from data.ingest import ingest_survey_bytes

    demo = generate_demo().surveys
    frame = demo.sample(rows, replace=rows > len(demo), random_state=7).reset_index(drop=True)
    frame = frame.rename(
        columns={
            "response_id": "编号",
            "submitted_at": "提交日期",
            "text": "回答内容",
            "csat": "满意度",
            "product": "产品",
            "region": "地区",
        }
    )
    raw = (
        frame[["编号", "提交日期", "回答内容", "满意度", "产品", "地区"]]
        .to_csv(index=False)
        .encode("utf-8")
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "ingest.duckdb")
        t0 = time.perf_counter()
        result = ingest_survey_bytes(store, raw, "bench.csv", model=model)
        return time.perf_counter() - t0, result.rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.queries")
    ap.add_argument("--rows", type=int, action="append", default=None)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--ingest", type=int, default=0, help="also time ingesting N survey rows")
    args = ap.parse_args(argv)
    if args.ingest:
        print("| ingest | model | rows | seconds | rows/s |\n|---|---|--:|--:|--:|")
        for model in ("lexicon", "default"):
            secs, n = ingest_throughput(args.ingest, model)
            print(f"| survey CSV | {model} | {n:,} | {secs:.1f} | {n / secs:,.0f} |")
        if not args.rows:
            return 0
    print("| rows | query | p50 ms | p95 ms |\n|---:|---|---:|---:|")
    for rows in args.rows or [100_000]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.duckdb"
            build(path, rows)
            store = open_store(path)
            n = store.scalar("SELECT count(*) FROM responses")
            base = Filters()
            changed = Filters(products=("企业经营贷",), buckets=("M3+",))
            runs = [time_page(store, base) for _ in range(args.repeat)]
            totals = [sum(r.values()) for r in runs]
            for name, _ in OVERVIEW:
                xs = sorted(r[name] for r in runs)
                print(
                    f"| {n:,} | {name} | {statistics.median(xs) * 1e3:.0f} | "
                    f"{xs[int(0.95 * (len(xs) - 1))] * 1e3:.0f} |"
                )
            change = sorted(sum(time_page(store, changed).values()) for _ in range(args.repeat))
            print(
                f"| {n:,} | **whole overview page** | {statistics.median(totals) * 1e3:.0f} | "
                f"{sorted(totals)[int(0.95 * (len(totals) - 1))] * 1e3:.0f} |"
            )
            print(
                f"| {n:,} | **filter change (product+bucket)** | "
                f"{statistics.median(change) * 1e3:.0f} | "
                f"{change[int(0.95 * (len(change) - 1))] * 1e3:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
