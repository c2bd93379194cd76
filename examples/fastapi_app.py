"""A FastAPI back end that serves wskit and talks to its users from a REST route.

Run it from the project root::

    export WSKIT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uvicorn examples.fastapi_app:app --port 8000
    wskit token alice                                  # a token for alice (same WSKIT_SECRET)

Clients connect to ``ws://127.0.0.1:8000/ws`` with the token (``Authorization: Bearer``, the
subprotocols ``["wskit", token]``, or ``?token=``). The back end reaches every socket of a user::

    curl -X POST localhost:8000/users/alice/notify -H 'content-type: application/json' -d '{"text": "hi"}'

``http://127.0.0.1:8000/#token=<token>`` is a demo page that connects from the browser (the token
stays in the URL fragment, which browsers never send to the server). When the server says
``token_expiring``, the page gets a new token from ``POST /token/refresh`` and sends it on the
socket (``{"type": "refresh", "token": ...}``): the connection lives on without a gap.

An admin (a user listed in ``WSKIT_ADMINS``, comma-separated) closes every socket of a user on
every worker, and with ``"revoke": true`` refuses the user's tokens issued until now::

    curl -X POST localhost:8000/admin/users/alice/disconnect -H "authorization: Bearer $ADMIN_TOKEN" \
         -H 'content-type: application/json' -d '{"reason": "account blocked", "revoke": true}'

uvicorn's logs print each request's path with its query; ``?token=`` is masked there
(``wskit.asgi.redact_server_logs``).

Several workers (``uvicorn --workers 4``) or machines share their users over Redis: set
``WSKIT_BACKPLANE=redis://HOST:6379/0``; a REST call on any worker reaches the user's sockets on
every worker.
"""

from __future__ import annotations

import math
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from wskit import (
    AuthenticationError,
    BackplaneUnavailable,
    InvalidUserContext,
    ManagerRegistry,
    UserContext,
    get_websocket_manager,
)
from wskit.asgi import WskitEndpoint, redact_server_logs
from wskit.backplane import backplane_from_url
from wskit.session.auth import TokenClaims, load_secret


class Notice(BaseModel):
    """The body of `POST /users/{user_id}/notify`."""

    text: str
    thread_id: str | None = None


async def bearer(request: Request) -> TokenClaims:
    """The claims of the request's `Authorization: Bearer` token, checked as a WebSocket's are."""
    endpoint: WskitEndpoint = request.app.state.wskit
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "send 'Authorization: Bearer <token>'")
    try:
        return await endpoint.sessions.authenticate(token.strip())
    except AuthenticationError as exc:
        raise HTTPException(401, str(exc)) from None
    except BackplaneUnavailable as exc:
        raise HTTPException(503, str(exc)) from None


Bearer = Annotated[TokenClaims, Depends(bearer)]


class Disconnect(BaseModel):
    """The body of `POST /admin/users/{user_id}/disconnect`."""

    reason: str = "disconnected by an administrator"
    revoke: bool = False


def create_app(
    endpoint: WskitEndpoint | None = None, *, admins: str | None = None, token_ttl: float | None = None
) -> FastAPI:
    """The example app; `endpoint` defaults to one configured by `$WSKIT_SECRET` and `$WSKIT_BACKPLANE`.

    `admins`: comma-separated user ids who may disconnect users (default `$WSKIT_ADMINS`, none);
    `token_ttl`: seconds the tokens of `POST /token/refresh` last (default `$WSKIT_TOKEN_TTL`, 3600).
    """
    redact_server_logs()
    admin_ids = {a.strip() for a in (os.environ.get("WSKIT_ADMINS", "") if admins is None else admins).split(",")}
    admin_ids.discard("")
    if endpoint is None:
        try:
            backplane = backplane_from_url(os.environ.get("WSKIT_BACKPLANE") or None)
            endpoint = WskitEndpoint(secret=load_secret(), registry=ManagerRegistry(backplane=backplane))
        except ValueError as exc:
            raise RuntimeError(
                f"{exc}; e.g. export WSKIT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            ) from None
    ttl = _token_ttl(os.environ.get("WSKIT_TOKEN_TTL", "3600") if token_ttl is None else token_ttl, endpoint)
    app = FastAPI(title="wskit FastAPI example", lifespan=endpoint.lifespan, routes=endpoint.routes())
    app.state.wskit = endpoint

    @app.exception_handler(InvalidUserContext)
    async def bad_id(request: Request, exc: InvalidUserContext) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.post("/users/{user_id}/notify")
    async def notify(user_id: str, notice: Notice) -> dict[str, Any]:
        """Send a `notice` to every connection of `user_id` (stored for later if none is open).

        A real app puts this route behind its own authentication.
        """
        manager = get_websocket_manager(UserContext(user_id=user_id), registry=endpoint.registry)
        message: dict[str, Any] = {"type": "notice", "payload": {"text": notice.text}}
        if notice.thread_id is not None:
            message["thread_id"] = notice.thread_id
        report = await manager.send(message)
        return {"user_id": user_id, "seq": report.seq, "delivered": report.delivered, "stored": report.stored}

    @app.post("/token/refresh")
    async def refresh_token(claims: Bearer) -> dict[str, Any]:
        """A new token for the bearer of a valid, unrevoked one (what the demo page refreshes with).

        A real app issues tokens from its own sign-in; this one keeps a session going.
        """
        token = endpoint.mint_token(claims.user_id, ttl_seconds=ttl)
        return {"token": token}

    @app.post("/admin/users/{user_id}/disconnect")
    async def disconnect(user_id: str, body: Disconnect, claims: Bearer) -> dict[str, Any]:
        """Close every connection of `user_id` on every worker (4003 with `reason`); `revoke` also
        refuses the user's tokens issued until now. Only for the admins of `WSKIT_ADMINS`."""
        if claims.user_id not in admin_ids:
            raise HTTPException(403, f"{claims.user_id!r} is not an admin: admins are listed in WSKIT_ADMINS")
        try:
            told = await endpoint.registry.disconnect_user(user_id, body.reason, revoke=body.revoke)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        except BackplaneUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        return {"user_id": user_id, "processes": told, "revoked": body.revoke}

    @app.get("/", response_class=HTMLResponse)
    async def demo_page() -> str:
        return DEMO_PAGE

    return app


def _token_ttl(value: str | float, endpoint: WskitEndpoint) -> float:
    longest = endpoint.registry.max_token_lifetime
    try:
        ttl = float(value)
    except ValueError:
        ttl = math.nan
    if not 0 < ttl <= longest:
        raise RuntimeError(f"WSKIT_TOKEN_TTL must be seconds, more than 0 and at most {longest:g}; got {value!r}")
    return ttl


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wskit demo</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem}li{font-family:monospace}</style></head>
<body><h1>wskit demo</h1>
<p id="status">connecting...</p>
<p id="token"></p>
<form id="ask"><input id="text" value="hello from the browser"> <button>Ask the agent</button></form>
<ol id="events"></ol>
<script>
let token = new URLSearchParams(location.hash.slice(1)).get("token");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws`, ["wskit", token || ""]);
const until = (exp) => new Date(exp * 1000).toLocaleTimeString();
window.events = [];
window.refreshes = 0;
socket.onopen = () => { document.getElementById("status").textContent = `connected (${socket.protocol})`; };
socket.onclose = (e) => { document.getElementById("status").textContent = `closed ${e.code} ${e.reason}`; };
// The server warns before the token's exp; a new token sent on the socket keeps the connection.
async function refresh() {
  const response = await fetch("/token/refresh", {method: "POST", headers: {authorization: `Bearer ${token}`}});
  const body = await response.json();
  if (!response.ok) { document.getElementById("token").textContent = `no new token: ${body.detail}`; return; }
  token = body.token;
  socket.send(JSON.stringify({type: "refresh", token}));
}
socket.onmessage = (e) => {
  const m = JSON.parse(e.data);
  window.events.push(m);
  if (m.type === "token_expiring") {
    document.getElementById("token").textContent = `token expires at ${until(m.exp)}: refreshing`;
    refresh();
    return;
  }
  if (m.type === "token_refreshed") {
    window.refreshes += 1;
    document.getElementById("token").textContent = `token refreshed, valid until ${until(m.exp)}`;
    return;
  }
  const li = document.createElement("li");
  li.textContent = `${m.seq ?? "-"} ${m.type}`;
  document.getElementById("events").appendChild(li);
};
document.getElementById("ask").onsubmit = (e) => {
  e.preventDefault();
  const text = document.getElementById("text").value;
  socket.send(JSON.stringify({type: "user_message", payload: text, thread_id: "browser"}));
};
</script></body></html>
"""

app = create_app()
