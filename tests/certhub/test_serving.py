"""The worker processes' listening socket: accepted connections must not wait on Nagle."""

from __future__ import annotations

import asyncio
import socket

import pytest

from certhub.serving import listening_socket


async def _nodelay_of_accepted(sock: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            peer = transport.get_extra_info("socket")
            accepted.set_result(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    port = sock.getsockname()[1]
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(accepted, 5)
        writer.close()
        return value
    finally:
        server.close()
        await server.wait_closed()


def test_accepted_connections_have_nagle_switched_off():
    sock = listening_socket("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    assert asyncio.run(_nodelay_of_accepted(sock)) != 0


def test_a_socket_without_the_tcp_protocol_would_leave_nagle_on():
    # The reason listening_socket exists: the same server over a protocol-0 socket (what uvicorn binds).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    assert asyncio.run(_nodelay_of_accepted(sock)) == 0


def test_a_port_in_use_is_reported_not_hidden():
    first = listening_socket("127.0.0.1", 0)
    first.listen()
    try:
        port = first.getsockname()[1]
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", port)
    finally:
        first.close()


def test_the_worker_health_check_timeout_comes_from_settings(monkeypatch):
    # uvicorn's 5 s default killed workers whose imports took 13-17 s under load, in a loop.
    from certhub.serving import workers_config
    from certhub.settings import Settings

    default = workers_config(Settings(), host="127.0.0.1", port=0, workers=2)
    assert default.timeout_worker_healthcheck >= 60
    monkeypatch.setenv("CERTHUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS", "240")
    configured = workers_config(Settings(), host="127.0.0.1", port=0, workers=2)
    assert configured.timeout_worker_healthcheck == 240 and configured.workers == 2
