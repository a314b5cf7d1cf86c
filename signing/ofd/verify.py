"""Verify the seal signatures (电子签章) of an OFD package.

For each signature the OFD.xml's signature list names (GB/T 33190-2016 §18,
GB/T 38540-2020 §8.2, in this order, failing closed at the first fault):

1. every file <ofd:References> lists exists and has the SM3 digest written there;
2. the SES_Signature in <ofd:SignedValue> parses (v4, DER), is SM2-with-SM3,
   and its dataHash is SM3 of this Signature.xml;
3. the seal inside verifies (the maker's SM2 signature, signing/seals/gbt38540.py),
   the signer certificate is one the seal lists, issued by the seal's maker,
   and the signing time lies within the seal's and the certificate's validity;
4. the SM2 signature over the DER of TBS_Sign verifies with the certificate's key;
5. a seal file named by <ofd:Seal> is the seal inside the signature.

Then every file of the package is protected by some signature except the
signatures' own Signature.xml and SignedValue.dat: an added file (a page, a
font, a picture) is refused. Which makers and seals to trust is the caller's
decision (the trust list); this checks that the document is what the seal
signed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from signing.errors import VerificationError
from signing.ofd.package import ENTRY_FILE, Files, parse_xml, read_package, resolve, tag, text_of
from signing.ofd.ses import ParsedSignature, parse_ses_signature
from signing.ofd.sign import SM3_OID, sm3
from signing.seals.certificates import (
    certificate_info,
    load_certificate,
    sm2_public_key_of,
    verify_certificate_signature,
)
from signing.seals.gbt38540 import SealDocument, verify_seal_file
from signing.sm2 import SM2_WITH_SM3_OID

MAX_SIGNATURES = 50
MAX_REFERENCES = 2000


@dataclass(frozen=True)
class OfdSignatureReport:
    signature_id: str
    seal_name: str
    es_id: str
    signer: str  # the signer certificate's subject
    signer_spki: bytes  # the signer's SM2 public key (DER SubjectPublicKeyInfo): what a trust list names
    maker: str
    signed_at: datetime
    page_ref: str | None
    protected_files: int


@dataclass(frozen=True)
class OfdReport:
    files: int
    signatures: tuple[OfdSignatureReport, ...]


def _invalid(message: str) -> VerificationError:
    return VerificationError("signature_invalid", message)


def _malformed(message: str) -> VerificationError:
    return VerificationError("malformed", message)


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _signature_entries(files: Files) -> list[tuple[str, str]]:
    """(ID, Signature.xml path) of each signature of each document."""
    body_list = parse_xml(files, ENTRY_FILE).findall(tag("DocBody"))
    if not body_list:
        raise _malformed("OFD.xml has no DocBody")
    entries = []
    for body in body_list:
        signatures = body.find(tag("Signatures"))
        if signatures is None or not (signatures.text or "").strip():
            continue
        list_path = resolve(signatures.text or "", base="/")
        for item in parse_xml(files, list_path).findall(tag("Signature")):
            entries.append((item.get("ID", ""), resolve(item.get("BaseLoc", ""), base=_dir(list_path))))
    if not entries:
        raise _invalid("the document carries no signature")
    if len(entries) > MAX_SIGNATURES:
        raise VerificationError("too_large", f"over {MAX_SIGNATURES} signatures")
    return entries


def _check_references(files: Files, info: Element, *, base: str) -> set[str]:  # 1.
    references = info.find(tag("References"))
    if references is None:
        raise _malformed("SignedInfo has no References")
    method = references.get("CheckMethod", "")
    if method not in (SM3_OID, "SM3"):
        raise _malformed(f"unsupported digest method {method!r}; certhub checks SM3")
    items = references.findall(tag("Reference"))
    if len(items) > MAX_REFERENCES:
        raise VerificationError("too_large", f"over {MAX_REFERENCES} references")
    covered: set[str] = set()
    for item in items:
        path = resolve(item.get("FileRef", ""), base=base)
        if path not in files:
            raise _invalid(f"protected file {path} is missing")
        try:
            expected = base64.b64decode(text_of(item, "CheckValue"), validate=True)
        except (binascii.Error, ValueError):
            raise _malformed(f"the digest of {path} is not base64") from None
        if sm3(files[path]) != expected:
            raise _invalid(f"{path} has changed since it was signed")
        covered.add(path)
    return covered


def _check_signer(parsed: ParsedSignature, seal: SealDocument) -> tuple[str, bytes]:  # 3. and 4.
    if parsed.certificate not in seal.signer_certificates:
        raise _invalid("the signer certificate is not one the seal lists")
    try:
        certificate = load_certificate(parsed.certificate)
        key = sm2_public_key_of(certificate)
        maker_key = sm2_public_key_of(load_certificate(seal.maker_certificate))
    except (ValueError, TypeError, KeyError) as error:
        raise _malformed(f"the signer certificate holds no SM2 key: {error}") from None
    if not verify_certificate_signature(certificate, issuer_key=maker_key):
        raise _invalid("the signer certificate was not issued by the seal's maker")
    info = certificate_info(certificate)
    if not (seal.valid_from <= parsed.signed_at <= seal.valid_to):
        raise _invalid("signed outside the seal's validity")
    if not (info.not_before <= parsed.signed_at <= info.not_after):
        raise _invalid("signed outside the signer certificate's validity")
    if not key.verify(parsed.to_sign_der, parsed.signature):
        raise _invalid("the SM2 signature over TBS_Sign does not verify")
    return info.subject, key.spki_der


def _verify_one(files: Files, signature_id: str, signature_path: str) -> tuple[OfdSignatureReport, set[str]]:
    base = _dir(signature_path)
    root = parse_xml(files, signature_path)
    info = root.find(tag("SignedInfo"))
    if info is None:
        raise _malformed(f"{signature_path} has no SignedInfo")
    covered = _check_references(files, info, base=base)  # 1.
    value_path = resolve(text_of(root, "SignedValue"), base=base)
    if value_path not in files:
        raise _malformed(f"the signed value {value_path} is missing")
    parsed = parse_ses_signature(files[value_path])  # 2.
    if parsed.algorithm_oid != SM2_WITH_SM3_OID:
        raise _malformed(f"unsupported signature algorithm {parsed.algorithm_oid}")
    if parsed.data_hash != sm3(files[signature_path]):
        raise _invalid(f"{signature_path} is not what the seal signed (dataHash)")
    seal = verify_seal_file(parsed.seal_der)  # 3.
    signer, signer_spki = _check_signer(parsed, seal)  # 3. and 4.
    seal_element = info.find(tag("Seal"))
    if seal_element is not None:  # 5.
        seal_path = resolve(text_of(seal_element, "BaseLoc"), base=base)
        if files.get(seal_path) != parsed.seal_der:
            raise _invalid(f"{seal_path} is not the seal inside the signature")
    stamp = info.find(tag("StampAnnot"))
    report = OfdSignatureReport(
        signature_id=signature_id, seal_name=seal.name, es_id=seal.es_id, signer=signer, signer_spki=signer_spki,
        maker=seal.maker_certificate_info.subject, signed_at=parsed.signed_at,
        page_ref=stamp.get("PageRef") if stamp is not None else None, protected_files=len(covered),
    )
    return report, covered | {signature_path, value_path}


def verify_ofd(data: bytes) -> OfdReport:
    """Check every seal signature of an OFD package; the report, or VerificationError."""
    files = read_package(data)
    reports = []
    accounted: set[str] = set()
    for signature_id, signature_path in _signature_entries(files):
        report, covered = _verify_one(files, signature_id, signature_path)
        reports.append(report)
        accounted |= covered
    unprotected = sorted(set(files) - accounted)
    if unprotected:
        raise _invalid(f"files no signature protects: {', '.join(unprotected[:5])}")
    return OfdReport(files=len(files), signatures=tuple(reports))
