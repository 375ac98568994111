"""A browser reload keeps the login and the page; logout ends it for good (login on, real
chromium, ``streamlit run server.py``).

The app runs on an empty database of its own (no demo data, no model needed) with a known admin
password, separate from the login-off app the other browser tests share.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
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

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "reload-test-Pa55word"
COOKIE = "bv_session"
LOAD_MS = 60_000


@pytest.fixture(scope="module")
def login_app(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator:
    """The app with login on, an ``admin`` whose password is known, an empty store."""
    folder = tmp_path_factory.mktemp("e2e-login")
    db = folder / "login.duckdb"
    env = {
        "BV_DB_PATH": str(db),
        "BV_DEMO": "0",
        "BV_AUTH": "on",
        "BV_AUTH_FILE": str(folder / "auth.yaml"),
        "BV_ADMIN_PASSWORD": PASSWORD,
        "BV_SESSION_SECRET": "",  # generated: session.key beside the auth file
        "BV_INBOX": "off",
    }
    with serve_app(env, db, folder / "streamlit.log") as running:
        yield running


@pytest.fixture
def login_page(login_app, chromium, request: pytest.FixtureRequest):
    """A fresh browser context on the login-on app; a screenshot and the log on failure."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(LOAD_MS)
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"e2e-FAILED-{request.node.name}.png"))
        print(f"--- streamlit log (tail) ---\n{login_app.log.read_text(errors='replace')[-4000:]}")
    context.close()


def _session_cookie(page) -> dict | None:
    return next((c for c in page.context.cookies() if c["name"] == COOKIE), None)


def _wait_for_cookie(page, present: bool) -> dict | None:
    """The cookie is set (or cleared) by a request the page sends right after the rerun."""
    for _ in range(100):
        cookie = _session_cookie(page)
        if (cookie is not None) == present:
            return cookie
        page.wait_for_timeout(100)
    raise AssertionError(f"{COOKIE} cookie {'never set' if present else 'still there'}")


def test_a_reload_keeps_the_login_and_the_page_and_logout_ends_it(login_page, login_app, wait_idle):
    page = login_page
    page.goto(login_app.url)
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    account = page.get_by_text("👤 admin")
    expect(account).to_be_visible(timeout=LOAD_MS)

    cookie = _wait_for_cookie(page, present=True)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["expires"] > 0  # persistent (BV_SESSION_MAX_HOURS), not a browser-session one
    assert COOKIE not in page.evaluate("document.cookie")  # scripts cannot read it

    page.get_by_role("link", name="审计日志").click()
    page.wait_for_url("**/audit")
    heading = page.get_by_role("heading", name="审计日志")
    expect(heading).to_be_visible(timeout=LOAD_MS)

    page.reload()  # a new Streamlit session: logged in again from the cookie, same page
    expect(account).to_be_visible(timeout=LOAD_MS)
    expect(heading).to_be_visible(timeout=LOAD_MS)
    assert page.url.rstrip("/").endswith("/audit")
    expect(page.get_by_role("button", name="登录", exact=True)).to_have_count(0)

    wait_idle(page)  # the reload's run is over: a click during a rerun can be dropped
    page.get_by_text("账号", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible(timeout=LOAD_MS)
    _wait_for_cookie(page, present=False)

    page.reload()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_label("用户名")).to_be_visible()
    expect(account).to_have_count(0)


def test_a_cookie_of_a_logged_out_session_does_not_log_in(login_page, login_app, wait_idle):
    """Copying the cookie aside before logout and sending it again gets the login form."""
    page = login_page
    page.goto(login_app.url)
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_text("👤 admin")).to_be_visible(timeout=LOAD_MS)
    stolen = _wait_for_cookie(page, present=True)

    wait_idle(page)
    page.get_by_text("账号", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="退出登录").click()
    _wait_for_cookie(page, present=False)

    page.context.add_cookies([stolen])  # revoked on the server: the signature alone is not enough
    page.reload()
    expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_text("登录已失效")).to_be_visible()
    expect(page.get_by_text("👤 admin")).to_have_count(0)


def _cookie_route(app_url: str, method: str, origin: str, body: bytes = b""):
    request = urllib.request.Request(
        f"{app_url}/_bv/session", data=body or None, method=method, headers={"Origin": origin}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_all("Set-Cookie") or []


def test_the_cookie_route_sets_nothing_without_a_valid_ticket_or_from_another_site(login_app):
    own = login_app.url
    assert _cookie_route(own, "POST", own, b"forged.ticket.value") == (400, [])
    assert _cookie_route(own, "POST", "https://evil.example", b"x") == (403, [])
    assert _cookie_route(own, "DELETE", "https://evil.example") == (403, [])
    status, cleared = _cookie_route(own, "DELETE", own)
    assert status == 204 and len(cleared) == 1 and "Max-Age=0" in cleared[0]
    assert "HttpOnly" in cleared[0]
