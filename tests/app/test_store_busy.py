"""AppTest: the app opening its database while another process (a command line) holds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
HOLD = "import duckdb, sys\ncon = duckdb.connect(sys.argv[1])\nprint('ready', flush=True)\nsys.stdin.read()\n"


def test_a_held_database_is_one_error_line_and_a_reload_recovers(tmp_path, monkeypatch):
    db = tmp_path / "bv.duckdb"
    monkeypatch.setenv("BV_DB_PATH", str(db))
    monkeypatch.setenv("BV_AUTH_FILE", str(tmp_path / "auth.yaml"))
    monkeypatch.setenv("BV_ADMIN_PASSWORD", "a-long-admin-password")
    monkeypatch.setenv("BV_DEMO", "0")
    st.cache_data.clear()
    st.cache_resource.clear()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline().strip() == b"ready"
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        assert not at.exception
        (error,) = at.error
        assert f"PID {holder.pid}" in error.value and "刷新本页" in error.value
        assert not at.text_input  # nothing else: no login form over a store it cannot open
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    at.run()  # the command line has finished: the same session now gets the login form
    assert not at.error and [t.value for t in at.title] == ["借款人之声 · 登录"]
    st.cache_resource.clear()
