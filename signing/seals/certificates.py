"""X.509 certificates inside seals: reading them, and issuing our own.

There is no external CA for the platform's seal maker, so it holds a
self-issued SM2 certificate (issuer = subject), and issues each seal key a
certificate naming the seal. Certificates are assembled with asn1crypto and
signed with SM2-with-SM3 (# SPEC: GB/T 35275 for the algorithm identifier;
RFC 5280 §4.1 for the structure). Chains are not validated against any root
here: trust in a maker comes from the trust list, not from a PKI.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core, x509
from asn1crypto import keys as asn1_keys

from signing.algorithms import PrivateKey, PublicKey
from signing.sm2 import SM2_WITH_SM3_OID, SM2PrivateKey, SM2PublicKey, sm2_point_from_spki


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    serial_number: int
    not_before: datetime
    not_after: datetime
    public_key_algorithm: str
    signature_algorithm_oid: str


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate strictly; ValueError when it is not one."""
    return x509.Certificate.load(der, strict=True)


def certificate_info(certificate: x509.Certificate) -> CertificateInfo:
    tbs = certificate["tbs_certificate"]
    spki = tbs["subject_public_key_info"]
    algorithm = spki["algorithm"]["algorithm"].native
    if algorithm == "ec":
        algorithm = f"ec/{spki['algorithm']['parameters'].chosen.dotted}"
    validity = tbs["validity"].native
    return CertificateInfo(
        subject=certificate.subject.human_friendly,
        issuer=certificate.issuer.human_friendly,
        serial_number=tbs["serial_number"].native,
        not_before=validity["not_before"],
        not_after=validity["not_after"],
        public_key_algorithm=algorithm,
        signature_algorithm_oid=certificate["signature_algorithm"]["algorithm"].dotted,
    )


def sm2_public_key_of(certificate: x509.Certificate) -> SM2PublicKey:
    """The SM2 key certified by `certificate`; ValueError when it holds another kind."""
    return SM2PublicKey(sm2_point_from_spki(certificate["tbs_certificate"]["subject_public_key_info"]))


def _name(*, common_name: str, organization: str) -> x509.Name:
    return x509.Name.build(
        {"country_name": "CN", "organization_name": organization, "common_name": common_name},
        use_printable=False,
    )


def whole_second(value: datetime) -> datetime:
    """`value` in UTC, truncated to the second.

    # SPEC: RFC 5280 §4.1.2.5.2 — GeneralizedTime in certificates MUST NOT
    # carry fractional seconds; docs/formats.md "Timestamps" truncates, never rounds.
    """
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _validity(not_before: datetime, not_after: datetime) -> x509.Validity:
    # SPEC: RFC 5280 §4.1.2.5 — GeneralizedTime after 2049, UTCTime before.
    def time(value: datetime) -> x509.Time:
        second = whole_second(value)
        return x509.Time(name="utc_time" if second.year < 2050 else "general_time", value=second)

    return x509.Validity({"not_before": time(not_before), "not_after": time(not_after)})


def issue_certificate(
    *,
    issuer_key: SM2PrivateKey,
    issuer_name: x509.Name | None,
    subject_common_name: str,
    subject_organization: str,
    subject_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    is_authority: bool,
) -> bytes:
    """A DER certificate for `subject_key`, signed SM2-with-SM3 by `issuer_key`.

    With `issuer_name=None` the certificate is self-issued (issuer = subject).
    """
    subject = _name(common_name=subject_common_name, organization=subject_organization)
    subject_info = asn1_keys.PublicKeyInfo.load(subject_key.spki_der)
    key_usage = {"key_cert_sign", "crl_sign", "digital_signature"} if is_authority else {"digital_signature"}
    extensions = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": is_authority}},
        {"extn_id": "key_usage", "critical": True, "extn_value": key_usage},
        # SPEC: RFC 5280 §4.2.1.2 (method 1: SHA-1 of the subjectPublicKey bits) and
        # §4.2.1.1 — the identifiers let a verifier such as OpenSSL find the issuer.
        {"extn_id": "key_identifier", "critical": False, "extn_value": subject_info.sha1},
        {
            "extn_id": "authority_key_identifier",
            "critical": False,
            "extn_value": {"key_identifier": asn1_keys.PublicKeyInfo.load(issuer_key.public_key.spki_der).sha1},
        },
    ]
    algorithm = {"algorithm": SM2_WITH_SM3_OID}
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            # SPEC: RFC 5280 §4.1.2.2 — positive, at most 20 octets.
            "serial_number": secrets.randbits(120) | 1 << 119,
            "signature": algorithm,
            "issuer": issuer_name if issuer_name is not None else subject,
            "validity": _validity(not_before, not_after),
            "subject": subject,
            "subject_public_key_info": subject_info,
            "extensions": extensions,
        }
    )
    signature = issuer_key.sign(tbs.dump())
    certificate = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": algorithm,
            "signature_value": core.OctetBitString(signature),
        }
    )
    return certificate.dump()


def verify_certificate_signature(certificate: x509.Certificate, *, issuer_key: PublicKey) -> bool:
    """True when `issuer_key` signed this certificate's TBS part."""
    if certificate["signature_algorithm"]["algorithm"].dotted != SM2_WITH_SM3_OID:
        return False
    tbs = certificate["tbs_certificate"].dump()
    return issuer_key.verify(tbs, certificate["signature_value"].native)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer` is a CA certificate that names and signed `certificate`
    (SM2-with-SM3 with the GM/T 0009 default signer ID, as `openssl verify
    -vfyopt distid:1234567812345678` checks it). Validity periods are the
    caller's to judge: what a seal signed while its certificate was valid
    stays checkable after the certificate ends."""
    if certificate.issuer != issuer.subject or not issuer.ca:
        return False
    if issuer.key_usage_value is not None and "key_cert_sign" not in issuer.key_usage_value.native:
        return False
    try:
        issuer_key = sm2_public_key_of(issuer)
    except ValueError:
        return False
    return verify_certificate_signature(certificate, issuer_key=issuer_key)


def self_issued_maker_certificate(*, maker_key: SM2PrivateKey, maker_name: str, not_before: datetime, not_after: datetime) -> bytes:
    return issue_certificate(
        issuer_key=maker_key,
        issuer_name=None,
        subject_common_name=maker_name,
        subject_organization=maker_name,
        subject_key=maker_key.public_key,
        not_before=not_before,
        not_after=not_after,
        is_authority=True,
    )


def issued_seal_certificate(
    *, maker_key: SM2PrivateKey, maker_certificate: bytes, seal_name: str, owner_department_code: str,
    seal_key: PrivateKey | PublicKey, not_before: datetime, not_after: datetime,
) -> bytes:
    public = seal_key.public_key if isinstance(seal_key, PrivateKey) else seal_key
    return issue_certificate(
        issuer_key=maker_key,
        issuer_name=load_certificate(maker_certificate).subject,
        subject_common_name=seal_name,
        subject_organization=owner_department_code,
        subject_key=public,
        not_before=not_before,
        not_after=not_after,
        is_authority=False,
    )
