"""The DuckDB store: schema, migrations, one cached connection per process, atomic writes.

Everything that touches the database file goes through this module or ``data.queries``.
SQL is parameterised (``?``) everywhere; table names are constants, never user input.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

SCHEMA_VERSION = 4


class StoreError(RuntimeError):
    """A storage operation failed; the message is safe to show a user."""


class StoreBusy(StoreError):
    """Another process holds the database file: DuckDB allows one writing process per file.

    ``str(exc)`` names the cause; :meth:`message` adds the way out that fits the caller
    (the command line and the app each say what to do next).
    """

    def __init__(self, path: str, pid: int | None = None) -> None:
        self.path = path
        self.pid = pid
        holder = f"（PID {pid}）" if pid else ""
        self.cause = f"数据库 {path} 正被另一个进程{holder}占用，DuckDB 只允许一个进程写入"
        super().__init__(self.cause)

    def message(self, way_out: str) -> str:
        """One line: the cause, then ``way_out``."""
        return f"{self.cause}：{way_out}"


_LOCK_PID = re.compile(r"\(PID (\d+)\)")


def _is_lock_error(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _busy(target: str, exc: duckdb.Error) -> StoreBusy:
    found = _LOCK_PID.search(str(exc))
    return StoreBusy(target, int(found.group(1)) if found else None)


# Each entry migrates from version i to i+1. Never edit a released step: append one.
MIGRATIONS: list[str] = [
    # 0 -> 1: the core tables
    """
    CREATE TABLE batches (
        batch_id VARCHAR PRIMARY KEY,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        kind VARCHAR NOT NULL CHECK (kind IN ('survey', 'calls')),
        row_count INTEGER NOT NULL,
        uploaded_by VARCHAR NOT NULL,
        uploaded_at TIMESTAMPTZ NOT NULL,
        status VARCHAR NOT NULL,
        is_demo BOOLEAN NOT NULL DEFAULT FALSE,
        model_id VARCHAR
    );
    CREATE UNIQUE INDEX batches_sha ON batches (sha256, kind);
    CREATE TABLE responses (
        response_id VARCHAR PRIMARY KEY,
        batch_id VARCHAR NOT NULL,
        respondent_id VARCHAR,
        submitted_at TIMESTAMP,
        product VARCHAR,
        region VARCHAR,
        overdue_bucket VARCHAR,
        channel VARCHAR,
        csat SMALLINT CHECK (csat BETWEEN 1 AND 5),
        nps SMALLINT CHECK (nps BETWEEN 0 AND 10),
        text VARCHAR NOT NULL
    );
    CREATE TABLE calls (
        call_id VARCHAR PRIMARY KEY,
        batch_id VARCHAR NOT NULL,
        borrower_id VARCHAR,
        agent_id VARCHAR,
        agent_name VARCHAR,
        team VARCHAR,
        started_at TIMESTAMPTZ,
        duration_s INTEGER,
        outcome VARCHAR,
        product VARCHAR,
        overdue_bucket VARCHAR
    );
    CREATE TABLE turns (
        call_id VARCHAR NOT NULL,
        turn_index INTEGER NOT NULL,
        speaker VARCHAR NOT NULL CHECK (speaker IN ('agent', 'borrower')),
        text VARCHAR NOT NULL,
        start_s DOUBLE,
        end_s DOUBLE,
        PRIMARY KEY (call_id, turn_index)
    );
    CREATE TABLE scores (
        target_kind VARCHAR NOT NULL CHECK (target_kind IN ('response', 'turn')),
        target_id VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        model_id VARCHAR NOT NULL,
        sentiment VARCHAR NOT NULL,
        sentiment_score DOUBLE NOT NULL,
        confidence DOUBLE,
        aspects JSON,
        emotions VARCHAR[],
        complaint BOOLEAN,
        complaint_reasons VARCHAR[],
        requests VARCHAR[],
        PRIMARY KEY (target_kind, target_id)
    );
    CREATE TABLE aspects (
        target_kind VARCHAR NOT NULL,
        target_id VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        tactic VARCHAR NOT NULL,
        polarity VARCHAR NOT NULL
    );
    CREATE TABLE call_analysis (
        call_id VARCHAR PRIMARY KEY,
        batch_id VARCHAR NOT NULL,
        violations VARCHAR[],
        evidence JSON,
        borrower_sentiment_start VARCHAR,
        borrower_sentiment_end VARCHAR,
        sentiment_change DOUBLE,
        agent_offered_plan BOOLEAN,
        promise_to_pay BOOLEAN,
        trajectory JSON
    );
    CREATE TABLE reviews (
        review_id VARCHAR PRIMARY KEY,
        target_kind VARCHAR NOT NULL,
        target_id VARCHAR NOT NULL,
        reviewer VARCHAR NOT NULL,
        reviewed_at TIMESTAMPTZ NOT NULL,
        action VARCHAR NOT NULL,
        sentiment VARCHAR,
        aspects JSON,
        complaint BOOLEAN,
        note VARCHAR,
        assignee VARCHAR
    );
    CREATE TABLE audit_log (
        ts TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR,
        detail JSON
    );
    """,
    # 1 -> 2: saved column mappings per file layout
    """
    CREATE TABLE column_mappings (
        layout_key VARCHAR PRIMARY KEY,
        mapping JSON NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 2 -> 3: server-side login sessions (data.sessions); the id is a hash of the token
    """
    CREATE TABLE sessions (
        session_id VARCHAR PRIMARY KEY,
        username VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ,
        revoked_reason VARCHAR
    );
    CREATE INDEX sessions_user ON sessions (username);
    """,
]

# 3 -> 4 is one step in three parts (each part owned by one feature).
# Risk flags on every scored text and turn, who was on the line, borrower ids on survey
# answers, and the early-warning case queue (data.warnings).
_V4_RISK = """
    ALTER TABLE scores ADD COLUMN risk_flags VARCHAR[];
    ALTER TABLE scores ADD COLUMN risk_evidence JSON;
    ALTER TABLE responses ADD COLUMN borrower_id VARCHAR;
    ALTER TABLE call_analysis ADD COLUMN risk_flags VARCHAR[];
    ALTER TABLE call_analysis ADD COLUMN party VARCHAR;
    CREATE TABLE warning_cases (
        case_id VARCHAR PRIMARY KEY,
        borrower_id VARCHAR NOT NULL,
        flag VARCHAR NOT NULL,
        severity INTEGER NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('new', 'in_progress', 'closed')),
        owner VARCHAR,
        opened_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        last_contact_at TIMESTAMPTZ,
        source_kind VARCHAR NOT NULL,
        source_id VARCHAR NOT NULL,
        evidence VARCHAR
    );
    CREATE UNIQUE INDEX warning_cases_open ON warning_cases (borrower_id, flag, source_kind, source_id);
    CREATE TABLE case_notes (
        case_id VARCHAR NOT NULL,
        author VARCHAR NOT NULL,
        written_at TIMESTAMPTZ NOT NULL,
        status VARCHAR,
        note VARCHAR
    );
"""
# Alert rules, fired alerts and their delivery log (data.alerts, data.alert_delivery).
_V4_ALERTS = """
    CREATE TABLE alert_rules (
        rule_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        threshold DOUBLE NOT NULL,
        params JSON NOT NULL,
        cooldown_h DOUBLE,
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        created_by VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE alerts (
        alert_id VARCHAR PRIMARY KEY,
        rule_id VARCHAR NOT NULL,
        rule_name VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        condition_key VARCHAR NOT NULL,
        subject VARCHAR,
        value DOUBLE NOT NULL,
        threshold DOUBLE NOT NULL,
        message VARCHAR NOT NULL,
        link VARCHAR,
        batch_id VARCHAR,
        fired_at TIMESTAMPTZ NOT NULL,
        acked_at TIMESTAMPTZ,
        acked_by VARCHAR
    );
    CREATE TABLE alert_deliveries (
        alert_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL CHECK (channel IN ('webhook', 'email')),
        target VARCHAR NOT NULL,
        attempt INTEGER NOT NULL,
        ok BOOLEAN NOT NULL,
        error VARCHAR,
        attempted_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE alert_settings (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL,
        updated_by VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
"""
# Model versions built from reviewer corrections, and which one is current (data.models);
# the emotions a reviewer set (aspects have a reviews column; a side table keeps the
# reviews table's column list, which positional inserts rely on).
_V4_MODELS = """
    CREATE TABLE model_versions (
        version_id VARCHAR PRIMARY KEY,
        dir VARCHAR NOT NULL,
        base VARCHAR NOT NULL,
        built_by VARCHAR NOT NULL,
        built_at TIMESTAMPTZ NOT NULL,
        promoted_by VARCHAR,
        promoted_at TIMESTAMPTZ,
        metrics JSON,
        status VARCHAR NOT NULL
            CHECK (status IN ('candidate', 'current', 'retired', 'refused'))
    );
    CREATE TABLE model_events (
        happened_at TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL CHECK (action IN ('promote', 'rollback')),
        version_id VARCHAR,
        previous_id VARCHAR
    );
    CREATE TABLE review_emotions (
        review_id VARCHAR PRIMARY KEY,
        emotions VARCHAR[] NOT NULL
    );
"""
MIGRATIONS.append(_V4_RISK + _V4_ALERTS + _V4_MODELS)
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema to ``SCHEMA_VERSION`` (each step in its own transaction)."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise StoreError(f"数据库版本 {version} 比程序 ({SCHEMA_VERSION}) 新，请升级程序")
    while version < SCHEMA_VERSION:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(MIGRATIONS[version])
            version += 1
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return version


@dataclass
class Store:
    """A DuckDB file with the Borrower Voice schema. Use :func:`open_store`."""

    path: Path
    con: duckdb.DuckDBPyConnection
    _write_lock: threading.Lock

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one thread's reads (DuckDB cursors are cheap)."""
        return self.con.cursor()

    def query(self, sql: str, params: list | tuple = ()) -> pd.DataFrame:
        """Run a parameterised SELECT and return a DataFrame."""
        cur = self.cursor()
        try:
            return cur.execute(sql, list(params)).df()
        finally:
            cur.close()

    def scalar(self, sql: str, params: list | tuple = ()):
        """First column of the first row (or None)."""
        cur = self.cursor()
        try:
            row = cur.execute(sql, list(params)).fetchone()
            return row[0] if row else None
        finally:
            cur.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing write: any exception rolls the whole block back."""
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def audit(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: dict | None = None,
        cur: duckdb.DuckDBPyConnection | None = None,
        ts: datetime | None = None,
    ) -> None:
        """Append to the audit log (inside the caller's transaction when ``cur`` is given).

        ``ts`` is when it happened (default now): an entry queued in the inbox keeps its time.
        """
        sql = "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?)"
        params = [ts or now(), actor, action, target, json.dumps(detail or {}, ensure_ascii=False)]
        if cur is not None:
            cur.execute(sql, params)
        else:
            with self.transaction() as tx:
                tx.execute(sql, params)


def now() -> datetime:
    """Timezone-aware current time (UTC)."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A short unique id with a readable prefix."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


_STORES: dict[str, Store] = {}
_STORES_LOCK = threading.Lock()


def open_store(path: Path | str | None = None) -> Store:
    """The process-wide store for ``path`` (default: ``BV_DB_PATH``), created and migrated.

    ``":memory:"`` gives a private in-memory store (tests).

    Raises:
        StoreBusy: another process (the running app, or a command line) holds the file.
        StoreError: the file cannot be opened or is newer than this program.
    """
    from data.settings import settings

    target = str(path) if path is not None else str(settings().db_path)
    with _STORES_LOCK:
        store = _STORES.get(target)
        if store is not None and target != ":memory:":
            return store
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(target)
        except duckdb.Error as exc:
            if _is_lock_error(exc):
                raise _busy(target, exc) from None
            raise StoreError(f"无法打开数据库 {target}: {exc}") from exc
        migrate(con)
        store = Store(Path(target), con, threading.Lock())
        if target != ":memory:":
            _STORES[target] = store
        return store


def close_all() -> None:
    """Close every cached connection (tests, shutdown)."""
    with _STORES_LOCK:
        for store in _STORES.values():
            store.con.close()
        _STORES.clear()
