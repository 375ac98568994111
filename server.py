"""The server: the Streamlit app (``app.py``) plus the one HTTP route that sets and clears the
login cookie. Start it with ``streamlit run server.py`` (``make run``).

A Streamlit page talks to the browser over a websocket and cannot send a ``Set-Cookie``
header, so an HttpOnly cookie needs an HTTP response. ``st.App`` (Streamlit's supported way to
add Starlette routes) serves :data:`COOKIE_PATH`:

- ``POST`` with a handoff ticket (``data.sessions.handoff_ticket``, issued at login, good for
  60 s) sets ``bv_session``: the signed session token, HttpOnly, SameSite=Lax, Secure over
  HTTPS, for ``BV_SESSION_MAX_HOURS``;
- ``DELETE`` clears it (after logout, or once its session has ended).

Only same-origin requests are answered. The pages read the cookie with ``st.context.cookies``
and resolve it against the server-side session table (``pages/_session.py``), so logout, a
password change and the idle timeout end a cookie's login at once.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import streamlit as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from streamlit.runtime.pages_manager import PagesManager

from data import sessions
from data.settings import settings

# Streamlit's legacy multipage mode: a fresh server whose main script has a ``pages/`` folder
# beside it runs ``pages/<name>.py`` directly for a deep link (/calls) and lists every module
# of the folder in the sidebar, until the first ``st.navigation`` call of the process switches
# it off. Here ``pages/`` holds modules that app.py's ``st.navigation`` registers by role, so
# the legacy mode is switched off before the first session (there is no config option for it).
# The flag is a class attribute that ``st.navigation`` itself sets to False.
PagesManager.uses_pages_directory = False

#: where the browser posts the login ticket (and sends DELETE at logout)
COOKIE_PATH = sessions.COOKIE_ROUTE


@lru_cache(maxsize=4)
def _key(configured: str, path: Path) -> str:
    return sessions.secret_key(configured, path)


def _same_origin(request: Request) -> bool:
    """True when the browser says the request comes from a page of this server."""
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc == request.headers.get("host")


async def session_cookie(request: Request) -> Response:
    """Set (POST, body = handoff ticket) or clear (DELETE) the HttpOnly login cookie."""
    if not _same_origin(request):
        return PlainTextResponse("cross-origin request refused", status_code=403)
    cfg = settings()
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    if request.method == "DELETE":
        response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="lax")
        return response
    key = _key(cfg.session_secret, cfg.session_secret_file)
    ticket = (await request.body()).decode("ascii", errors="replace").strip()
    token = sessions.token_from_ticket(ticket, key)
    if token is None:
        return PlainTextResponse("invalid or expired ticket", status_code=400)
    max_age = timedelta(hours=cfg.session_max_hours)
    response.set_cookie(
        sessions.COOKIE_NAME,
        sessions.cookie_value(token, key),
        max_age=int(max_age.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


app = st.App("app.py", routes=[Route(COOKIE_PATH, session_cookie, methods=["POST", "DELETE"])])
