"""Two uploads at the same time both land intact (sessions share one process and store)."""

from __future__ import annotations

import threading

from data.ingest import ingest_survey_bytes
from data.store import open_store


def _csv(tag: str, n: int) -> bytes:
    rows = "\n".join(f"{tag}-{i},催收员态度很好，第{i}条（{tag}）" for i in range(n))
    return ("编号,回答内容\n" + rows + "\n").encode("utf-8")


def test_two_concurrent_uploads_both_land(db_path):
    store = open_store(db_path)
    results, errors = {}, []

    def upload(tag: str) -> None:
        try:
            results[tag] = ingest_survey_bytes(
                store, _csv(tag, 60), f"{tag}.csv", model="lexicon", uploaded_by=tag
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {r.rows for r in results.values()} == {60}
    assert store.scalar("SELECT count(*) FROM responses") == 120
    assert store.scalar("SELECT count(*) FROM scores") == 120
    assert store.scalar("SELECT count(*) FROM batches") == 2
