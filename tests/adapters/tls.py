"""A throwaway CA with a server and a client certificate, for mutual TLS
against a loopback provider."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """The loopback server's side: its certificate, and with
        ``require_client_cert`` mutual TLS against this CA."""
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH,
                                         cafile=str(self.ca_cert) if require_client_cert else None)
        tls.load_cert_chain(str(self.server_cert), str(self.server_key))
        if require_client_cert:
            tls.verify_mode = ssl.CERT_REQUIRED
        return tls


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _issue(*, subject: str, issuer_name, issuer_key, key, ca: bool, usage=None, ip=None, dns=None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if dns is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    elif ip is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path, *, server_name: str | None = None) -> Pki:
    """The server's certificate names 127.0.0.1, or only `server_name` (a
    host name) when given: then a client must verify it on that name."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue(subject="test CA", issuer_name=_name("test CA"), issuer_key=ca_key, key=ca_key, ca=True)
    paths = Pki(*(directory / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    paths.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for cert_path, key_path, usage, ip in (
        (paths.server_cert, paths.server_key, ExtendedKeyUsageOID.SERVER_AUTH, "127.0.0.1"),
        (paths.client_cert, paths.client_key, ExtendedKeyUsageOID.CLIENT_AUTH, None),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        dns = server_name if usage == ExtendedKeyUsageOID.SERVER_AUTH else None
        cert = _issue(subject=cert_path.stem, issuer_name=ca.subject, issuer_key=ca_key, key=key, ca=False, usage=usage,
                      ip=ip, dns=dns)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
    return paths
