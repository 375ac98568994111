"""Fixtures for the real-browser test: a demo database scored by the real default model, the
app running on it in a subprocess, and Debian's chromium driven by Playwright.

Nothing is patched. The database is built once per session with ``python -m data init-demo``
(the shipped transformer, about 1-3 minutes on 2 cores), the app is started with
``streamlit run server.py`` (as ``make run`` does) on a free port, and every test gets a fresh browser context (a new Streamlit
session). Playwright's own browser download does not work here: we launch ``/usr/bin/chromium``
(``make browser`` installs it with the CJK fonts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
BUILD_TIMEOUT_S = 900  # scoring 10k segments: ~1 min on an idle 2-core box, 2.5 min when busy
START_TIMEOUT_S = 120


def _model_dir() -> Path:
    return Path(os.environ.get("BV_MODEL_DIR") or ROOT / "models") / "default"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@dataclass(frozen=True)
class RunningApp:
    """The app under test. ``complaints`` and ``batches``: the database as it was before the
    app started (read-only; once the app runs, its process holds the DuckDB file)."""

    url: str
    db_path: Path
    log: Path
    complaints: int = 0
    batches: tuple[str, ...] = ()


def _db_snapshot(db: Path) -> dict:
    """Complaint-flagged answers and the batch ids, read from the file before the app opens it."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        complaints = con.execute(
            "SELECT count(*) FROM scores WHERE target_kind = 'response' AND complaint"
        ).fetchone()[0]
        batches = tuple(r[0] for r in con.execute("SELECT batch_id FROM batches").fetchall())
    finally:
        con.close()
    return {"complaints": int(complaints), "batches": batches}


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database built by the CLI with the real default transformer model."""
    if not (_model_dir() / "config.json").exists():
        pytest.skip(f"default model not built at {_model_dir()}: run `python -m nlp build-model`")
    folder = tmp_path_factory.mktemp("e2e-db")
    db = folder / "demo.duckdb"
    log = folder / "init-demo.log"
    env = {**os.environ, "BV_DB_PATH": str(db), "BV_DEMO": "1", "BV_SENTIMENT_MODEL": "default"}
    with log.open("wb") as out:  # a file, not a pipe: tqdm writes a lot to stderr
        proc = subprocess.run(
            [sys.executable, "-m", "data", "init-demo", "--db", str(db), "--force"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    if proc.returncode != 0 or "示例数据已载入" not in log.read_text(errors="replace"):
        pytest.fail(f"init-demo failed (exit {proc.returncode}):\n{_tail(log)}")
    return db


@contextmanager
def serve(env: dict[str, str], db_path: Path, log: Path) -> Iterator[RunningApp]:
    """``streamlit run server.py`` with ``env`` added, on a free port; stopped on exit."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "server.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer in {START_TIMEOUT_S} s:\n{_tail(log)}")
            time.sleep(0.5)
        yield RunningApp(url=url, db_path=db_path, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def app(demo_db: Path) -> Iterator[RunningApp]:
    """The app on the demo database, login off; stopped at the end."""
    env = {
        "BV_DB_PATH": str(demo_db),
        "BV_DEMO": "0",
        "BV_SENTIMENT_MODEL": "default",
        "BV_AUTH": "off",  # login is covered by test_login_reload.py and tests/app/test_roles.py
    }
    snapshot = _db_snapshot(demo_db)  # before the app's process takes the file
    with serve(env, demo_db, demo_db.parent / "streamlit.log") as running:
        yield replace(running, **snapshot)


@pytest.fixture(scope="session")
def serve_app():
    """:func:`serve`, for a test module that needs an app of its own (other settings)."""
    return serve


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, headless, through Playwright's sync API (one per test run)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser(app: RunningApp, chromium):
    """The browser for the tests of the shared demo app (starts that app first)."""
    return chromium


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser, app: RunningApp, request: pytest.FixtureRequest):
    """A fresh context (a new Streamlit session) per test; a screenshot is kept on failure."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"e2e-FAILED-{request.node.name}.png"))
        except Exception as exc:  # the page may be gone; the failure itself matters more
            print(f"could not save the failure screenshot: {exc}")
        print(f"--- streamlit log (tail) ---\n{_tail(app.log)}")
    context.close()


@pytest.fixture()
def wait_idle():
    """``wait_idle(page)``: wait until the app is connected and no script runs (a click that
    lands during a rerun can be dropped)."""

    def wait(page, timeout_ms: float = 60_000) -> None:
        page.locator(
            '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
            '[data-test-script-state="notRunning"]'
        ).wait_for(timeout=timeout_ms)

    return wait
