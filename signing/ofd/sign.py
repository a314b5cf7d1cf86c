"""Sign an OFD package with a department seal (电子签章, GB/T 38540 in an OFD).

# SPEC: GB/T 33190-2016 §18 (数字签名): the package's signature list
# (Signs/Signatures.xml, named by OFD.xml's <ofd:Signatures>) points to each
# signature's Signature.xml; its <ofd:SignedInfo> lists every protected file
# with its digest (<ofd:References CheckMethod=…>), the seal's appearance
# (<ofd:StampAnnot>); <ofd:SignedValue> names the file holding the signature
# value, here a GB/T 38540-2020 SES_Signature whose dataHash is SM3 of
# Signature.xml. Every file of the package at signing time is protected,
# Signatures.xml included (what ofdrw's OFDSigner does for a document's first
# seal), so nothing can be added to or changed in the document without the
# signature failing.
"""

from __future__ import annotations

import base64
import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

import gmssl_pyx

from signing.errors import OfdSigningError
from signing.ofd.package import ENTRY_FILE, OFD_NS, Files, parse_xml, resolve, tag, text_of, write_package
from signing.ofd.ses import encode_ses_signature
from signing.seals.certificates import load_certificate, sm2_public_key_of
from signing.seals.gbt38540 import parse_seal_file
from signing.sm2 import SM2_WITH_SM3_OID, SM2PrivateKey

SM3_OID = "1.2.156.10197.1.401"  # SPEC: GB/T 33560 — the digest of <ofd:References CheckMethod>
SIGN_DIR = "Signs"
SIGNATURES_FILE = "Signatures.xml"
PROVIDER_NAME = "certhub"
PROVIDER_VERSION = "1"

ElementTree.register_namespace("ofd", OFD_NS)


@dataclass(frozen=True)
class OfdSealSigner:
    """A seal able to sign an OFD: its SM2 key, the seal structure naming it and its certificate."""

    key: SM2PrivateKey
    seal_der: bytes
    certificate: bytes

    def __post_init__(self) -> None:
        seal = parse_seal_file(self.seal_der)
        if self.certificate not in seal.signer_certificates:
            raise OfdSigningError("the signer certificate is not one the seal lists")
        if sm2_public_key_of(load_certificate(self.certificate)).point != self.key.public_key.point:
            raise OfdSigningError("the signer certificate does not certify the signing key")


@dataclass(frozen=True)
class StampPlacement:
    """Where the seal's picture appears: a page (its ID in Document.xml) and a box in millimetres."""

    page_id: int
    boundary: tuple[float, float, float, float]  # x, y, width, height


def sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(data))


def signatures_location(files: Files) -> str:
    """Where OFD.xml says the first document's signature list lies (it must say)."""
    body = parse_xml(files, ENTRY_FILE).find(tag("DocBody"))
    if body is None:
        raise OfdSigningError("OFD.xml has no DocBody")
    return resolve(text_of(body, "Signatures"), base="/")


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _xml(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _element(parent: ElementTree.Element, name: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, tag(name), attributes)
    if text is not None:
        child.text = text
    return child


def _signature_list(signature_path: str) -> bytes:
    root = ElementTree.Element(tag("Signatures"))
    _element(root, "MaxSignId", "1")
    _element(root, "Signature", ID="1", Type="Seal", BaseLoc=signature_path)
    return _xml(root)


def _signature_file(files: Files, *, signed_at: datetime, stamp: StampPlacement, signed_value_path: str) -> bytes:
    root = ElementTree.Element(tag("Signature"))
    info = _element(root, "SignedInfo")
    _element(info, "Provider", ProviderName=PROVIDER_NAME, Version=PROVIDER_VERSION, Company=PROVIDER_NAME)
    _element(info, "SignatureMethod", SM2_WITH_SM3_OID)
    _element(info, "SignatureDateTime", f"{signed_at:%Y%m%d%H%M%S}Z")
    references = _element(info, "References", CheckMethod=SM3_OID)
    for path in sorted(files):
        reference = _element(references, "Reference", FileRef=path)
        _element(reference, "CheckValue", base64.b64encode(sm3(files[path])).decode("ascii"))
    _element(info, "StampAnnot", ID="1", PageRef=str(stamp.page_id),
             Boundary=" ".join(_number(value) for value in stamp.boundary))
    # No <ofd:Seal> file: the seal travels inside the SES_Signature (TBS_Sign.eseal), and a
    # second copy would double the document's size (the seal picture is most of it).
    _element(root, "SignedValue", signed_value_path)
    return _xml(root)


def sign_ofd(files: Files, *, signer: OfdSealSigner, stamp: StampPlacement, signed_at: datetime) -> bytes:
    """The package with one seal signature over all of its files, as OFD bytes.

    `files` must not be signed yet and OFD.xml must name the signature list.
    """
    moment = signed_at.astimezone(UTC).replace(microsecond=0)
    list_path = signatures_location(files)
    if list_path in files:
        raise OfdSigningError("the package is signed already")
    sign_dir = posixpath.join(posixpath.dirname(list_path), "Sign_0")
    signature_path, value_path = f"{sign_dir}/Signature.xml", f"{sign_dir}/SignedValue.dat"
    protected = {**files, list_path: _signature_list(signature_path)}
    signature_xml = _signature_file(protected, signed_at=moment, stamp=stamp, signed_value_path=value_path)
    signed_value = encode_ses_signature(
        seal_der=signer.seal_der, signed_at=moment, data_hash=sm3(signature_xml), property_info=signature_path,
        certificate=signer.certificate, key=signer.key,
    )
    return write_package({**protected, signature_path: signature_xml, value_path: signed_value})
