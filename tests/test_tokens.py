"""A token's life inside a connection, driven directly with in-memory connections: the warning before
`exp`, the close at `exp`, refresh in place, revocation at the handshake and at refresh, and
`disconnect_user()` on the in-process backplane. (Over real servers: test_adapters.py and
test_redis_servers.py.)"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from typing import Any

import jwt
import pytest
from conftest import MemoryConnection, ctx, settle

from wskit import ManagerRegistry
from wskit.backplane import InProcessBackplane, Revocation
from wskit.core.errors import AuthenticationError, BackplaneUnavailable
from wskit.registry import USER_DISCONNECTED
from wskit.session.auth import TokenClaims, generate_secret, verify_claims
from wskit.session.connection import TOKEN_EXPIRED, Session, SessionHost, SessionLimits
from wskit.session.handshake import Handshake, HandshakeRefused

SECRET = generate_secret()


def host(registry: ManagerRegistry | None = None, **limits: Any) -> SessionHost:
    limits.setdefault("resume_grace", 0)
    registry = registry if registry is not None else ManagerRegistry()
    return SessionHost(registry=registry, secret=SECRET, limits=SessionLimits(**limits))


def claims(user: str, ttl: float, *, lived: float = 0.0) -> TokenClaims:
    """A verified token of `user` issued `lived` seconds ago that expires in `ttl` seconds."""
    now = time.time()
    return TokenClaims(user, now - lived, now + ttl)


def signed(user: str, ttl: float = 3600, *, secret: str = SECRET, issued: float | None = None, **extra: Any) -> str:
    now = int(time.time()) if issued is None else issued
    return jwt.encode({"sub": user, "iat": now, "exp": now + ttl, **extra}, secret, algorithm="HS256")


async def open_session(
    sessions: SessionHost, token: TokenClaims, connection: MemoryConnection | None = None
) -> tuple[Session, MemoryConnection]:
    connection = connection or MemoryConnection(token.user_id)
    session = await sessions.open(connection, Handshake(token))
    assert session is not None
    return session, connection


async def until_closed(connection: MemoryConnection, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while connection.closed_with is None:  # noqa: ASYNC110 - the connection has no event to wait on
            await asyncio.sleep(0.01)


def of_type(connection: MemoryConnection, kind: str) -> list[dict[str, Any]]:
    return [m for m in connection.messages if m["type"] == kind]


async def refresh(session: Session, connection: MemoryConnection, token: str) -> dict[str, Any]:
    """Send a refresh frame; return the reply it got."""
    before = len(connection.frames)
    await session.receive(json.dumps({"type": "refresh", "token": token}))
    await settle(session._host, session.user_id)
    assert len(connection.frames) == before + 1, connection.messages[before:]
    reply: dict[str, Any] = connection.messages[-1]
    return reply


async def next_second() -> None:
    await asyncio.sleep(math.ceil(time.time()) - time.time() + 0.01)


def run(coroutine: Any) -> None:
    asyncio.run(coroutine)


# -- expiry -------------------------------------------------------------------------------------


def test_a_connection_is_warned_then_closed_4001_within_a_tick_of_exp() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=0.3)
        token = claims("alice", 0.7, lived=10)
        session, connection = await open_session(sessions, token)
        other, bystander = await open_session(sessions, claims("bob", 3600))
        assert session.expires_at == token.expires_at
        await asyncio.sleep(0.55)  # past the warning (0.4 s from now), before exp
        assert connection.messages == [{"type": "token_expiring", "exp": token.expires_at}]
        assert connection.closed_with is None and not session.closing
        await until_closed(connection)
        assert connection.closed_with == (TOKEN_EXPIRED, "token expired") == (4001, "token expired")
        assert connection.closed_at is not None and 0 <= connection.closed_at - token.expires_at < 0.5
        assert session.closing
        await session.receive('{"type": "ping"}')  # discarded: the close has started
        assert len(connection.frames) == 1
        assert bystander.closed_with is None and not other.closing
        await session.finish()
        await sessions.close()

    run(scenario())


def test_a_token_shorter_than_twice_the_warning_is_warned_halfway() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=60)
        token = claims("alice", 50, lived=50)  # 100 s long: warned 50 s before exp, i.e. now
        session, connection = await open_session(sessions, token)
        await asyncio.sleep(0.15)  # within a tick
        assert of_type(connection, "token_expiring") == [{"type": "token_expiring", "exp": token.expires_at}]
        assert session._deadline == math.ceil(token.expires_at * 10)  # next: the close at exp
        fresh = claims("alice", 100)  # 100 s long, just issued: warned halfway, 50 s before exp
        halfway, _ = await open_session(sessions, fresh)
        assert halfway._deadline == math.ceil((fresh.expires_at - 50) * 10)
        longer = claims("alice", 300, lived=1)  # warned 60 s before exp
        later, quiet = await open_session(sessions, longer)
        assert later._deadline == math.ceil((longer.expires_at - 60) * 10)
        await settle(sessions)
        assert quiet.messages == []
        await sessions.close()

    run(scenario())


def test_without_a_warning_the_connection_is_only_closed_at_exp() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=0)
        _, connection = await open_session(sessions, claims("alice", 0.3))
        await until_closed(connection)
        assert connection.messages == []
        assert connection.closed_with == (4001, "token expired")
        await sessions.close()

    run(scenario())


def test_an_already_expired_token_is_closed_at_once() -> None:
    async def scenario() -> None:
        sessions = host()
        _, connection = await open_session(sessions, claims("alice", -1))
        await until_closed(connection, timeout=0.5)
        assert connection.closed_with == (4001, "token expired")
        await sessions.close()

    run(scenario())


def test_connections_expire_each_at_its_own_exp_whatever_the_order_they_came_in() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=0, max_connections_per_user=10)
        tokens = {name: claims("alice", ttl) for name, ttl in [("b", 0.6), ("a", 0.3), ("gone", 0.2), ("c", 0.45)]}
        opened = {name: await open_session(sessions, token) for name, token in tokens.items()}
        await opened["gone"][0].finish()  # its deadline, first in line, is dropped
        for name in ("a", "c", "b"):
            connection = opened[name][1]
            await until_closed(connection)
            assert connection.closed_at is not None
            assert 0 <= connection.closed_at - tokens[name].expires_at < 0.25, name
        assert opened["gone"][1].closed_with is None
        await sessions.close()

    run(scenario())


def test_connections_whose_tokens_expire_in_the_same_tick_are_all_closed() -> None:
    """Tokens count whole seconds: users signed in the same second expire in the same tick."""

    async def scenario() -> None:
        sessions = host(token_expiry_warning=0)
        exp = time.time() + 0.4
        opened = [await open_session(sessions, TokenClaims(user, exp - 60, exp)) for user in ("alice", "bob", "carol")]
        for _, connection in opened:
            await until_closed(connection)
            assert connection.closed_with == (TOKEN_EXPIRED, "token expired")
        await sessions.close()

    run(scenario())


def test_a_deadline_reached_after_a_refresh_moved_it_warns_no_one_early() -> None:
    """The host's task runs what the timer found due; a refresh in between moved the deadline."""

    async def scenario() -> None:
        sessions = host(token_expiry_warning=60)
        session, connection = await open_session(sessions, claims("alice", 600))
        now = time.time()
        await session._deadline_reached(now)
        assert connection.messages == [] and not session.closing
        assert session._deadline == math.ceil((session.expires_at - 60) * 10)  # waiting for its warning again
        await session._deadline_reached(session.expires_at - 60)
        assert connection.messages == [{"type": "token_expiring", "exp": session.expires_at}]
        assert session._deadline == math.ceil(session.expires_at * 10)
        await session._deadline_reached(session.expires_at - 1)  # warned once per exp
        assert len(connection.messages) == 1 and not session.closing
        await sessions.close()

    run(scenario())


def test_one_timer_serves_every_connection_whatever_their_count() -> None:
    async def scenario() -> None:
        sessions = host(max_connections_per_user=1000)
        loop = asyncio.get_running_loop()
        baseline = len(loop._scheduled)  # type: ignore[attr-defined]
        opened = [await open_session(sessions, claims(f"u{i}", 5 + i / 10)) for i in range(300)]
        # 300 connections expiring over 30 s: the host's one timer, not one each.
        assert len(loop._scheduled) - baseline <= 2  # type: ignore[attr-defined]
        for session, _ in opened:
            await session.finish()
        assert all(s._deadline is None for s, _ in opened)
        assert sessions._deadlines._buckets == {}
        await sessions.close()
        assert sessions._deadlines._timer is None

    run(scenario())


def test_closing_the_host_stops_the_timer_and_forgets_every_deadline() -> None:
    async def scenario() -> None:
        sessions = host()
        session, connection = await open_session(sessions, claims("alice", 0.2))
        await sessions.close()
        assert connection.closed_with == (1001, "server shutting down")
        assert session._deadline is None and sessions._deadlines._timer is None
        await asyncio.sleep(0.3)  # the old deadline passes: nothing fires
        await session.finish()  # the adapter's finally: nothing left to cancel

    run(scenario())


# -- refresh ------------------------------------------------------------------------------------


def test_a_refresh_moves_the_deadline_and_the_stream_goes_on() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=0.2)
        first = claims("alice", 0.4, lived=5)
        session, connection = await open_session(sessions, first)
        manager = sessions.registry.get("alice")
        assert manager is not None
        await manager.send({"type": "n", "payload": 1})
        await asyncio.sleep(0.3)  # warned
        assert of_type(connection, "token_expiring") == [{"type": "token_expiring", "exp": first.expires_at}]
        new = signed("alice", 2)
        exp = verify_claims(new, SECRET).expires_at
        assert await refresh(session, connection, new) == {"type": "token_refreshed", "exp": exp}
        assert session.expires_at == exp
        await asyncio.sleep(0.3)  # the first token's exp has passed
        await manager.send({"type": "n", "payload": 2})
        await settle(sessions)
        assert connection.closed_with is None
        assert [m["seq"] for m in connection.messages if "seq" in m] == [1, 2]
        assert len(of_type(connection, "token_expiring")) == 1
        await sessions.close()

    run(scenario())


def test_a_refresh_with_the_exp_already_warned_of_is_not_warned_again() -> None:
    async def scenario() -> None:
        sessions = host(token_expiry_warning=60)
        token = signed("alice", 10, issued=int(time.time()) - 6)  # 10 s long: warned halfway, 1 s ago
        session, connection = await open_session(sessions, verify_claims(token, SECRET))
        await asyncio.sleep(0.15)
        assert len(of_type(connection, "token_expiring")) == 1
        assert (await refresh(session, connection, token))["type"] == "token_refreshed"  # the same token again
        await asyncio.sleep(0.3)
        assert len(of_type(connection, "token_expiring")) == 1
        await sessions.close()

    run(scenario())


def test_another_users_token_is_refused_and_the_connection_closed_1008() -> None:
    async def scenario() -> None:
        sessions = host()
        session, connection = await open_session(sessions, claims("alice", 3600))
        reply = await refresh(session, connection, signed("mallory"))
        assert reply == {
            "type": "error", "code": "refresh_refused",
            "detail": "the token is another user's; a connection keeps its user",
        }  # fmt: skip
        await until_closed(connection)
        assert connection.closed_with == (1008, "refresh with another user's token")
        assert session.user_id == "alice"
        await sessions.close()

    run(scenario())


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (signed("alice", -10, issued=int(time.time()) - 20), "token expired: mint a new one"),
        (signed("alice", secret=generate_secret()), "bad token signature"),
        (jwt.encode({"sub": "alice", "exp": int(time.time()) + 3600}, SECRET), "token lacks the required 'iat' claim"),
        (signed("alice", 100_000), "token lasts 100000 s (exp - iat), longer than this server's limit of 86400 s"),
        (
            jwt.encode({"sub": "alice", "iat": "12", "exp": int(time.time()) + 3600}, SECRET),
            "malformed token: iat must be a number of seconds; got '12'",
        ),
        ("not.a.token", "malformed token"),
    ],
)
def test_a_bad_token_is_refused_and_the_connection_keeps_its_own(token: str, detail: str) -> None:
    async def scenario() -> None:
        sessions = host()
        current = claims("alice", 3600)
        session, connection = await open_session(sessions, current)
        reply = await refresh(session, connection, token)
        assert (reply["type"], reply["code"]) == ("error", "refresh_refused")
        assert reply["detail"].startswith(detail), reply["detail"]
        assert session.expires_at == current.expires_at
        await session.receive('{"type": "ping"}')
        await settle(sessions)
        assert connection.messages[-1] == {"type": "pong"} and connection.closed_with is None
        await sessions.close()

    run(scenario())


def test_a_refresh_frame_without_a_token_is_a_bad_frame() -> None:
    async def scenario() -> None:
        sessions = host()
        session, connection = await open_session(sessions, claims("alice", 3600))
        reply = await refresh(session, connection, "")
        assert reply == {
            "type": "error", "code": "invalid_field",
            "detail": "refresh needs 'token', the new token as a string; got ''",
        }  # fmt: skip
        await sessions.close()

    run(scenario())


def test_a_refresh_that_finds_its_connection_expired_changes_nothing() -> None:
    class Slow(InProcessBackplane):
        """Answers the revocation question only when told to (a Redis round trip, stretched)."""

        gate: asyncio.Event | None = None

        async def revocation(self, user_id: str) -> Revocation | None:
            if self.gate is not None:
                await self.gate.wait()
            return None

    async def scenario() -> None:
        backplane = Slow()
        sessions = host(ManagerRegistry(backplane=backplane), token_expiry_warning=0)
        session, connection = await open_session(sessions, claims("alice", 0.2))
        backplane.gate = asyncio.Event()
        refreshing = asyncio.ensure_future(session.receive(json.dumps({"type": "refresh", "token": signed("alice")})))
        await until_closed(connection)  # it expired while the refresh waited for the backplane
        backplane.gate.set()
        await refreshing
        assert connection.messages == [] and connection.closed_with == (4001, "token expired")
        assert session._deadline is None
        await sessions.close()

    run(scenario())


# -- revocation ---------------------------------------------------------------------------------


def test_disconnect_user_closes_every_connection_of_the_user_4003_and_nobody_elses() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry()
        sessions = host(registry)
        alices = [await open_session(sessions, claims("alice", 3600)) for _ in range(2)]
        _, bob = await open_session(sessions, claims("bob", 3600))
        assert await registry.disconnect_user("alice", "account blocked") == 1
        for _, connection in alices:
            await until_closed(connection)
            assert connection.closed_with == (USER_DISCONNECTED, "account blocked") == (4003, "account blocked")
        assert bob.closed_with is None
        manager = registry.get("alice")
        assert manager is not None and not manager._background  # the closing tasks are gone once done
        assert await registry.disconnect_user("alice", "again") == 0  # nobody left here
        assert await registry.disconnect_user("carol", "never here") == 0
        # Without revoke, a token of before still opens a connection.
        await sessions.handshake(authorization=f"Bearer {signed('alice')}", subprotocols=(), query="")
        await sessions.close()

    run(scenario())


@pytest.mark.parametrize(
    ("user_id", "reason", "revoke", "error", "message"),
    [
        ("bad id", "r", False, ValueError, "user_id must be a non-empty str"),
        ("alice", "", False, ValueError, "reason must be one line of 1 to 120 UTF-8 bytes"),
        ("alice", "  ", False, ValueError, "reason must be one line"),
        ("alice", "two\nlines", False, ValueError, "reason must be one line"),
        ("alice", "é" * 61, False, ValueError, "reason must be one line"),
        ("alice", None, False, ValueError, "got None"),
        ("alice", "r", "yes", TypeError, "revoke must be True or False; got str"),
    ],
)
def test_disconnect_user_says_what_was_wrong(
    user_id: str, reason: object, revoke: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        run(ManagerRegistry().disconnect_user(user_id, reason, revoke=revoke))  # type: ignore[arg-type]


def test_the_longest_reason_fits_a_close_frame() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry()
        sessions = host(registry)
        _, connection = await open_session(sessions, claims("alice", 3600))
        reason = "é" * 60  # 120 bytes
        assert await registry.disconnect_user("alice", reason) == 1
        await until_closed(connection)
        assert connection.closed_with == (4003, reason)
        await sessions.close()

    run(scenario())


def test_a_revoked_token_is_refused_at_the_handshake_and_at_refresh_a_newer_one_is_not() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry()
        sessions = host(registry)
        old = signed("alice", issued=int(time.time()) - 5)
        await sessions.handshake(authorization=f"Bearer {old}", subprotocols=(), query="")
        _, connection = await open_session(sessions, verify_claims(old, SECRET))
        assert await registry.disconnect_user("alice", "password changed", revoke=True) == 1
        await until_closed(connection)
        assert connection.closed_with == (4003, "password changed")
        with pytest.raises(HandshakeRefused) as refused:
            await sessions.handshake(authorization=f"Bearer {old}", subprotocols=(), query="")
        assert refused.value.status == 401
        assert re.fullmatch(
            r"token revoked \(password changed\): tokens of this user issued before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
            r" are refused; sign in again", refused.value.reason,
        )  # fmt: skip
        assert sessions.rejected_handshakes == 1
        with pytest.raises(AuthenticationError, match=r"^token revoked \(password changed\)"):
            await sessions.authenticate(old)
        await next_second()
        newer = signed("alice")  # issued after the revocation (iat counts whole seconds)
        handshake = await sessions.handshake(authorization=f"Bearer {newer}", subprotocols=(), query="")
        assert handshake.user_id == "alice"
        assert (await sessions.authenticate(newer)).user_id == "alice"
        session, live = await open_session(sessions, handshake.claims)
        reply = await refresh(session, live, old)
        assert (reply["code"], reply["detail"]) == ("refresh_refused", refused.value.reason)
        assert live.closed_with is None and session.expires_at == handshake.claims.expires_at
        # Other users' tokens are not touched.
        await sessions.handshake(authorization=f"Bearer {signed('bob', issued=int(time.time()) - 5)}",
                                 subprotocols=(), query="")  # fmt: skip
        await sessions.close()

    run(scenario())


def test_a_token_issued_in_the_revocations_own_second_is_not_refused() -> None:
    """A revocation refuses tokens issued *before* its cut-off; one issued at it is not."""

    async def scenario() -> None:
        registry = ManagerRegistry()
        sessions = host(registry)
        await registry.disconnect_user("alice", "logged out", revoke=True)
        revocation = await registry.backplane.revocation("alice")
        assert revocation is not None
        at_cut = TokenClaims("alice", revocation.before, revocation.before + 600)
        assert (await open_session(sessions, at_cut))[1].closed_with is None
        before = TokenClaims("alice", revocation.before - 1, revocation.before + 600)
        assert await sessions.open(MemoryConnection("alice"), Handshake(before)) is None
        await sessions.close()

    run(scenario())


def test_a_revocation_made_between_the_handshake_and_the_open_closes_the_connection() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry()
        sessions = host(registry)
        token = signed("alice", issued=int(time.time()) - 5)
        handshake = await sessions.handshake(authorization=f"Bearer {token}", subprotocols=(), query="")
        assert await registry.disconnect_user("alice", "logged out", revoke=True) == 0  # not connected yet
        connection = MemoryConnection("alice")
        assert await sessions.open(connection, handshake) is None
        assert connection.closed_with == (4003, "logged out")
        manager = registry.get("alice")
        assert manager is not None and dict(manager.connections) == {}
        assert connection.frames == []  # nothing of the stream reached it
        await sessions.close()

    run(scenario())


class Unreachable(InProcessBackplane):
    """A backplane that cannot say whether a token was revoked (what a stopped Redis looks like);
    `fail_after` answers that many questions first."""

    def __init__(self, fail_after: int = 0) -> None:
        super().__init__()
        self.answers = fail_after

    async def revocation(self, user_id: str) -> Revocation | None:
        if self.answers == 0:
            raise BackplaneUnavailable("cannot check whether the token was revoked: Redis at redis://r:6379/0 failed")
        self.answers -= 1
        return None


def test_while_revocations_cannot_be_read_tokens_are_refused_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=Unreachable()))
        with pytest.raises(HandshakeRefused) as refused:
            await sessions.handshake(authorization=f"Bearer {signed('alice')}", subprotocols=(), query="")
        assert (refused.value.status, refused.value.reason) == (
            503, "cannot check whether the token was revoked: Redis at redis://r:6379/0 failed",
        )  # fmt: skip
        assert sessions.rejected_handshakes == 1
        with pytest.raises(BackplaneUnavailable):
            await sessions.authenticate(signed("alice"))
        await sessions.close()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "refused a connection of user 'alice': cannot check whether the token was revoked: Redis at"
        " redis://r:6379/0 failed"
    ]


def test_a_refresh_while_revocations_cannot_be_read_keeps_the_current_token(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=Unreachable(fail_after=1)))  # the open's question is answered
        current = claims("alice", 3600)
        session, connection = await open_session(sessions, current)
        reply = await refresh(session, connection, signed("alice"))
        assert reply == {
            "type": "error", "code": "refresh_unavailable",
            "detail": "cannot check whether the token was revoked: Redis at redis://r:6379/0 failed;"
                      " the current token stays in force: try again later",
        }  # fmt: skip
        assert session.expires_at == current.expires_at and connection.closed_with is None
        await sessions.close()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "refused a token refresh of user 'alice': cannot check whether the token was revoked: Redis at"
        " redis://r:6379/0 failed"
    ]


def test_a_connection_whose_revocation_cannot_be_read_at_the_open_is_closed_1013() -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=Unreachable()))
        connection = MemoryConnection("alice")
        assert await sessions.open(connection, Handshake(claims("alice", 3600))) is None
        assert connection.closed_with == (1013, "backplane unavailable: try again later")
        manager = sessions.registry.get("alice")
        assert manager is not None and dict(manager.connections) == {}
        await sessions.close()

    run(scenario())


def test_the_handshake_applies_the_registrys_longest_token_lifetime() -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(max_token_lifetime=600))
        await sessions.handshake(authorization=f"Bearer {signed('alice', 600)}", subprotocols=(), query="")
        for token, reason in [
            (signed("alice", 601), "token lasts 601 s (exp - iat), longer than this server's limit of 600 s:"
                                   " mint a shorter-lived token"),
            (jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, SECRET),
             "token lacks the required 'iat' claim (when it was issued)"),
        ]:  # fmt: skip
            with pytest.raises(HandshakeRefused) as refused:
                await sessions.handshake(authorization=f"Bearer {token}", subprotocols=(), query="")
            assert (refused.value.status, refused.value.reason) == (401, reason)
        await sessions.close()

    run(scenario())


# -- the in-process backplane's revocations -----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_revocation_lasts_its_ttl_and_the_later_one_wins() -> None:
    async def scenario() -> None:
        clock = Clock()
        backplane = InProcessBackplane(clock=clock)
        assert await backplane.revocation("alice") is None
        assert await backplane.disconnect("alice", "first", revoke=Revocation(500.0, "first"), ttl=60) == 0
        assert await backplane.revocation("alice") == Revocation(500.0, "first")
        await backplane.disconnect("alice", "older", revoke=Revocation(400.0, "older"), ttl=60)
        assert await backplane.revocation("alice") == Revocation(500.0, "first")  # an earlier cut-off changes nothing
        clock.now += 30
        await backplane.disconnect("alice", "later", revoke=Revocation(600.0, "later"), ttl=60)
        assert await backplane.revocation("alice") == Revocation(600.0, "later")
        clock.now += 59.9
        assert await backplane.revocation("alice") == Revocation(600.0, "later")  # 60 s from the later one
        await backplane.disconnect("alice", "tie", revoke=Revocation(600.0, "tie"), ttl=60)
        assert await backplane.revocation("alice") == Revocation(600.0, "tie")  # a tie: the newer one, anew
        clock.now += 59.9
        assert await backplane.revocation("alice") == Revocation(600.0, "tie")
        clock.now += 0.1
        assert await backplane.revocation("alice") is None
        assert await backplane.disconnect("bob", "no revoke", revoke=None, ttl=60) == 0
        assert await backplane.revocation("bob") is None

    run(scenario())


def test_lapsed_revocations_are_forgotten_without_being_asked_for() -> None:
    async def scenario() -> None:
        clock = Clock()
        backplane = InProcessBackplane(clock=clock)
        for i in range(3):
            await backplane.disconnect(f"u{i}", "r", revoke=Revocation(1.0, "r"), ttl=10)
            clock.now += 1
        clock.now += 8  # u0 and u1 lapsed (at 1010 and, now, 1011), u2 not (1012)
        await backplane.disconnect("v", "r", revoke=Revocation(1.0, "r"), ttl=10)
        assert list(backplane._revocations) == ["u2", "v"]

    run(scenario())


def test_registry_max_token_lifetime_is_validated() -> None:
    for bad in (0, -1, True, "3600"):
        with pytest.raises(ValueError, match=f"max_token_lifetime must be a positive number; got {bad!r}"):
            ManagerRegistry(max_token_lifetime=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^max_token_lifetime must be a finite number of seconds; got inf$"):
        ManagerRegistry(max_token_lifetime=math.inf)
    assert ManagerRegistry(max_token_lifetime=0.5).max_token_lifetime == 0.5


@pytest.mark.parametrize("bad", [-1, True, "60", math.inf, math.nan])
def test_a_bad_token_expiry_warning_is_refused(bad: object) -> None:
    message = f"token_expiry_warning must be a number of seconds >= 0; got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        SessionLimits(token_expiry_warning=bad)  # type: ignore[arg-type]


def test_a_released_manager_that_got_a_connection_again_is_disconnected_too() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry(idle_timeout=0.01)
        manager = registry.get_or_create(ctx("alice"))
        await asyncio.sleep(0.02)
        registry.release_idle()
        assert "alice" not in registry and registry.get("alice") is manager
        connection = MemoryConnection("alice")
        await manager.add_connection(connection, user_id="alice")
        assert registry.close_user("alice", "bye") == 1
        await until_closed(connection)
        assert connection.closed_with == (4003, "bye")

    run(scenario())


class Unclosable(MemoryConnection):
    """A peer that went away first: closing it fails."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        raise ConnectionResetError("peer went away")


def test_a_connection_that_cannot_be_closed_is_let_go_quietly(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        registry = ManagerRegistry()
        manager = registry.get_or_create(ctx("alice"))
        await manager.add_connection(Unclosable("alice"), user_id="alice")
        assert registry.close_user("alice", "bye") == 1
        for _ in range(10):
            await asyncio.sleep(0)
        assert dict(manager.connections) == {} and not manager._background

    with caplog.at_level(logging.DEBUG, logger="wskit.unified_manager"):
        run(scenario())
    assert [r.getMessage() for r in caplog.records] == ["close failed: ConnectionResetError('peer went away')"]
