"""A real RFC 3161 time-stamping authority on loopback, for tests.

OpenSSL's `openssl ts -reply` makes every answer; a tiny HTTP server on
127.0.0.1 speaks the RFC 3161 §3.4 HTTP binding in front of it. The
authority has its own CA and a TSA certificate (extendedKeyUsage
timeStamping, critical, as RFC 3161 §2.3 requires), made when it starts.

    with LoopbackTsa() as tsa:
        tsa.url                 # http://127.0.0.1:PORT/tsa
        tsa.ca_certificate      # DER: the anchor a verifier trusts for the tokens
        tsa.replies             # how many tokens it granted
        tsa.stop(); tsa.start() # down, and back at the same URL

Reusable by any feature that needs a trusted time: nothing in it knows PDFs.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_QUERY_BYTES = 16 * 1024
# No `certs` line: the token then carries the TSA's certificate alone. With the CA added, OpenSSL writes
# SignedData.certificates as a SET OF in insertion order, not DER's sorted order, and strict DER parsers
# (rfc3161-client, which checks the log's time-stamps) refuse it; verifiers are given the CA anyway.
_CONFIG = """\
[ tsa ]
default_tsa = certhub_test_tsa

[ certhub_test_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "certhub test TSA"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(*, subject: str, issuer: str, public: ec.EllipticCurvePublicKey, signer: ec.EllipticCurvePrivateKey,
                 ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    if not ca:
        # SPEC: RFC 3161 §2.3 — the TSA's certificate has exactly this one EKU, critical.
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(signer, hashes.SHA256())


class LoopbackTsa:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="certhub-tsa-")
        self.path = Path(self._dir.name)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        tsa_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate(subject="certhub test TSA root", issuer="certhub test TSA root",
                          public=ca_key.public_key(), signer=ca_key, ca=True)
        tsa = _certificate(subject="certhub test TSA", issuer="certhub test TSA root", public=tsa_key.public_key(),
                           signer=ca_key, ca=False)
        self.ca_certificate = ca.public_bytes(serialization.Encoding.DER)
        self.tsa_certificate = tsa.public_bytes(serialization.Encoding.DER)
        (self.path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (self.path / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
        (self.path / "tsa.key").write_bytes(tsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.path / "serial").write_text("01\n")
        (self.path / "tsa.cnf").write_text(_CONFIG.format(dir=self.path))
        self.replies = 0
        self._lock = threading.Lock()  # openssl bumps one serial file: one reply at a time
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-tsa", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/tsa"

    def __enter__(self) -> LoopbackTsa:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()

    def stop(self) -> None:
        """The authority goes down: nothing listens on its port until `start`."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)

    def start(self) -> None:
        """Back up after `stop`, at the same URL, with the same keys and serial file."""
        if self._thread.is_alive():
            return
        self._server = ThreadingHTTPServer(self._server.server_address[:2], self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-tsa", daemon=True)
        self._thread.start()

    def reply(self, query: bytes) -> bytes:
        """A TimeStampResp for the DER TimeStampReq `query`, made by `openssl ts -reply`."""
        with self._lock:
            query_file, reply_file = self.path / "query.tsq", self.path / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(["openssl", "ts", "-reply", "-config", str(self.path / "tsa.cnf"),
                            "-queryfile", str(query_file), "-out", str(reply_file)],
                           check=True, capture_output=True, timeout=30)
            self.replies += 1
            return reply_file.read_bytes()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Content-Type") != "application/timestamp-query" or not 0 < length <= MAX_QUERY_BYTES:
                    self.send_error(400, "a DER TimeStampReq, application/timestamp-query")
                    return
                try:
                    body = tsa.reply(self.rfile.read(length))
                except subprocess.CalledProcessError:
                    self.send_error(400, "openssl refused the query")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler
