"""X.509 certificates for signing PDF documents (PAdES): the registry's
document root and one document-signing certificate per department key.

PDF readers check a signature against an X.509 chain, which the registry's
keys do not otherwise have (trust in them comes from the trust list). So the
registry certifies each ES256 department (seal) key under a self-signed root
whose key is the registry's trust-root key when that key is ES256, or a
dedicated ES256 document-root key otherwise (an SM2 or Ed25519 root would
make a chain neither poppler's pdfsig nor pyHanko's validator can check).

The certificates are laid out with `cryptography`'s x509 builder, and signed
through `signing.algorithms.PrivateKey.sign`, never with a cryptography key
object: a key held in a hardware token (which only exposes `sign`) can be the
root. The builder needs a key to sign with, so it signs once with a throwaway
key of the issuer's algorithm; that fixes the TBSCertificate bytes (the
signature algorithm identifier is inside them, the issuer's key is not), which
the issuer's own key then signs. Each certificate is checked against its
issuer's public key before it is returned.

# SPEC: RFC 5280 §4.1 (Certificate, TBSCertificate), §4.2.1 (extensions)
# SPEC: RFC 5758 §3.2 (ecdsa-with-SHA256: a DER Ecdsa-Sig-Value)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.errors import InvalidInput

# The one algorithm a PDF signature is made with: what pdfsig (NSS) and pyHanko both verify.
PDF_SIGNING_ALGORITHM = Algorithm.ES256
_ES256_SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class CertificateName:
    """Who a certificate names: C=CN, O=organization, [OU=unit,] CN=common_name."""

    common_name: str
    organization: str
    unit: str | None = None

    def x509_name(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, _bounded(self.organization, "organization"))]
        if self.unit:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _bounded(self.unit, "unit")))
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, _bounded(self.common_name, "common name")))
        return x509.Name(attributes)


def _bounded(value: str, what: str) -> str:
    # SPEC: RFC 5280 Appendix A (ub-common-name, ub-organization-name: 64 characters)
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"certificate {what}: empty")
    return value[:64]


def issue_document_root(*, root_key: PrivateKey, name: CertificateName, not_before: datetime,
                        not_after: datetime) -> bytes:
    """The registry's self-signed document root (a CA for document-signing certificates only)."""
    builder = _builder(subject=name.x509_name(), issuer=name.x509_name(), subject_key=root_key.public_key,
                       not_before=not_before, not_after=not_after)
    builder = (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(_crypto_public(root_key.public_key)),
                       critical=False)
    )
    return _signed(builder, issuer_key=root_key, issuer_public=root_key.public_key)


def issue_document_signing_certificate(
    *, root_key: PrivateKey, root_certificate: bytes, subject_key: PublicKey, name: CertificateName,
    not_before: datetime, not_after: datetime,
) -> bytes:
    """A department key's end-entity certificate under the document root.

    No extendedKeyUsage: NSS (pdfsig) checks a PDF signer as an S/MIME signer
    and refuses a certificate whose EKU lacks emailProtection; without the
    extension any use is allowed, and the key usage already limits it to
    signatures (digitalSignature, nonRepudiation: what pyHanko asks of a signer).
    """
    if subject_key.algorithm != PDF_SIGNING_ALGORITHM:
        raise InvalidInput(f"a document-signing certificate certifies an {PDF_SIGNING_ALGORITHM} key, "
                           f"not {subject_key.algorithm}")
    root = x509.load_der_x509_certificate(root_certificate)
    root_window_end = root.not_valid_after_utc
    builder = _builder(subject=name.x509_name(), issuer=root.subject, subject_key=subject_key,
                       not_before=max(not_before, root.not_valid_before_utc), not_after=min(not_after, root_window_end))
    builder = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(_crypto_public(root_key.public_key)),
                       critical=False)
    )
    return _signed(builder, issuer_key=root_key, issuer_public=root_key.public_key)


def _builder(*, subject: x509.Name, issuer: x509.Name, subject_key: PublicKey, not_before: datetime,
             not_after: datetime) -> x509.CertificateBuilder:
    if not_after <= not_before:
        raise InvalidInput("a certificate's validity must end after it starts")
    public = _crypto_public(subject_key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        # SPEC: RFC 5280 §4.1.2.2 — a positive serial of at most 20 octets; 16 random bytes.
        .serial_number(secrets.randbits(127) + 1)
        .not_valid_before(not_before.replace(microsecond=0))
        .not_valid_after(not_after.replace(microsecond=0))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=not ca, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def _crypto_public(key: PublicKey) -> ec.EllipticCurvePublicKey:
    public = serialization.load_der_public_key(key.spki_der)
    if key.algorithm != PDF_SIGNING_ALGORITHM or not isinstance(public, ec.EllipticCurvePublicKey):
        raise InvalidInput(f"document certificates hold {PDF_SIGNING_ALGORITHM} keys only, not {key.algorithm}")
    return public


def _signed(builder: x509.CertificateBuilder, *, issuer_key: PrivateKey, issuer_public: PublicKey) -> bytes:
    """The builder's TBSCertificate, signed by `issuer_key` through its own `sign`."""
    if issuer_key.algorithm != PDF_SIGNING_ALGORITHM:
        raise InvalidInput(f"the document root signs with {PDF_SIGNING_ALGORITHM}, not {issuer_key.algorithm}")
    # Only fixes the TBS bytes and their algorithm identifier (ecdsa-with-SHA256); this signature is discarded.
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    raw = issuer_key.sign(tbs)
    if len(raw) != _ES256_SIGNATURE_SIZE:
        raise InvalidInput("the issuer's key did not return an ES256 signature")
    # ES256 keys sign as raw r||s (JOSE/COSE); X.509 wants the DER Ecdsa-Sig-Value.
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    draft_asn1 = asn1_x509.Certificate.load(draft.public_bytes(serialization.Encoding.DER))
    certificate = asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs),
        "signature_algorithm": draft_asn1["signature_algorithm"],
        "signature_value": signature,
    }).dump(force=True)
    _check_signature(certificate, issuer_public)
    return certificate


def _check_signature(der: bytes, issuer_public: PublicKey) -> None:
    certificate = x509.load_der_x509_certificate(der)
    issuer = _crypto_public(issuer_public)
    try:
        issuer.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as error:  # fail closed: never keep or hand out a certificate that does not verify
        raise InvalidInput("the issued certificate does not verify under its issuer's key") from error
