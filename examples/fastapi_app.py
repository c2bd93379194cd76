"""A FastAPI back end that serves wskit and talks to its users from a REST route.

Run it from the project root::

    export WSKIT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
    uvicorn examples.fastapi_app:app --port 8000
    wskit token alice                                  # a token for alice (same WSKIT_SECRET)

Clients connect to ``ws://127.0.0.1:8000/ws`` with the token (``Authorization: Bearer``, the
subprotocols ``["wskit", token]``, or ``?token=``). The back end reaches every socket of a user::

    curl -X POST localhost:8000/users/alice/notify -H 'content-type: application/json' -d '{"text": "hi"}'

``http://127.0.0.1:8000/#token=<token>`` is a demo page that connects from the browser (the token
stays in the URL fragment, which browsers never send to the server).

Several workers (``uvicorn --workers 4``) or machines share their users over Redis: set
``WSKIT_BACKPLANE=redis://HOST:6379/0``; a REST call on any worker reaches the user's sockets on
every worker.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from wskit import InvalidUserContext, ManagerRegistry, UserContext, get_websocket_manager
from wskit.asgi import WskitEndpoint
from wskit.backplane import backplane_from_url
from wskit.session.auth import load_secret


class Notice(BaseModel):
    """The body of `POST /users/{user_id}/notify`."""

    text: str
    thread_id: str | None = None


def create_app(endpoint: WskitEndpoint | None = None) -> FastAPI:
    """The example app; `endpoint` defaults to one configured by `$WSKIT_SECRET` and `$WSKIT_BACKPLANE`."""
    if endpoint is None:
        try:
            backplane = backplane_from_url(os.environ.get("WSKIT_BACKPLANE") or None)
            endpoint = WskitEndpoint(secret=load_secret(), registry=ManagerRegistry(backplane=backplane))
        except ValueError as exc:
            raise RuntimeError(
                f"{exc}; e.g. export WSKIT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            ) from None
    app = FastAPI(title="wskit FastAPI example", lifespan=endpoint.lifespan, routes=endpoint.routes())

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

    @app.get("/", response_class=HTMLResponse)
    async def demo_page() -> str:
        return DEMO_PAGE

    return app


DEMO_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wskit demo</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem}li{font-family:monospace}</style></head>
<body><h1>wskit demo</h1>
<p id="status">connecting...</p>
<form id="ask"><input id="text" value="hello from the browser"> <button>Ask the agent</button></form>
<ol id="events"></ol>
<script>
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws`, ["wskit", token || ""]);
window.events = [];
socket.onopen = () => { document.getElementById("status").textContent = `connected (${socket.protocol})`; };
socket.onclose = (e) => { document.getElementById("status").textContent = `closed ${e.code} ${e.reason}`; };
socket.onmessage = (e) => {
  const m = JSON.parse(e.data);
  window.events.push(m);
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
