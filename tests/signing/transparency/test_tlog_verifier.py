"""The independent verifier against logs from both writers, intact and damaged."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import LogVerificationError
from signing.transparency.merkle import leaf_hash, root_from_leaf_hashes
from signing.transparency.note import NoteSigner, sign_note
from signing.transparency.sources import DirectorySource, HttpSource
from signing.transparency.verifier import verify_log

from .logs import ORIGIN, WRITERS, build_reference, entry_offset, flip_byte, sample_entries

SIZE = 700  # level 0: 000, 001 full + 002.p/188; level 1: 000.p/2


@pytest.fixture(params=sorted(WRITERS))
def build(request):
    return WRITERS[request.param]


@pytest.fixture
def log(build, tmp_path):
    return build(tmp_path / "log", sample_entries(SIZE))


def _verify(log, **kwargs):
    return verify_log(source=DirectorySource(log.directory), verifier_key=log.verifier_key, **kwargs)


def _failure(log, **kwargs) -> LogVerificationError:
    with pytest.raises(LogVerificationError) as error:
        _verify(log, **kwargs)
    return error.value


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 700])
def test_intact_logs_from_both_writers_verify(build, tmp_path, size):
    entries = sample_entries(size)
    built = build(tmp_path / "log", entries)
    report = _verify(built)
    assert (report.origin, report.size) == (ORIGIN, size)
    assert report.root_hash == root_from_leaf_hashes([leaf_hash(e) for e in entries])
    assert report.entries_checked == size


@pytest.mark.parametrize("size", [SIZE, 65536 + 3])
@pytest.mark.slow
def test_both_writers_produce_identical_logs(tmp_path, size):
    entries = sample_entries(size)
    reference = WRITERS["reference"](tmp_path / "a", entries)
    independent = WRITERS["independent"](tmp_path / "b", entries)
    assert reference.checkpoint == independent.checkpoint
    assert reference.verifier_key == independent.verifier_key
    for path in sorted((tmp_path / "b").rglob("*")):
        if path.is_file():
            twin = tmp_path / "a" / path.relative_to(tmp_path / "b")
            assert twin.read_bytes() == path.read_bytes(), path


def test_changed_byte_in_a_full_tile_names_that_tile(log):
    flip_byte(log.directory / "tile/0/001", 100)
    error = _failure(log)
    assert (error.code, error.path) == ("tile_mismatch", "tile/0/001")


def test_changed_byte_in_a_partial_tile_breaks_the_root(log):
    flip_byte(log.directory / "tile/0/002.p/188", 5)
    assert _failure(log).code == "root_mismatch"
    flip_byte(log.directory / "tile/0/002.p/188", 5)
    flip_byte(log.directory / "tile/1/000.p/2", 40)
    assert _failure(log).code == "root_mismatch"


def test_the_first_of_several_bad_tiles_is_named(log):
    flip_byte(log.directory / "tile/0/001", 0)
    flip_byte(log.directory / "tile/0/000", 0)
    assert _failure(log).path == "tile/0/000"


def test_changed_byte_of_an_entry_names_the_leaf(log):
    bundle = log.directory / "tile/entries/001"
    offset, _ = entry_offset(bundle, 44)
    flip_byte(bundle, offset + 3)
    error = _failure(log)
    assert (error.code, error.index, error.path) == ("entry_mismatch", 256 + 44, "tile/entries/001")
    assert _verify(log, check_entries=False).size == SIZE


def test_changed_entry_in_the_partial_bundle(log):
    bundle = log.directory / "tile/entries/002.p/188"
    offset, _ = entry_offset(bundle, 187)
    flip_byte(bundle, offset + 2)
    error = _failure(log)
    assert (error.code, error.index) == ("entry_mismatch", 699)


@pytest.mark.parametrize("path", ["tile/0/001", "tile/0/002.p/188", "tile/1/000.p/2", "tile/entries/000"])
def test_deleted_tile_is_named(log, path):
    (log.directory / path).unlink()
    error = _failure(log)
    assert (error.code, error.path) == ("missing_tile", path)


def test_deleted_entry_in_a_bundle_names_its_index(log):
    bundle = log.directory / "tile/entries/001"
    offset, length = entry_offset(bundle, 10)
    data = bundle.read_bytes()
    bundle.write_bytes(data[:offset] + data[offset + 2 + length :])
    error = _failure(log)
    assert (error.code, error.index) == ("entry_mismatch", 266)


def test_deleted_last_entry_in_a_bundle_names_its_index(log):
    bundle = log.directory / "tile/entries/000"
    offset, _ = entry_offset(bundle, 255)
    bundle.write_bytes(bundle.read_bytes()[:offset])
    error = _failure(log)
    assert (error.code, error.index) == ("entry_mismatch", 255)


def test_truncated_bundle_names_the_damaged_entry(log):
    bundle = log.directory / "tile/entries/000"
    offset, _ = entry_offset(bundle, 17)
    bundle.write_bytes(bundle.read_bytes()[: offset + 3])
    error = _failure(log)
    assert (error.code, error.index) == ("entry_mismatch", 17)


@pytest.mark.parametrize("path", ["tile/0/000", "tile/0/002.p/188", "tile/1/000.p/2"])
def test_truncated_tile_is_named(log, path):
    target = log.directory / path
    target.write_bytes(target.read_bytes()[:-5])
    error = _failure(log)
    assert (error.code, error.path) == ("malformed_tile", path)


def test_extra_entry_in_a_bundle_is_named(log):
    bundle = log.directory / "tile/entries/000"
    bundle.write_bytes(bundle.read_bytes() + b"\x00\x01z")
    error = _failure(log)
    assert (error.code, error.index) == ("entry_mismatch", 256)


def test_oversized_checkpoint_is_malformed(log):
    (log.directory / "checkpoint").write_bytes(b"x" * 70000)
    assert _failure(log).code == "malformed_checkpoint"


def test_tile_with_extra_bytes_is_malformed(log):
    target = log.directory / "tile/0/000"
    target.write_bytes(target.read_bytes() + bytes(32))
    assert _failure(log).code == "malformed_tile"


def test_checkpoint_resigned_with_another_key_is_rejected(log):
    text = (log.directory / "checkpoint").read_bytes().decode().split("\n\n")[0] + "\n"
    impostor = NoteSigner.generate(ORIGIN)
    (log.directory / "checkpoint").write_bytes(sign_note(text=text, signers=[impostor]))
    error = _failure(log)
    assert (error.code, error.path) == ("bad_signature", "checkpoint")


def test_tampered_checkpoint_with_original_signature_is_rejected(log):
    path = log.directory / "checkpoint"
    path.write_bytes(path.read_bytes().replace(b"\n700\n", b"\n699\n"))
    assert _failure(log).code == "bad_signature"


def test_signed_checkpoint_with_wrong_root_is_a_root_mismatch(log, tmp_path):
    signer = NoteSigner(name=ORIGIN, seed=bytes(range(32)))
    lying = Checkpoint(origin=ORIGIN, size=SIZE, root_hash=bytes(32)).sign(signers=[signer])
    (log.directory / "checkpoint").write_bytes(lying)
    assert _failure(log).code == "root_mismatch"


def test_signed_but_malformed_checkpoint(log):
    signer = NoteSigner(name=ORIGIN, seed=bytes(range(32)))
    (log.directory / "checkpoint").write_bytes(sign_note(text=f"{ORIGIN}\n0700\nxx\n", signers=[signer]))
    assert _failure(log).code == "malformed_checkpoint"
    (log.directory / "checkpoint").write_bytes(b"garbage")
    assert _failure(log).code == "malformed_checkpoint"
    (log.directory / "checkpoint").unlink()
    assert _failure(log).code == "missing_checkpoint"


def test_wrong_origin_is_rejected(log):
    assert _failure(log, origin="other.example/log").code == "origin_mismatch"
    assert _verify(log, origin=ORIGIN).size == SIZE


def test_bad_verifier_key_is_reported(log):
    with pytest.raises(LogVerificationError) as error:
        verify_log(source=DirectorySource(log.directory), verifier_key="not a key")
    assert error.value.code == "bad_key"


@pytest.mark.slow
def test_consistent_growth_since_an_earlier_checkpoint(build, tmp_path):
    entries = sample_entries(900)
    for old_size in (1, 255, 256, 300, 700, 900):
        earlier = build(tmp_path / f"old{old_size}", entries[:old_size]).checkpoint
        grown = build(tmp_path / f"new{old_size}", entries)
        report = verify_log(source=DirectorySource(grown.directory), verifier_key=grown.verifier_key, since=earlier)
        assert report.since.size == old_size


@pytest.mark.parametrize("changed_index", [0, 255, 299])
def test_rewritten_history_is_detected(build, tmp_path, changed_index):
    entries = sample_entries(900)
    earlier = build(tmp_path / "old", entries[:300]).checkpoint
    rewritten = list(entries)
    rewritten[changed_index] = b"a different use record"
    forged = build(tmp_path / "new", rewritten)
    # The forged log is internally perfect and validly signed ...
    assert verify_log(source=DirectorySource(forged.directory), verifier_key=forged.verifier_key).size == 900
    # ... but not an extension of what the auditor saw before.
    with pytest.raises(LogVerificationError) as error:
        verify_log(source=DirectorySource(forged.directory), verifier_key=forged.verifier_key, since=earlier)
    assert error.value.code == "inconsistent_history"
    assert "300" in error.value.message


def test_shrunk_log_is_inconsistent(build, tmp_path):
    entries = sample_entries(400)
    earlier = build(tmp_path / "old", entries).checkpoint
    shrunk = build(tmp_path / "new", entries[:399])
    with pytest.raises(LogVerificationError) as error:
        verify_log(source=DirectorySource(shrunk.directory), verifier_key=shrunk.verifier_key, since=earlier)
    assert error.value.code == "inconsistent_history"


def test_earlier_checkpoint_from_another_key_is_rejected(log):
    other = NoteSigner.generate(ORIGIN)
    earlier = Checkpoint(origin=ORIGIN, size=1, root_hash=bytes(32)).sign(signers=[other])
    assert _failure(log, since=earlier).code == "bad_signature"


@pytest.mark.slow
def test_upper_full_tile_damage_is_blamed_on_the_upper_tile(tmp_path):
    built = build_reference(tmp_path / "log", sample_entries(65536 + 300))
    flip_byte(built.directory / "tile/1/000", 64)
    error = _failure(built, check_entries=False)
    assert (error.code, error.path) == ("tile_mismatch", "tile/1/000")


def test_progress_reaches_the_total(log):
    seen = []
    _verify(log, progress=lambda done, total: seen.append((done, total)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1] == 4 + 3


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture
def served(log):
    handler = functools.partial(_QuietHandler, directory=str(log.directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield log, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_verifies_over_http(served):
    log, url = served
    with HttpSource(url, timeout=5) as source:
        report = verify_log(source=source, verifier_key=log.verifier_key)
    assert report.size == SIZE


@pytest.mark.slow
def test_missing_tile_over_http(served):
    log, url = served
    (log.directory / "tile/0/001").unlink()
    with HttpSource(url, timeout=5) as source, pytest.raises(LogVerificationError) as error:
        verify_log(source=source, verifier_key=log.verifier_key)
    assert (error.value.code, error.value.path) == ("missing_tile", "tile/0/001")


def test_unreachable_server_is_a_fetch_failure():
    with HttpSource("http://127.0.0.1:9/", timeout=1) as source, pytest.raises(LogVerificationError) as error:
        verify_log(source=source, verifier_key=NoteSigner.generate("a").verifier.to_key_string())
    assert error.value.code == "fetch_failed"
