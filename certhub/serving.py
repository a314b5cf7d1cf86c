"""Running the app under uvicorn with several worker processes.

uvicorn's own ``--workers`` path binds its listening socket with protocol 0.
asyncio switches Nagle's algorithm off (TCP_NODELAY) on accepted connections
only when the listening socket says IPPROTO_TCP, so every response written in
two pieces (headers, then body) waited out the client's 40 ms delayed ACK:
two workers answered 23 requests/s to one client where one worker answered
1,500. We bind the socket ourselves, as a TCP socket, and hand it to
uvicorn's supervisor, which shares it between the workers.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from certhub.logs import log_config
from certhub.settings import Settings

APP_FACTORY = "certhub.asgi:app_from_environment"


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket whose accepted connections get TCP_NODELAY."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def workers_config(settings: Settings, *, host: str, port: int, workers: int, log_level: str = "info",
                   access_log: bool = True, log_format: str = "text") -> uvicorn.Config:
    """uvicorn's configuration for ``workers`` processes.

    CERTHUB_WORKER_HEALTHCHECK_TIMEOUT_SECONDS: uvicorn's supervisor kills
    a worker that has not answered its ping within it, and a new worker
    that has not started within it. uvicorn's 5 s default is less than a
    worker's start (its imports took 13-17 s on a loaded machine), so
    workers were killed and respawned in a loop. A worker answers pings
    from a thread it starts before importing the app, once the main module
    is imported again in the new process: that is `certhub.cli`, which
    loads no command, so the thread starts at once."""
    return uvicorn.Config(APP_FACTORY, factory=True, host=host, port=port, workers=workers,
                          log_config=log_config(level=log_level, log_format=log_format, access_log=access_log),
                          log_level=log_level, access_log=access_log,
                          timeout_worker_healthcheck=settings.worker_healthcheck_timeout_seconds)


def serve_workers(settings: Settings, *, host: str, port: int, workers: int, log_level: str = "info",
                  access_log: bool = True, log_format: str = "text") -> None:
    """Serve the app from settings in ``workers`` processes sharing one listening socket
    (each worker reads the same CERTHUB_* variables itself)."""
    config = workers_config(settings, host=host, port=port, workers=workers, log_level=log_level,
                            access_log=access_log, log_format=log_format)
    sock = listening_socket(host, port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
