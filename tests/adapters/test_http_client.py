"""The adapters' bounded GET (httpx's transport, storage.egress's bounded
read) against a real loopback server: what it refuses to read, what it
refuses to follow, how long it may wait, and what its errors and logs may
say."""

from __future__ import annotations

import gzip
import logging
import threading
import time
import zlib

import pytest

from adapters.errors import (
    AdapterConfigError,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
)
from adapters.http_client import HttpClient, bounded_get
from tests.adapters import loopback

SUBJECT = "91350100MA0000001X"  # stands for the personal data a URL carries


def _get(client: HttpClient, url: str, *, headers=None, max_bytes=100_000, connect=1.0, read=1.0, deadline=3.0):
    return bounded_get(
        client, url, headers=headers or {}, connect_timeout=connect, read_timeout=read,
        deadline_at=time.monotonic() + deadline, max_bytes=max_bytes, binding="test binding",
    )


@pytest.fixture
def client():
    with HttpClient() as instance:
        yield instance


@pytest.fixture
def keep_alive_provider():
    running = loopback.start(keep_alive=True)
    yield running
    loopback.stop(running)


def _bomb(encoding: str) -> bytes:
    zeros = b"0" * 20_000_000
    if encoding == "gzip":
        return gzip.compress(zeros)
    return zlib.compress(zeros)  # HTTP's "deflate" is the zlib format


def test_a_compressed_answer_is_decoded_and_compression_is_offered(provider, client):
    provider.routes["/doc"] = lambda h: h.reply(200, gzip.compress(b'{"ok": true}'), headers={"Content-Encoding": "gzip"})
    response = _get(client, provider.base_url + "/doc")
    assert (response.status_code, response.body) == (200, b'{"ok": true}')
    (seen,) = provider.requests_to("/doc")
    assert "gzip" in seen.headers["accept-encoding"]
    assert seen.headers["user-agent"] == "certhub-adapter"


def test_the_callers_own_headers_win_over_the_defaults(provider, client):
    provider.routes["/doc"] = lambda h: h.reply(200, b"{}")
    _get(client, provider.base_url + "/doc", headers={"accept-encoding": "identity", "User-Agent": "gateway-test"})
    (seen,) = provider.requests_to("/doc")
    assert (seen.headers["accept-encoding"], seen.headers["user-agent"]) == ("identity", "gateway-test")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compression_bomb_is_refused_by_its_decoded_size(provider, client, encoding):
    bomb = _bomb(encoding)
    assert len(bomb) < 100_000  # small on the wire: only the decoded size can trip the bound
    provider.routes["/doc"] = lambda h: h.reply(200, bomb, headers={"Content-Encoding": encoding})
    with pytest.raises(ResponseTooLarge, match="exceeds the 100000-byte bound"):
        _get(client, provider.base_url + "/doc", max_bytes=100_000)


def test_a_corrupt_encoding_is_a_malformed_response(provider, client):
    provider.routes["/doc"] = lambda h: h.reply(200, b"not gzip at all" * 10, headers={"Content-Encoding": "gzip"})
    with pytest.raises(MalformedResponse, match="cannot be decoded"):
        _get(client, provider.base_url + "/doc")


def test_a_declared_length_over_the_bound_is_refused_without_reading(provider, client):
    release = threading.Event()

    def declares_then_stalls(h):
        h.send_response(200)
        h.send_header("Content-Length", "10000000")
        h.end_headers()
        release.wait(10)  # reading the body would wait here until the deadline

    provider.routes["/doc"] = declares_then_stalls
    try:
        with pytest.raises(ResponseTooLarge, match="declares 10000000 bytes"):
            _get(client, provider.base_url + "/doc", max_bytes=100_000, deadline=5.0)
    finally:
        release.set()


def test_an_answer_cut_short_of_its_declared_length_is_an_outage_not_a_body(provider, client):
    def cut_short(h):
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        h.wfile.write(b'{"a": 1}')  # then the connection closes
        h.close_connection = True

    provider.routes["/doc"] = cut_short
    # h11 (under httpx) reports the body cut short of its declared length.
    with pytest.raises(ProviderUnavailable, match="RemoteProtocolError"):
        _get(client, provider.base_url + "/doc")


def test_a_cut_chunked_answer_is_an_outage_not_a_body(provider, client):
    def cut_chunked(h):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"8\r\n{\"a\": 1}\r\n")  # no last chunk: the connection closes
        h.close_connection = True

    provider.routes["/doc"] = cut_chunked
    with pytest.raises(ProviderUnavailable, match="RemoteProtocolError"):
        _get(client, provider.base_url + "/doc")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_answered_not_followed(provider, client, status):
    target = f"{provider.base_url}/elsewhere/{SUBJECT}"
    provider.routes["/doc"] = lambda h: h.reply(status, b"", headers={"Location": target})
    provider.routes["/elsewhere"] = lambda h: h.reply(200, b"{}")
    response = _get(client, provider.base_url + "/doc")
    assert response.status_code == status and response.headers["location"] == target
    assert provider.requests_to("/elsewhere") == []


def test_a_dropped_request_is_not_retried(provider, client):
    def hang_up(h):
        h.close_connection = True  # no answer at all: the client sees the connection close

    provider.routes["/doc"] = hang_up
    with pytest.raises(ProviderUnavailable):
        _get(client, provider.base_url + "/doc")
    assert len(provider.requests_to("/doc")) == 1  # retrying is the HTTP source's decision, with backoff


@pytest.mark.slow  # waits out a deadline
def test_a_dripping_answer_is_cut_off_at_the_deadline_not_at_the_end(provider, client):
    def drip(h):
        h.send_response(200)
        h.end_headers()
        for _ in range(400):  # 20 s in all, each byte well inside the read timeout
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)

    provider.routes["/doc"] = drip
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match="outlasted the deadline"):
        _get(client, provider.base_url + "/doc", read=2.0, deadline=0.5)
    assert time.monotonic() - started < 10


def test_the_read_timeout_is_clipped_to_the_deadline(provider, client):
    provider.routes["/doc"] = lambda h: (time.sleep(3), h.reply(200, b"{}"))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        _get(client, provider.base_url + "/doc", read=30.0, deadline=0.3)
    assert time.monotonic() - started < 2.5


def test_a_passed_deadline_sends_nothing(provider, client):
    with pytest.raises(ProviderTimeout):
        _get(client, provider.base_url + "/doc", deadline=-1)
    assert provider.requests_to("/") == []


def test_headers_are_looked_up_whatever_their_case(provider, client):
    provider.routes["/doc"] = lambda h: h.reply(200, b"{}", headers={"ETag": '"v7"'})
    headers = _get(client, provider.base_url + "/doc").headers
    assert headers.get("etag") == headers.get("ETAG") == '"v7"'
    assert headers.get("content-type") == "application/json"


def test_connections_are_kept_alive_across_calls_and_closed_with_the_client(keep_alive_provider):
    keep_alive_provider.routes["/doc"] = lambda h: h.reply(200, b"{}")
    client = HttpClient()
    for _ in range(5):
        assert _get(client, keep_alive_provider.base_url + "/doc").status_code == 200
    peers = {seen.peer for seen in keep_alive_provider.requests_to("/doc")}
    assert len(peers) == 1
    assert keep_alive_provider.open_connections == 1
    client.close()
    assert keep_alive_provider.wait_for_open_connections(0)


def test_a_connection_the_provider_closed_while_idle_is_not_reused(keep_alive_provider, client):
    # Answers as if keeping the connection alive, then hangs up while it idles.
    keep_alive_provider.routes["/doc"] = lambda h: (h.reply(200, b"{}"), setattr(h, "close_connection", True))
    for _ in range(3):
        assert keep_alive_provider.wait_for_open_connections(0)
        assert _get(client, keep_alive_provider.base_url + "/doc").status_code == 200
    assert len({seen.peer for seen in keep_alive_provider.requests_to("/doc")}) == 3


def test_an_aborted_read_does_not_leave_its_connection_for_the_next_call(keep_alive_provider, client):
    def big_then_late(h):
        h.send_response(200)
        h.send_header("Content-Length", "50000")
        h.end_headers()
        h.wfile.write(b"x" * 2_000)
        h.wfile.flush()
        time.sleep(0.5)  # the rest comes after the client gave up: on a reused connection it would be read as the next answer
        h.wfile.write(b"x" * 48_000)

    keep_alive_provider.routes["/big"] = big_then_late
    keep_alive_provider.routes["/doc"] = lambda h: h.reply(200, b'{"next": 1}')
    with pytest.raises(ResponseTooLarge):
        _get(client, keep_alive_provider.base_url + "/big", max_bytes=1_000)
    assert _get(client, keep_alive_provider.base_url + "/doc").body == b'{"next": 1}'


@pytest.mark.slow  # 2,000 requests from many threads
def test_one_client_serves_many_threads_without_mixing_answers(keep_alive_provider, client):
    keep_alive_provider.routes["/echo"] = lambda h: h.reply(200, h.path.encode())
    threads, calls = 8, 25
    answers: dict[int, list[bytes]] = {}

    def worker(n):
        answers[n] = [_get(client, f"{keep_alive_provider.base_url}/echo/{n}-{i}").body for i in range(calls)]

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert answers == {n: [f"/echo/{n}-{i}".encode() for i in range(calls)] for n in range(threads)}
    # Kept alive: never more connections than threads asking at once.
    assert len({seen.peer for seen in keep_alive_provider.requests_to("/echo")}) <= threads


def test_a_full_pool_opens_another_connection_rather_than_waiting(keep_alive_provider):
    callers = 4
    together = threading.Barrier(callers)

    def meet(h):
        together.wait(5)  # answers only once all callers are in flight at the same time
        h.reply(200, b"{}")

    keep_alive_provider.routes["/doc"] = meet
    results: list[int] = []
    with HttpClient(maxsize=1) as small:
        pool = [
            threading.Thread(target=lambda: results.append(_get(small, keep_alive_provider.base_url + "/doc").status_code))
            for _ in range(callers)
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(30)
    assert results == [200] * callers


def test_errors_name_the_exception_type_never_the_url(provider, client):
    provider.routes["/slow"] = lambda h: (time.sleep(1), h.reply(200, b"{}"))
    cases = [
        (ProviderUnavailable, f"http://127.0.0.1:{loopback.closed_port()}/e/{SUBJECT}", "ConnectError"),
        (ProviderUnavailable, f"http://127.0.0.1:99999999/e/{SUBJECT}", "InvalidURL"),
        (ProviderTimeout, f"{provider.base_url}/slow/{SUBJECT}", None),
    ]
    for error, url, type_name in cases:
        with pytest.raises(error) as caught:
            _get(client, url, read=0.2, deadline=2.0)
        message = str(caught.value)
        assert SUBJECT not in message and "127.0.0.1" not in message
        assert type_name is None or type_name in message
        # not chained either: a logged traceback would print the original
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_header_value_that_cannot_be_sent_is_a_config_error_without_the_value(provider, client):
    with pytest.raises(AdapterConfigError) as caught:
        _get(client, provider.base_url + "/doc", headers={"Authorization": "Bearer s3cret\r\nX-Injected: 1"})
    assert "s3cret" not in str(caught.value)
    assert provider.requests_to("/") == []


def test_no_log_record_carries_the_url(provider, client, caplog):
    provider.routes["/e"] = lambda h: h.reply(200, b"{}")
    provider.routes["/gone"] = lambda h: setattr(h, "close_connection", True)
    with caplog.at_level(logging.DEBUG):
        _get(client, f"{provider.base_url}/e/{SUBJECT}")
        with pytest.raises(ProviderUnavailable):
            _get(client, f"{provider.base_url}/gone/{SUBJECT}")
    assert SUBJECT not in caplog.text


def test_the_client_refuses_what_is_not_a_tls_context_or_a_sane_pool_size():
    with pytest.raises(AdapterConfigError):
        HttpClient(ssl_context=False)  # type: ignore[arg-type]  # httpx's verify=False is not on offer
    with pytest.raises(AdapterConfigError):
        HttpClient(maxsize=0)
