"""`certhub verify`: a QR text or image against a pinned trust list, as a verifier runs it."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from typer.testing import CliRunner

from certhub.cli import app
from signing.keys import generate_private_key
from signing.qr import render_qr_png
from signing.statuses import KeyPurpose
from signing.statuslist import StatusList, TokenStatus, sign_status_list_token
from tests.factories.qr import IDENTIFIER, REGISTRY_ID, STATUS_URI, T0, World, at, key_entry

pytestmark = pytest.mark.slow  # the CLI against served trust and status lists

runner = CliRunner()
NOW = at(days=1).isoformat()


@pytest.fixture(scope="module")
def world() -> World:
    return World(root=generate_private_key(), seal_key=generate_private_key(),
                 presentation_key=generate_private_key(), status_key=generate_private_key())


@pytest.fixture
def files(world, tmp_path):
    trust_list = tmp_path / "trust-list.json"
    trust_list.write_bytes(world.store().trust_list(REGISTRY_ID).to_json())
    root = base64.b64encode(world.root.public_key.spki_der).decode()
    return trust_list, root


def _status_token(world, statuses=None) -> str:
    bits = StatusList(size=1 << 16, bits=2)
    for index, value in (statuses or {}).items():
        bits.set(index, value)
    return sign_status_list_token(status_list=bits, subject=STATUS_URI, key=world.status_key, issued_at=T0, ttl=300)


def run(*args):
    return runner.invoke(app, ["verify", *args], catch_exceptions=False)


def test_valid_text_prints_the_licence_and_exits_0(world, files):
    trust_list, root = files
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "VALID licence QR code" in result.output and IDENTIFIER in result.output and "张*" in result.output
    assert "not checked" in result.output


def test_json_output(world, files):
    trust_list, root = files
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root, "--now", NOW, "--json")
    body = json.loads(result.output)
    assert result.exit_code == 0 and body["valid"] is True and body["kind"] == "licence"
    assert body["licence"]["identifier"] == IDENTIFIER and body["signer"]["kind"] == "seal"


def test_image_file_is_read(world, files, tmp_path):
    trust_list, root = files
    image = Image.open(io.BytesIO(render_qr_png(world.licence_qr()))).resize((240, 240))
    path = tmp_path / "code.png"
    image.save(path)
    result = run(str(path), "--trust-list", str(trust_list), "--root-key", root, "--now", NOW)
    assert result.exit_code == 0, result.output


def test_invalid_code_exits_1_with_its_code(world, files):
    trust_list, root = files
    expired = world.licence_qr(expires_at=at(hours=1))
    result = run(expired, "--trust-list", str(trust_list), "--root-key", root, "--now", NOW, "--json")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "expired"
    plain = run("EL1:not base45 at all", "--trust-list", str(trust_list), "--root-key", root, "--now", NOW)
    assert plain.exit_code == 1 and "INVALID: base45_invalid" in plain.output


def test_without_a_trust_list_every_code_is_an_unknown_key(world):
    result = run(world.licence_qr(), "--now", NOW)
    assert result.exit_code == 1 and "unknown_key" in result.output


def test_trust_list_under_another_root_is_a_setup_error(world, files):
    trust_list, _ = files
    other_root = base64.b64encode(generate_private_key().public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", other_root, "--now", NOW, "--json")
    assert result.exit_code == 2 and "trust_list_untrusted" in json.loads(result.output)["message"]


def test_trust_list_needs_a_root_key(world, files):
    trust_list, _ = files
    assert run(world.licence_qr(), "--trust-list", str(trust_list)).exit_code == 2


def test_status_list_file_with_its_key(world, files, tmp_path):
    trust_list, root = files
    token = tmp_path / "status.jwt"
    token.write_text(_status_token(world, {40123: TokenStatus.SUSPENDED}))
    key = base64.b64encode(world.status_key.public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root, "--status-list", str(token),
                 "--status-list-key", key, "--now", NOW)
    assert result.exit_code == 1 and "suspended" in result.output


class _Registry(BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def registry_server(world):
    _Registry.routes = {
        "/.well-known/certhub/trust-list": world.store().trust_list(REGISTRY_ID).to_json(),
        "/api/v1/status-lists/12": _status_token(world).encode(),
        "/api/v1/status-lists/12/key": world.status_key.public_key.spki_der,
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_trust_list_and_status_list_from_urls(world, registry_server):
    root = base64.b64encode(world.root.public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", f"{registry_server}/.well-known/certhub/trust-list",
                 "--root-key", root, "--status-list", f"{registry_server}/api/v1/status-lists/12",
                 "--now", NOW, "--max-status-age", str(3 * 86400), "--json")
    body = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert body["status"] == "valid" and body["status_list_age_seconds"] == 86400


def test_a_status_list_whose_key_is_not_in_the_trust_list_is_refused(world, registry_server):
    """The registry serves the list's key at <URL>/key, but only the signed trust list
    vouches for keys: a list signed by a key it does not name is refused."""
    without = world.store(keys=(key_entry(world.seal_key),)).trust_list(REGISTRY_ID).to_json()
    _Registry.routes["/.well-known/certhub/trust-list"] = without
    root = base64.b64encode(world.root.public_key.spki_der).decode()
    args = [world.licence_qr(), "--trust-list", f"{registry_server}/.well-known/certhub/trust-list",
            "--root-key", root, "--status-list", f"{registry_server}/api/v1/status-lists/12", "--now", NOW, "--json"]
    result = run(*args)
    assert result.exit_code == 2 and "status_list_untrusted" in json.loads(result.output)["message"]
    # Named in the trust list, but for another use: still not a status-list key.
    as_presentation = key_entry(world.status_key, purpose=KeyPurpose.PRESENTATION)
    _Registry.routes["/.well-known/certhub/trust-list"] = world.store(
        keys=(key_entry(world.seal_key), as_presentation)).trust_list(REGISTRY_ID).to_json()
    result = run(*args)
    assert result.exit_code == 2 and "status_list_untrusted" in json.loads(result.output)["message"]


def test_a_pinned_status_list_key_still_counts(world, registry_server, tmp_path):
    trust_list = tmp_path / "trust-list.json"
    trust_list.write_bytes(world.store(keys=(key_entry(world.seal_key),)).trust_list(REGISTRY_ID).to_json())
    root = base64.b64encode(world.root.public_key.spki_der).decode()
    key = base64.b64encode(world.status_key.public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root,
                 "--status-list", f"{registry_server}/api/v1/status-lists/12", "--status-list-key", key, "--now", NOW)
    assert result.exit_code == 0, result.output


def test_a_status_list_needs_a_trust_list_or_a_pinned_key(world, registry_server):
    result = run(world.licence_qr(), "--status-list", f"{registry_server}/api/v1/status-lists/12", "--now", NOW)
    assert result.exit_code == 2 and "--trust-list" in result.output


def test_missing_url_is_a_setup_error(world, registry_server):
    root = base64.b64encode(world.root.public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", f"{registry_server}/nothing-here", "--root-key", root)
    assert result.exit_code == 2 and "HTTP 404" in result.output


def test_eu_dcc_code_with_its_signer_certificate(tmp_path):
    from tests.conformance import DCC_TESTDATA, corpus_file
    from tests.signing.qr.dcc_vectors import Vector

    vector = Vector(corpus_file(DCC_TESTDATA, "DE/2DCode/raw/1.json"))
    certificate = tmp_path / "dsc.der"
    certificate.write_bytes(base64.b64decode(vector.context["CERTIFICATE"]))
    result = run(vector.data["PREFIX"], "--dcc-cert", str(certificate), "--now", vector.clock.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kind"] == "hcert"


def test_a_status_list_with_a_huge_iat_is_a_clean_failure(world, files, tmp_path):
    trust_list, root = files
    encode = lambda value: base64.urlsafe_b64encode(  # noqa: E731
        json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()
    claims = {"sub": STATUS_URI, "iat": 10**20, "ttl": 300, "status_list": StatusList(size=8).to_json()}
    signing_input = f"{encode({'alg': 'ES256', 'kid': world.status_key.kid, 'typ': 'statuslist+jwt'})}.{encode(claims)}"
    signature = base64.urlsafe_b64encode(world.status_key.sign(signing_input.encode())).rstrip(b"=").decode()
    token = tmp_path / "status.jwt"
    token.write_text(f"{signing_input}.{signature}")
    key = base64.b64encode(world.status_key.public_key.spki_der).decode()
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root, "--status-list", str(token),
                 "--status-list-key", key, "--now", NOW, "--json")
    assert result.exit_code == 2 and "malformed: iat" in json.loads(result.output)["message"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_now_at_the_ends_of_the_calendar_is_a_setup_error_not_a_crash(world, files, moment):
    trust_list, root = files
    result = run(world.licence_qr(), "--trust-list", str(trust_list), "--root-key", root, "--now", moment)
    assert result.exit_code == 2 and "--now" in result.output
