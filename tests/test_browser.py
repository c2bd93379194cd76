"""A browser on the FastAPI example: Chromium connects with the token as a subprotocol and gets the agent run."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from servers import ServerProcess

from wskit import AGENT_EVENTS


@pytest.mark.browser
def test_chromium_runs_the_agent_and_receives_a_rest_notice(browser: Any, tmp_path: Path) -> None:
    with ServerProcess("uvicorn", tmp_path / "server.log") as server:
        token = server.mint_token("browser-user")
        page = browser.new_page()
        # Served from 127.0.0.1 itself: Chromium lets such a page open a socket to loopback.
        page.goto(f"{server.http_url('/')}#token={token}", wait_until="load")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('connected')")
        assert page.text_content("#status") == "connected (wskit)"
        page.click("button")
        page.wait_for_function("window.events.filter(e => e.type === 'agent_completed').length === 1")
        request = urllib.request.Request(
            server.http_url("/users/browser-user/notify"),
            data=json.dumps({"text": "from the back end"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response) == {"user_id": "browser-user", "seq": 6, "delivered": 1, "stored": True}
        page.wait_for_function("window.events.length === 6")
        events = page.evaluate("window.events")
        assert [e["type"] for e in events] == [*AGENT_EVENTS, "notice"]
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
        assert {e["user_id"] for e in events} == {"browser-user"}
        assert events[-1]["payload"] == {"text": "from the back end"}
        assert events[-2]["payload"] == {"result": "your message has 4 words"}
        assert page.locator("#events li").count() == 6
        page.screenshot(path=str(tmp_path / "demo.png"))
        page.close()
    assert token not in server.log()


@pytest.mark.browser
def test_the_demo_page_refreshes_its_token_and_keeps_its_stream(browser: Any, tmp_path: Path) -> None:
    # Tokens of 4 s, warned 2 s before exp: the page refreshes about every 2 s.
    with ServerProcess("uvicorn", tmp_path / "server.log", token_ttl=4, token_expiry_warning=2) as server:
        token = server.mint_token("refresher", ttl_seconds=4)
        page = browser.new_page()
        page.goto(f"{server.http_url('/')}#token={token}", wait_until="load")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('connected')")
        page.wait_for_function("window.refreshes >= 3", timeout=15_000)  # 3 tokens later, past the first's exp
        assert page.text_content("#status") == "connected (wskit)"
        assert page.text_content("#token").startswith("token refreshed, valid until ")
        request = urllib.request.Request(
            server.http_url("/users/refresher/notify"),
            data=json.dumps({"text": "still there?"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["delivered"] == 1
        page.wait_for_function("window.events.some(e => e.type === 'notice')")
        events = page.evaluate("window.events")
        assert [e["seq"] for e in events if "seq" in e] == [1]
        kinds = [e["type"] for e in events if "seq" not in e]
        assert kinds[:2] == ["token_expiring", "token_refreshed"]
        assert set(kinds) == {"token_expiring", "token_refreshed"}
        assert page.locator("#events li").count() == 1  # only the stream is listed
        page.close()
    assert token not in server.log()
