"""A deep link opened first on a fresh server (real chromium, ``streamlit run server.py``).

Streamlit's legacy multipage mode runs ``pages/<name>.py`` directly and lists every module of
``pages/`` until the first ``st.navigation`` call of the process; ``server.py`` switches it off.
Each test starts a server of its own, so /calls is the first address that server ever serves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip(
        "/usr/bin/chromium missing: run `make browser` (apt-get install chromium fonts-noto-cjk)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "deep-link-Pa55word"
LOAD_MS = 60_000
#: what the legacy mode shows: the page module run without app.py, its sidebar list of
#: modules, or Streamlit's modal for an address it does not know
LEGACY_SIGNS = ("前往登录", "Page not found", "Page Not Found")


def _env(folder: Path, auth: str) -> dict[str, str]:
    return {
        "BV_DB_PATH": str(folder / "deep.duckdb"),
        "BV_DEMO": "0",
        "BV_AUTH": auth,
        "BV_AUTH_FILE": str(folder / "auth.yaml"),
        "BV_ADMIN_PASSWORD": PASSWORD,
        "BV_SESSION_SECRET": "",
        "BV_INBOX": "off",
    }


def _open_first(serve_app, chromium, folder: Path, auth: str, check) -> None:
    """Start a fresh server, open /calls before anything else, then run ``check(page)``."""
    with serve_app(_env(folder, auth), folder / "deep.duckdb", folder / "streamlit.log") as app:
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(LOAD_MS)
        try:
            page.goto(f"{app.url}/calls")
            check(page)
            page.wait_for_timeout(1000)  # a late modal or page list would show by now
            for sign in LEGACY_SIGNS:
                expect(page.get_by_text(sign)).to_have_count(0)
            # no sidebar list of the pages/ modules (the legacy navigation links)
            for module in ("_session", "_widgets", "login", "complaints", "upload"):
                expect(page.get_by_role("link", name=module, exact=True)).to_have_count(0)
        except Exception:
            print(f"--- streamlit log (tail) ---\n{app.log.read_text(errors='replace')[-4000:]}")
            raise
        finally:
            context.close()


def test_a_deep_link_first_on_a_fresh_server_shows_the_login_form_then_the_page(
    serve_app, chromium, tmp_path: Path
):
    def check(page) -> None:
        expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible(timeout=LOAD_MS)
        expect(page.get_by_label("用户名")).to_be_visible()
        for sign in LEGACY_SIGNS:
            expect(page.get_by_text(sign)).to_have_count(0)
        page.get_by_label("用户名").fill("admin")
        page.get_by_label("密码", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="登录", exact=True).click()
        expect(page.get_by_role("heading", name="通话质检")).to_be_visible(timeout=LOAD_MS)
        assert page.url.rstrip("/").endswith("/calls")

    _open_first(serve_app, chromium, tmp_path, "on", check)


def test_a_deep_link_first_on_a_fresh_server_with_login_off_shows_the_page(
    serve_app, chromium, tmp_path: Path
):
    def check(page) -> None:
        expect(page.get_by_role("heading", name="通话质检")).to_be_visible(timeout=LOAD_MS)
        assert page.url.rstrip("/").endswith("/calls")

    _open_first(serve_app, chromium, tmp_path, "off", check)
