"""A department's HTTP system on loopback, in a thread: each route is a
function that answers the request well or badly."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int] | None = None  # the client's address: one per connection


Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    server: LoopbackServer

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address)
        self.body = body
        with self.server.lock:
            self.server.seen.append(seen)
        route = self.server.route_for(self.path)
        if route is None:
            self.reply(404, b'{"error":"not found"}')
        else:
            route(self)

    def reply(self, status: int, body: bytes, *, content_type: str = "application/json", headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class KeepAliveHandler(Handler):
    """HTTP/1.1: the connection stays open after a reply with a length, as a
    department's production server would keep it. Routes must then reply
    with a Content-Length (reply() does)."""

    protocol_version = "HTTP/1.1"


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[Handler] = Handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.open_connections = 0

    def route_for(self, path: str) -> Route | None:
        path = path.split("?", 1)[0]
        matches = [p for p in self.routes if path == p or path.startswith(p.rstrip("/") + "/")]
        return self.routes[max(matches, key=len)] if matches else None

    # Counted from accept to the socket's close (not to the handler's end,
    # which comes before it): a client that sees no open connection left
    # finds every one it had closed by the server, not about to be.
    def process_request(self, request, client_address):
        with self.lock:
            self.open_connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        try:
            super().shutdown_request(request)
        finally:
            with self.lock:
                self.open_connections -= 1

    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, size limits) break the pipe on purpose.
        pass


@dataclass
class Running:
    server: LoopbackServer
    scheme: str = "http"
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    @property
    def routes(self) -> dict[str, Route]:
        return self.server.routes

    def requests_to(self, prefix: str) -> list[Seen]:
        with self.server.lock:
            return [s for s in self.server.seen if s.path.startswith(prefix)]

    @property
    def open_connections(self) -> int:
        with self.server.lock:
            return self.server.open_connections

    def wait_for_open_connections(self, count: int, *, within: float = 30.0) -> bool:
        """Whether the number of open client connections reaches `count` in time: a connection
        never closed never gets there; a loaded machine may take seconds to run the handler
        thread that sees one close (it once took more than 5 s in a full run on 2 cores)."""
        give_up_at = time.monotonic() + within
        while self.open_connections != count:
            if time.monotonic() > give_up_at:
                return False
            time.sleep(0.01)
        return True


def start(tls: ssl.SSLContext | None = None, *, keep_alive: bool = False) -> Running:
    server = LoopbackServer(KeepAliveHandler if keep_alive else Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Running(server, "https" if tls else "http", [thread])


def stop(running: Running) -> None:
    running.server.shutdown()
    running.server.server_close()
    for thread in running.threads:
        thread.join(timeout=5)


def free_port() -> int:
    """A loopback port nothing listens on now, for a server that must know its address before it starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StallingProxy:
    """A TCP relay on loopback to a real server (a department's database) that
    can stall: once `stall()` is called it keeps every connection open, old
    and new, and relays nothing more either way, as a server that stopped
    answering would. With no target it stalls from the start: it accepts and
    never answers."""

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        self._target = target
        self._stalled = threading.Event()
        if target is None:
            self._stalled.set()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def stall(self) -> None:
        self._stalled.set()

    def drop_connections(self) -> None:
        """Close every relayed connection, as a restarted server would; new ones are relayed."""
        with self._lock:
            dropped, self._sockets = self._sockets, []
        for sock in dropped:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._closing.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone would not
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a relay blocked in recv; close() alone would not
                except OSError:
                    pass
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._keep(client)
            if self._stalled.is_set() or self._target is None:
                continue  # held open, never answered
            upstream = self._keep(socket.create_connection(self._target))
            for source, sink in ((client, upstream), (upstream, client)):
                thread = threading.Thread(target=self._relay, args=(source, sink), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        while not self._closing.is_set():
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            while self._stalled.is_set() and not self._closing.is_set():
                time.sleep(0.05)  # swallow nothing, send nothing: the peer waits
            if self._closing.is_set():
                return
            try:
                sink.sendall(data)
            except OSError:
                return


class EgressProxy:
    """A government network's egress proxy on loopback, in threads: an
    https:// request is tunnelled with CONNECT, an http:// one (absolute-form
    request line) forwarded, one request per connection. It records what it
    was asked for, as (method, target), and the Proxy-Authorization each
    request carried (None without one)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.credentials: list[str | None] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone would not
        except OSError:
            pass
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            reader = client.makefile("rb")
            method, target, _version = reader.readline(65_537).decode("latin-1").rstrip("\r\n").split(" ", 2)
            headers = []
            while (line := reader.readline(65_537)) not in (b"\r\n", b"\n", b""):
                headers.append(line)
            authorization = next((h.split(b":", 1)[1].strip().decode("latin-1") for h in headers
                                  if h.lower().startswith(b"proxy-authorization:")), None)
            with self._lock:
                self.asked.append((method, target))
                self.credentials.append(authorization)
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                with socket.create_connection((host, int(port)), timeout=10) as upstream:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self._tunnel(client, upstream)
                return
            split = urlsplit(target)
            length = next((int(h.split(b":", 1)[1]) for h in headers if h.lower().startswith(b"content-length:")), 0)
            kept = [h for h in headers if not h.lower().startswith((b"connection:", b"proxy-", b"keep-alive:"))]
            path = (split.path or "/") + (f"?{split.query}" if split.query else "")
            with socket.create_connection((split.hostname, split.port or 80), timeout=10) as upstream:
                upstream.sendall(f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(kept)
                                 + b"Connection: close\r\n\r\n" + (reader.read(length) if length else b""))
                while data := upstream.recv(65_536):
                    client.sendall(data)

    @staticmethod
    def _tunnel(client: socket.socket, upstream: socket.socket) -> None:
        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65_536):
                    sink.sendall(data)
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join(10)
