"""An OFD 签章 checked from the standards alone, without certhub's code.

GB/T 33190-2016 §18 (the OFD's signature files) and GB/T 38540-2020 §5.2
(SES_Signature, TBS_Sign, SESeal): the package is read with zipfile and
ElementTree, the ASN.1 with pyasn1 (certhub uses asn1crypto), SM3 and SM2
with OpenSSL 3 (hashlib's OpenSSL SM3, and the `openssl` command line with
the SM2 distinguishing ID 1234567812345678; certhub uses gmssl_pyx).
`independent_problems` lists what is wrong; an empty list means valid.
This module imports nothing of certhub.
"""

from __future__ import annotations

import base64
import hashlib
import io
import posixpath
import subprocess
import tempfile
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from pyasn1.codec.der import decoder
from pyasn1.type import char, namedtype, tag, univ, useful

NS = {"ofd": "http://www.ofdspec.org/2016"}
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM3 = "1.2.156.10197.1.401"
DISTINGUISHING_ID = "1234567812345678"  # GM/T 0009 §10 default


class TBSSign(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("eseal", univ.Any()),
        namedtype.NamedType("timeInfo", useful.GeneralizedTime()),
        namedtype.NamedType("dataHash", univ.BitString()),
        namedtype.NamedType("propertyInfo", char.IA5String()),
    )


class SESSignature(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("toSign", univ.Any()),
        namedtype.NamedType("cert", univ.OctetString()),
        namedtype.NamedType("signatureAlgID", univ.ObjectIdentifier()),
        namedtype.NamedType("signature", univ.BitString()),
        namedtype.OptionalNamedType("timeStamp", univ.BitString().subtype(
            explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0))),
    )


class SESeal(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("esealInfo", univ.Any()),
        namedtype.NamedType("makerCert", univ.OctetString()),
        namedtype.NamedType("signAlgID", univ.ObjectIdentifier()),
        namedtype.NamedType("signedValue", univ.BitString()),
    )


def _sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def openssl_sm2_verifies(certificate: bytes, data: bytes, signature: bytes) -> bool:
    """`openssl dgst -sm3 -verify` with the certificate's SM2 key and the default distinguishing ID."""
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "cert.der").write_bytes(certificate)
        (work / "data").write_bytes(data)
        (work / "sig").write_bytes(signature)
        key = subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(work / "cert.der"), "-pubkey", "-noout"],
                             capture_output=True, check=False)
        if key.returncode != 0:
            return False
        (work / "key.pem").write_bytes(key.stdout)
        result = subprocess.run(
            ["openssl", "dgst", "-sm3", "-verify", str(work / "key.pem"), "-signature", str(work / "sig"),
             "-sigopt", f"distid:{DISTINGUISHING_ID}", str(work / "data")], capture_output=True, check=False)
        return result.returncode == 0 and b"Verified OK" in result.stdout


def _decode(data: bytes, spec):
    value, rest = decoder.decode(data, asn1Spec=spec)
    assert not rest, "trailing bytes after the DER value"
    return value


def _resolve(location: str, base: str) -> str:
    return posixpath.normpath(location if location.startswith("/") else posixpath.join(base, location))


def independent_problems(ofd: bytes) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        files = {"/" + name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    entry = ElementTree.fromstring(files["/OFD.xml"])
    signatures_path = _resolve(entry.findtext("ofd:DocBody/ofd:Signatures", namespaces=NS), "/")
    signature_list = ElementTree.fromstring(files[signatures_path])
    items = signature_list.findall("ofd:Signature", NS)
    if not items:
        return ["no signature"]
    for item in items:
        signature_path = _resolve(item.get("BaseLoc"), posixpath.dirname(signatures_path))
        signature_xml = files[signature_path]
        signature = ElementTree.fromstring(signature_xml)
        base = posixpath.dirname(signature_path)
        references = signature.find("ofd:SignedInfo/ofd:References", NS)
        if references.get("CheckMethod") != SM3:
            problems.append("digest method is not SM3")
        for reference in references.findall("ofd:Reference", NS):
            path = _resolve(reference.get("FileRef"), base)
            expected = base64.b64decode(reference.findtext("ofd:CheckValue", namespaces=NS))
            if path not in files or _sm3(files[path]) != expected:
                problems.append(f"digest of {path} differs")
        value = _decode(files[_resolve(signature.findtext("ofd:SignedValue", namespaces=NS), base)], SESSignature())
        to_sign_der = bytes(value["toSign"])
        to_sign = _decode(to_sign_der, TBSSign())
        if int(to_sign["version"]) != 4:
            problems.append("TBS_Sign version is not 4")
        if to_sign["dataHash"].asOctets() != _sm3(signature_xml):
            problems.append("dataHash is not SM3 of Signature.xml")
        if str(to_sign["propertyInfo"]) != signature_path:
            problems.append("propertyInfo does not name Signature.xml")
        if str(value["signatureAlgID"]) != SM2_WITH_SM3:
            problems.append("signature algorithm is not SM2 with SM3")
        certificate = bytes(value["cert"])
        if not openssl_sm2_verifies(certificate, to_sign_der, value["signature"].asOctets()):
            problems.append("OpenSSL: the SM2 signature over TBS_Sign does not verify")
        seal = _decode(bytes(to_sign["eseal"]), SESeal())
        seal_info_der = bytes(seal["esealInfo"])
        if not openssl_sm2_verifies(bytes(seal["makerCert"]), seal_info_der, seal["signedValue"].asOctets()):
            problems.append("OpenSSL: the maker's signature over the seal does not verify")
        seal_info, _ = decoder.decode(seal_info_der)  # no schema: SES_SealInfo's fields by position
        seal_certificates = [bytes(entry) for entry in seal_info[2][3]]  # property.certList
        if certificate not in seal_certificates:
            problems.append("the signer certificate is not in the seal's certList")
    return problems


def flip_byte(ofd: bytes, path: str, *, offset: int | None = None) -> bytes:
    """The package with one byte of one file changed (in its middle unless `offset`)."""
    source = zipfile.ZipFile(io.BytesIO(ofd))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if "/" + info.filename == path:
                at = len(data) // 2 if offset is None else offset % len(data)
                data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
            target.writestr(info, data)
    return out.getvalue()


def package_files(ofd: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        return {"/" + name: archive.read(name) for name in archive.namelist()}


def independent_check_refuses(ofd: bytes) -> bool:
    """True when the independent check finds a problem or cannot read the package at all."""
    try:
        return bool(independent_problems(ofd))
    except (ValueError, KeyError, AttributeError, TypeError, AssertionError, zipfile.BadZipFile,
            ElementTree.ParseError):  # pyasn1's errors are ValueErrors
        return True
