"""The connection protocol driven directly, with in-memory connections: no sockets, no server."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import MemoryConnection, ctx, settle

from wskit import AGENT_EVENTS, ManagerRegistry
from wskit.backplane import InProcessBackplane, Position, Published
from wskit.core.envelope import Draft
from wskit.core.errors import BackplaneUnavailable
from wskit.session.auth import TokenClaims, generate_secret, mint_token, verify_claims
from wskit.session.connection import Session, SessionHost, SessionLimits, _size_over
from wskit.session.handshake import Handshake, HandshakeRefused

SECRET = generate_secret()


def verified(user: str, ttl: float = 3600.0, *, issued: float | None = None) -> Handshake:
    """The handshake of a token of `user` that expires in `ttl` seconds (verified: no need to sign it)."""
    now = time.time() if issued is None else issued
    return Handshake(TokenClaims(user, now, now + ttl))


def host(registry: ManagerRegistry | None = None, **limits: Any) -> SessionHost:
    registry = registry if registry is not None else ManagerRegistry()
    return SessionHost(registry=registry, secret=SECRET, limits=SessionLimits(**limits))


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


async def open_session(
    sessions: SessionHost, user: str = "alice", connection: MemoryConnection | None = None, last_seq: int | None = None
) -> tuple[Session, MemoryConnection]:
    connection = connection or MemoryConnection(user)
    session = await sessions.open(connection, Handshake(verified(user).claims, last_seq))
    assert session is not None
    return session, connection


def types(connection: MemoryConnection) -> list[str]:
    return [m["type"] for m in connection.messages]


def seqs(connection: MemoryConnection) -> list[int]:
    return [m["seq"] for m in connection.messages if "seq" in m]


# -- limits and construction --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_message_bytes": 0}, "max_message_bytes must be a positive int; got 0"),
        ({"max_message_bytes": True}, "max_message_bytes must be a positive int; got True"),
        ({"max_message_bytes": 1.5}, "max_message_bytes must be a positive int; got 1.5"),
        ({"max_connections_per_user": -1}, "max_connections_per_user must be a positive int; got -1"),
        ({"max_frames_per_second": 0}, "rate limit needs per_second > 0 and burst >= 1"),
        ({"frame_burst": 0}, "rate limit needs per_second > 0 and burst >= 1"),
        ({"resume_grace": -0.1}, "resume_grace must be a number of seconds >= 0; got -0.1"),
        ({"resume_grace": "1"}, "resume_grace must be a number of seconds >= 0; got '1'"),
        ({"close_timeout": 0}, "close_timeout must be a positive number of seconds; got 0"),
        ({"close_timeout": None}, "close_timeout must be a positive number of seconds; got None"),
    ],
)
def test_bad_limits_are_refused_with_the_name_and_value(limits: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        SessionLimits(**limits)


def test_limits_at_their_smallest_are_accepted() -> None:
    limits = SessionLimits(max_message_bytes=1, max_connections_per_user=1, resume_grace=0, close_timeout=0.01)
    assert (limits.max_message_bytes, limits.max_connections_per_user, limits.resume_grace) == (1, 1, 0)


def test_host_checks_its_parts() -> None:
    with pytest.raises(TypeError, match=r"registry must be a wskit\.ManagerRegistry; got dict"):
        SessionHost(registry={}, secret=SECRET, limits=SessionLimits())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"limits must be a wskit\.session\.connection\.SessionLimits; got dict"):
        SessionHost(registry=ManagerRegistry(), secret=SECRET, limits={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SessionHost(registry=ManagerRegistry(), secret="short", limits=SessionLimits())


# -- handshake and open ---------------------------------------------------------------------------


def test_handshakes_are_counted_when_refused() -> None:
    async def scenario() -> None:
        sessions = host()
        token = mint_token("alice", SECRET)
        assert await sessions.handshake(authorization=f"Bearer {token}", subprotocols=(), query="last_seq=3") == (
            Handshake(verify_claims(token, SECRET), 3, None)
        )
        assert sessions.rejected_handshakes == 0
        for query in ("", "token=nope", f"token={token}&last_seq=x"):
            with pytest.raises(HandshakeRefused):
                await sessions.handshake(authorization=None, subprotocols=(), query=query)
        assert sessions.rejected_handshakes == 3
        assert sessions.registry.users() == []  # refusals create no manager
        assert (await sessions.handshake(authorization=f"Bearer {token}", subprotocols=(), query="")).since == (
            Position(None, 0)  # a fresh connection: the user's stream has nothing yet
        )
        await sessions.registry.get_or_create(ctx("alice")).send({"type": "n", "payload": 1})
        fresh = await sessions.handshake(authorization=f"Bearer {token}", subprotocols=(), query="")
        assert fresh.since == Position(sessions.registry.backplane.history("alice").epoch, 1)  # type: ignore[attr-defined]

    run(scenario)


def test_open_joins_the_users_manager_and_health_counts_it() -> None:
    async def scenario() -> None:
        sessions = host()
        session, connection = await open_session(sessions)
        assert session.user_id == "alice"
        assert repr(session) == f"<Session user_id='alice' connection_id='{session.connection_id}'>"
        assert sessions.sessions == frozenset({session})
        manager = sessions.registry.get("alice")
        assert manager is not None and manager.connections[session.connection_id] is connection
        assert sessions.health() == (200, {"status": "ok", **sessions.registry.stats()})
        assert sessions.registry.stats()["connections"] == 1
        await session.finish()
        assert sessions.sessions == frozenset() and dict(manager.connections) == {}
        assert sessions.health()[1]["connections"] == 0
        await sessions.close()

    run(scenario)


def test_a_connection_over_the_per_user_limit_is_closed_1008() -> None:
    async def scenario() -> None:
        sessions = host(max_connections_per_user=2)
        for _ in range(2):
            await open_session(sessions)
        third = MemoryConnection("third")
        assert await sessions.open(third, verified("alice")) is None
        assert third.closed_with == (1008, "too many connections for this user (limit 2)")
        await open_session(sessions, "bob")  # other users are not limited by alice
        assert len(sessions.sessions) == 3
        await sessions.close()

    run(scenario)


def test_a_full_registry_closes_the_new_connection_1013() -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(max_managers=1))
        await open_session(sessions, "alice")
        refused = MemoryConnection("bob")
        assert await sessions.open(refused, verified("bob")) is None
        assert refused.closed_with == (1013, "server full: try again later")
        await sessions.close()

    run(scenario)


# -- first-frame resume ---------------------------------------------------------------------------


def test_first_frame_resume_replays_before_live_traffic() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=30)
        manager = sessions.registry.get_or_create(ctx("alice"))
        for i in range(5):
            await manager.send({"type": "n", "payload": i})
        session, connection = await open_session(sessions)
        await manager.send({"type": "n", "payload": 5})  # held: not written yet
        await settle(sessions)
        assert connection.frames == []
        await session.receive(json.dumps({"type": "resume", "last_seq": 2}))
        await manager.send({"type": "n", "payload": 6})
        await settle(sessions)
        assert seqs(connection) == [3, 4, 5, 6, 7]
        await session.receive(json.dumps({"type": "resume", "last_seq": 0}))  # only the first frame may
        await settle(sessions)
        assert connection.messages[-1] == {
            "type": "error",
            "code": "resume_too_late",
            "detail": "resume must be the first frame; or reconnect with ?last_seq=N",
        }
        await sessions.close()

    run(scenario)


def test_a_first_frame_resume_is_read_in_its_epoch() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=30)
        manager = sessions.registry.get_or_create(ctx("alice"))
        for i in range(3):
            await manager.send({"type": "n", "payload": i})
        backplane = sessions.registry.backplane
        assert isinstance(backplane, InProcessBackplane)
        epoch = backplane.history("alice").epoch
        same, right = await open_session(sessions)
        await same.receive(json.dumps({"type": "resume", "last_seq": 1, "epoch": epoch}))
        other, wrong = await open_session(sessions)
        await other.receive(json.dumps({"type": "resume", "last_seq": 1, "epoch": "another-1"}))
        await settle(sessions)
        assert seqs(right) == [2, 3]
        assert wrong.messages == [{"type": "resync_required", "epoch": epoch, "oldest_seq": 1, "latest_seq": 3}]
        await sessions.close()

    run(scenario)


def test_a_first_frame_that_is_not_a_resume_goes_live_with_what_was_stored() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=30)
        manager = sessions.registry.get_or_create(ctx("alice"))
        await manager.send({"type": "n", "payload": "stored"})
        session, connection = await open_session(sessions)
        await session.receive(json.dumps({"type": "ping"}))
        await settle(sessions)
        assert types(connection) == ["n", "pong"] and seqs(connection) == [1]
        await sessions.close()

    run(scenario)


def test_the_grace_period_ends_the_wait_without_a_frame() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0.05)
        session, connection = await open_session(sessions)
        manager = sessions.registry.get("alice")
        assert manager is not None
        await manager.send({"type": "n", "payload": 1})
        await settle(sessions)
        assert connection.frames == []
        await asyncio.sleep(0.1)
        await settle(sessions)
        assert seqs(connection) == [1]
        await session.receive(json.dumps({"type": "resume", "last_seq": 0}))  # too late now
        await settle(sessions)
        assert connection.messages[-1]["code"] == "resume_too_late"
        await sessions.close()

    run(scenario)


@pytest.mark.parametrize("grace", [0, 0.05])
def test_what_is_sent_between_the_handshake_and_the_join_reaches_the_new_connection(grace: float) -> None:
    """The client sees its upgrade accepted before the server joins it to the user's manager: an
    envelope sent in between, which another connection of the user took, is still owed to it."""

    async def scenario() -> None:
        sessions = host(resume_grace=grace)
        manager = sessions.registry.get_or_create(ctx("ann"))
        _, first = await open_session(sessions, "ann")
        await asyncio.sleep(grace + 0.05)
        await manager.send({"type": "n", "payload": 1})
        await settle(sessions)
        assert seqs(first) == [1]
        handshake = await sessions.handshake(authorization=f"Bearer {mint_token('ann', SECRET)}", subprotocols=(),
                                             query="")  # fmt: skip
        await manager.send({"type": "n", "payload": 2})  # the client already sees its upgrade accepted
        await settle(sessions)
        assert seqs(first) == [1, 2]
        second = MemoryConnection("ann")
        assert await sessions.open(second, handshake) is not None
        await asyncio.sleep(grace + 0.05)
        await manager.send({"type": "n", "payload": 3})
        await settle(sessions)
        assert seqs(second) == [2, 3]  # not 1: another connection took it before this one's handshake
        assert seqs(first) == [1, 2, 3]
        await sessions.close()

    run(scenario)


def test_without_grace_or_with_last_seq_a_connection_is_live_at_once() -> None:
    async def scenario() -> None:
        for sessions, last_seq, expected in ((host(resume_grace=0), None, [1, 2]), (host(), 1, [2])):
            manager = sessions.registry.get_or_create(ctx("alice"))
            await manager.send({"type": "n", "payload": 1})
            await manager.send({"type": "n", "payload": 2})
            _, connection = await open_session(sessions, last_seq=last_seq)
            await settle(sessions)
            assert seqs(connection) == expected
            await sessions.close()

    run(scenario)


def test_finishing_a_held_session_cancels_its_grace_timer() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0.02)
        session, _ = await open_session(sessions)
        await session.finish()
        await asyncio.sleep(0.05)  # the timer would go live on a connection that is gone
        assert session.closing
        await sessions.close()

    run(scenario)


# -- frames ---------------------------------------------------------------------------------------


def test_ping_bad_frames_and_agent_runs() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0)
        session, connection = await open_session(sessions)
        other, bystander = await open_session(sessions, "bob")
        await session.receive('{"type": "ping"}')
        await session.receive("{oops")
        await session.receive(b"\x00")
        await session.receive(json.dumps({"type": "user_message", "payload": "one two", "thread_id": "t"}))
        await session.receive(json.dumps({"type": "user_message", "payload": "x", "thread_id": "u", "run_id": "mine"}))
        await settle(sessions)
        received = connection.messages
        assert received[0] == {"type": "pong"}
        assert [m["code"] for m in received[1:3]] == ["invalid_json", "binary_frame"]
        runs = received[3:]
        assert [m["type"] for m in runs if m["thread_id"] == "t"] == list(AGENT_EVENTS)
        assert {m["run_id"] for m in runs if m["thread_id"] == "t"} == {"run-1"}
        assert {m["run_id"] for m in runs if m["thread_id"] == "u"} == {"mine"}
        results = {m["thread_id"]: m["payload"]["result"] for m in runs if m["type"] == "agent_completed"}
        assert results == {"t": "your message has 2 words", "u": "your message has 1 word"}
        assert bystander.frames == [] and other.user_id == "bob"
        await sessions.close()

    run(scenario)


def test_run_ids_count_across_the_sessions_of_one_host() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0)
        first, a = await open_session(sessions, "alice")
        second, b = await open_session(sessions, "bob")
        await first.receive(json.dumps({"type": "user_message", "payload": "x", "thread_id": "t"}))
        await second.receive(json.dumps({"type": "user_message", "payload": "x", "thread_id": "t"}))
        await settle(sessions, "alice")
        await settle(sessions, "bob")
        assert {m["run_id"] for m in a.messages} == {"run-1"}
        assert {m["run_id"] for m in b.messages} == {"run-2"}
        await sessions.close()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "closes"),
    [
        ("x" * 100, False),
        ("x" * 101, True),
        (b"x" * 100, False),
        (b"x" * 101, True),
        ("\u00e9" * 50, False),  # 100 bytes of UTF-8
        ("\u00e9" * 51, True),  # 51 characters, but 102 bytes
        ("\U0001f600" * 25, False),  # 100 bytes
        ("\U0001f600" * 26, True),
    ],
)
def test_frames_over_the_size_limit_close_1009(frame: str | bytes, closes: bool) -> None:
    async def scenario() -> None:
        sessions = host(max_message_bytes=100, resume_grace=0)
        session, connection = await open_session(sessions)
        await session.receive(frame)
        await session.receive('{"type": "ping"}')  # ignored once closing
        await settle(sessions)
        if closes:
            assert connection.closed_with == (1009, "frame larger than 100 bytes")
            assert session.closing and connection.frames == []
        else:
            assert connection.closed_with is None and not session.closing
            assert connection.messages[-1] == {"type": "pong"}
        await sessions.close()

    run(scenario)


def test_size_is_counted_in_bytes_of_utf8() -> None:
    assert not _size_over("a" * 8, 8) and _size_over("a" * 9, 8)
    assert not _size_over("\u00e9" * 4, 8) and _size_over("\u00e9" * 5, 8)
    assert not _size_over("\u00e9", 2) and _size_over("\u00e9", 1)
    assert not _size_over(b"", 1) and _size_over(b"ab", 1)


def test_a_flood_gets_rate_limited_then_closed_1008() -> None:
    async def scenario() -> None:
        sessions = host(max_frames_per_second=0.001, frame_burst=3, resume_grace=0)
        session, connection = await open_session(sessions)
        for _ in range(5):
            await session.receive('{"type": "ping"}')
        await settle(sessions)
        assert types(connection) == ["pong", "pong", "pong", "error"]
        error = connection.messages[-1]
        detail = "more than 0.001 frames per second; slow down"
        assert error == {"type": "error", "code": "rate_limited", "detail": detail}
        assert connection.closed_with == (1008, "rate limit exceeded")
        assert session.closing
        await sessions.close()

    run(scenario)


def test_the_first_frame_counts_against_the_rate_limit() -> None:
    async def scenario() -> None:
        sessions = host(max_frames_per_second=0.001, frame_burst=1, resume_grace=30)
        session, connection = await open_session(sessions)
        await session.receive('{"type": "ping"}')
        await session.receive('{"type": "ping"}')
        await settle(sessions)
        assert types(connection) == ["pong", "error"]
        await sessions.close()

    run(scenario)


class RefusingBackplane(InProcessBackplane):
    """A backplane whose store is down: every publish fails (what a lost Redis looks like)."""

    async def publish(self, user_id: str, draft: Draft) -> Published:
        raise BackplaneUnavailable("backplane unreachable")


def test_a_failed_agent_run_is_reported_to_the_user_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=RefusingBackplane()), resume_grace=0)
        session, connection = await open_session(sessions)
        await session.receive(json.dumps({"type": "user_message", "payload": "x", "thread_id": "t"}))
        await settle(sessions)
        assert connection.messages == [
            {"type": "error", "code": "agent_failed", "detail": "agent run run-1 failed: backplane unreachable"}
        ]
        await sessions.close()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == ["agent run run-1 of user 'alice' failed"]
    assert caplog.records[0].exc_info is not None


# -- shutdown and background work -----------------------------------------------------------------


def test_close_says_1001_to_every_session_and_refuses_new_handshakes() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0)
        opened = [await open_session(sessions, user) for user in ("alice", "alice", "bob")]
        manager = sessions.registry.get("alice")
        assert manager is not None
        await manager.send({"type": "n", "payload": "last words"})
        await sessions.close()
        for session, connection in opened:
            assert connection.closed_with == (1001, "server shutting down")
            assert session.closing
        assert seqs(opened[0][1]) == [1]  # what was sent before the close was written first
        with pytest.raises(HandshakeRefused) as info:
            await sessions.handshake(authorization=f"Bearer {mint_token('carol', SECRET)}", subprotocols=(), query="")
        assert (info.value.status, info.value.reason) == (503, "server shutting down: reconnect in a moment")
        assert sessions.rejected_handshakes == 1

    run(scenario)


def test_close_with_another_code() -> None:
    async def scenario() -> None:
        sessions = host(resume_grace=0)
        _, connection = await open_session(sessions)
        await sessions.close(1012, "restarting")
        assert connection.closed_with == (1012, "restarting")

    run(scenario)


def test_close_waits_for_slow_closes_without_cutting_them_short(caplog: pytest.LogCaptureFixture) -> None:
    class SlowToClose(MemoryConnection):
        async def close(self, code: int = 1000, reason: str = "") -> None:
            await asyncio.sleep(0.3)
            await super().close(code, reason)

    async def scenario() -> None:
        sessions = host(resume_grace=0, close_timeout=0.01)
        slow = SlowToClose("slow")
        await open_session(sessions, connection=slow)
        await sessions.close()  # waits close_timeout + 1 s at most, and does not cancel
        await asyncio.sleep(0)
        assert slow.closed_with == (1001, "server shutting down")

    with caplog.at_level(logging.WARNING, logger="wskit.session.connection"):
        run(scenario)
    assert caplog.records == []


def test_close_gives_up_waiting_a_second_after_the_close_timeout(caplog: pytest.LogCaptureFixture) -> None:
    class NeverCloses(MemoryConnection):
        async def close(self, code: int = 1000, reason: str = "") -> None:
            await asyncio.Event().wait()

    async def scenario() -> None:
        sessions = host(resume_grace=0, close_timeout=0.05)
        await open_session(sessions, connection=NeverCloses())
        await open_session(sessions, "bob")
        started = asyncio.get_running_loop().time()
        await sessions.close()
        assert 1.0 <= asyncio.get_running_loop().time() - started < 2.0

    with caplog.at_level(logging.WARNING, logger="wskit.session.connection"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == ["1 of 2 connections are still closing after shutdown began"]


def test_a_close_that_fails_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemoryConnection):
        async def close(self, code: int = 1000, reason: str = "") -> None:
            raise OSError("socket already gone")

    async def scenario() -> None:
        sessions = host(resume_grace=0)
        await open_session(sessions, connection=Broken())
        await sessions.close()

    with caplog.at_level(logging.WARNING, logger="wskit.session.connection"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == ["closing a connection failed: OSError('socket already gone')"]


def test_background_failures_are_logged_and_close_cancels_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    async def fail() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        sessions = host()
        failing = sessions.spawn(fail())
        forever = sessions.spawn(asyncio.Event().wait())
        await asyncio.sleep(0)
        assert failing.done()
        await sessions.close()
        assert forever.cancelled()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == ["background task failed"]


def test_idle_managers_are_released_in_the_background() -> None:
    async def scenario() -> None:
        registry = ManagerRegistry(idle_timeout=0.02)
        sessions = host(registry)
        sessions.start()
        sessions.start()  # idempotent
        registry.get_or_create(ctx("idle"))
        assert "idle" in registry
        await asyncio.sleep(0.1)
        assert "idle" not in registry
        await sessions.close()

    run(scenario)


class DownBackplane(InProcessBackplane):
    """A backplane that cannot be reached now (what a stopped Redis looks like to a session)."""

    async def subscribe(self, user_id: str) -> None:
        raise BackplaneUnavailable("cannot subscribe: Redis pub/sub at 127.0.0.1:6379 is down (refused)")

    def health(self) -> str | None:
        return "Redis at redis://127.0.0.1:6379/0: ConnectionError: refused"


def test_while_the_backplane_is_down_connections_are_refused_1013_and_health_is_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=DownBackplane()))
        connection = MemoryConnection("ann")
        assert await sessions.open(connection, verified("ann")) is None
        assert connection.closed_with == (1013, "backplane unavailable: try again later")
        manager = sessions.registry.get("ann")
        assert manager is not None and dict(manager.connections) == {}  # nothing half-joined
        status, document = sessions.health()
        assert status == 503
        assert document == {
            "status": "unavailable",
            "reason": "Redis at redis://127.0.0.1:6379/0: ConnectionError: refused",
            **sessions.registry.stats(),
        }
        assert sessions.sessions == frozenset()
        await sessions.close()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == [
        "refused a connection of user 'ann': cannot subscribe: Redis pub/sub at 127.0.0.1:6379 is down (refused)"
    ]


class ForgetfulBackplane(InProcessBackplane):
    """Joins connections, then cannot read what they missed (a Redis stopped in between)."""

    async def undelivered(self, user_id: str, since: Position | None = None) -> list[Any]:
        raise BackplaneUnavailable("cannot read the history: Redis at redis://127.0.0.1:6379/0 failed")

    async def replay(self, user_id: str, last_seq: int, epoch: str | None) -> list[Any]:
        return await self.undelivered(user_id)


def test_a_held_connection_that_cannot_catch_up_is_closed_1013(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        sessions = host(ManagerRegistry(backplane=ForgetfulBackplane()), resume_grace=0.2)
        first_frame, by_frame = await open_session(sessions, "ann")
        resuming, by_resume = await open_session(sessions, "ann")
        _, by_timer = await open_session(sessions, "ann")
        await first_frame.receive('{"type": "ping"}')
        await resuming.receive('{"type": "resume", "last_seq": 2}')
        await asyncio.sleep(0.3)  # the third one's grace ran out
        for connection in (by_frame, by_resume, by_timer):
            assert connection.closed_with == (1013, "backplane unavailable: try again later")
            assert connection.frames == []  # no pong, no replay
        assert first_frame.closing and resuming.closing
        refused = MemoryConnection("ann")
        assert await sessions.open(refused, Handshake(verified("ann").claims, 3)) is None  # ?last_seq=3
        assert refused.closed_with == (1013, "backplane unavailable: try again later")
        manager = sessions.registry.get("ann")
        assert manager is not None and len(manager.connections) == 0
        await sessions.close()

    with caplog.at_level(logging.ERROR, logger="wskit.session.connection"):
        run(scenario)
    history = "cannot read the history: Redis at redis://127.0.0.1:6379/0 failed"
    assert [r.getMessage() for r in caplog.records] == [
        *[f"closed a connection of user 'ann' that could not catch up: {history}"] * 3,
        f"refused a connection of user 'ann': {history}",
    ]
