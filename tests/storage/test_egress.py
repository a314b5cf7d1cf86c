"""The bounded read every outbound call shares (storage.egress.read_bounded),
through an EgressClient's request as the OpenID key fetch and the command
line use it, against a real loopback server."""

from __future__ import annotations

import gzip
import zlib

import pytest

from storage.egress import DIRECT, BodyTooLarge, BodyUndecodable
from tests.adapters import loopback


@pytest.fixture
def server():
    running = loopback.start()
    yield running
    loopback.stop(running)


def _read(server, path: str, *, max_bytes: int) -> bytes:
    with DIRECT.client() as client, client.request("GET", server.base_url + path) as response:
        return response.read_bounded(max_bytes=max_bytes)


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
def test_a_compression_bomb_is_refused_by_its_decoded_size(server, encoding, compress):
    bomb = compress(b"0" * 20_000_000)
    assert len(bomb) < 100_000  # small on the wire: a decoder fed whole network reads would inflate each at once
    server.routes["/bomb"] = lambda h: h.reply(200, bomb, headers={"Content-Encoding": encoding})
    with pytest.raises(BodyTooLarge, match="exceeds the 100000-byte bound"):
        _read(server, "/bomb", max_bytes=100_000)


def test_a_compressed_body_within_the_bound_is_decoded_and_only_what_is_undone_is_offered(server):
    server.routes["/doc"] = lambda h: h.reply(200, gzip.compress(b'{"keys": []}'), headers={"Content-Encoding": "gzip"})
    assert _read(server, "/doc", max_bytes=1000) == b'{"keys": []}'
    (seen,) = server.requests_to("/doc")
    assert seen.headers["accept-encoding"] == "gzip, deflate"


def test_a_declared_length_over_the_bound_is_refused_before_reading(server):
    server.routes["/big"] = lambda h: h.reply(200, b"x" * 5000)
    with pytest.raises(BodyTooLarge, match="declares 5000 bytes"):
        _read(server, "/big", max_bytes=1000)


def test_a_coding_it_cannot_undo_is_refused(server):
    server.routes["/br"] = lambda h: h.reply(200, b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
    with pytest.raises(BodyUndecodable, match="not supported"):
        _read(server, "/br", max_bytes=1000)
