"""Read, verify and write electronic seal files (.esl).

Reads GM/T 0031-2014 (v1) and GB/T 38540-2020 (v4) seals; writes v4.
Only the maker's SM2-with-SM3 signature is checked: the maker certificate
is not chained to a root here (who is trusted as a maker is a policy
decision for the caller, e.g. via the trust list).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core, x509

from signing.errors import VerificationError
from signing.seals.asn1 import (
    CertDigestList,
    CertInfoList,
    SES_ESPictrueInfo,
    SES_ESPropertyInfoV4,
    SES_Header,
    SES_SealInfoV4,
    SESealV1,
    SESealV4,
    SignedDataV1,
)
from signing.seals.certificates import (
    CertificateInfo,
    certificate_info,
    issued_by,
    load_certificate,
    sm2_public_key_of,
    whole_second,
)
from signing.sm2 import SM2_WITH_SM3_OID, SM2PrivateKey

MAX_SEAL_FILE_SIZE = 1024 * 1024  # 1 MiB: a seal is a picture and a few certificates
MAX_PICTURE_SIZE = 512 * 1024
HEADER_ID = "ES"
WRITE_VERSION = 4
VENDOR_ID = "certhub"
SEAL_TYPE_ORGANIZATION = 1  # SPEC: GB/T 38540-2020 §5.1.4 — 1 单位印章, 2 个人印章
CERT_LIST_CERTS = 1
CERT_LIST_DIGESTS = 2


_SEQUENCE_TAG = 16


class _Elements(core.SequenceOf):
    _child_spec = core.Any


@dataclass(frozen=True)
class SealPicture:
    type: str
    data: bytes
    width_mm: int
    height_mm: int

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class SealDocument:
    """A parsed seal. Build it with `parse_seal_file` or `verify_seal_file`."""

    format_version: int  # 1 (GM/T 0031) or 4 (GB/T 38540) — the structure
    header_version: int  # as written in SES_Header (v5 files say 4)
    vendor_id: str
    es_id: str
    seal_type: int
    name: str
    signer_certificates: tuple[bytes, ...]
    signer_certificate_digests: tuple[tuple[str, bytes], ...]
    created_at: datetime
    valid_from: datetime
    valid_to: datetime
    picture: SealPicture
    maker_certificate: bytes
    maker_certificate_info: CertificateInfo
    signature_algorithm_oid: str
    signature: bytes
    signed_bytes: bytes  # exactly what the maker signed


def _malformed(message: str) -> VerificationError:
    return VerificationError("malformed", message)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _picture(info: SES_ESPictrueInfo) -> SealPicture:
    data = info["data"].native
    if len(data) > MAX_PICTURE_SIZE:
        raise _malformed(f"seal picture is {len(data)} bytes, over the {MAX_PICTURE_SIZE} limit")
    return SealPicture(type=info["type"].native, data=data, width_mm=info["width"].native, height_mm=info["height"].native)


def _cert_lists(cert_list_type: int, cert_list: core.Any) -> tuple[tuple[bytes, ...], tuple[tuple[str, bytes], ...]]:
    if cert_list_type == CERT_LIST_CERTS:
        return tuple(cert_list.parse(CertInfoList).native), ()
    if cert_list_type == CERT_LIST_DIGESTS:
        digests = cert_list.parse(CertDigestList)
        return (), tuple((item["type"].native, item["value"].native) for item in digests)
    raise _malformed(f"unknown certListType {cert_list_type}")


def _load_v4(data: bytes) -> SealDocument:
    seal = SESealV4.load(data, strict=True)
    info = seal["eseal_info"]
    prop = info["property"]
    certs, digests = _cert_lists(prop["cert_list_type"].native, prop["cert_list"])
    return _document(
        format_version=4, info=info, prop=prop, certs=certs, digests=digests,
        maker_cert=seal["maker_cert"].native, algorithm=seal["sign_alg_id"].dotted,
        signature=seal["signed_value"].native, signed_bytes=info.dump(),
    )


def _load_v1(data: bytes) -> SealDocument:
    seal = SESealV1.load(data, strict=True)
    info = seal["eseal_info"]
    sign_info = seal["sign_info"]
    # SPEC: GM/T 0031-2014 §6.5 — signed data is SEQUENCE{esealInfo, cert, signatureAlgorithm}
    # re-assembled from the bytes exactly as they appear in the file.
    signed = SignedDataV1(
        {
            "eseal_info": core.Any.load(info.dump()),
            "cert": sign_info["cert"],
            "signature_algorithm": sign_info["signature_algorithm"],
        }
    ).dump()
    prop = info["property"]
    return _document(
        format_version=1, info=info, prop=prop, certs=tuple(prop["cert_list"].native), digests=(),
        maker_cert=sign_info["cert"].native, algorithm=sign_info["signature_algorithm"].dotted,
        signature=sign_info["sign_data"].native, signed_bytes=signed,
    )


def _document(*, format_version, info, prop, certs, digests, maker_cert, algorithm, signature, signed_bytes) -> SealDocument:
    header = info["header"]
    if header["id"].native != HEADER_ID:
        raise _malformed(f"seal header ID is {header['id'].native!r}, expected 'ES'")
    try:
        maker_info = certificate_info(load_certificate(maker_cert))
    except (ValueError, TypeError, KeyError) as error:
        raise _malformed(f"maker certificate does not parse: {error}") from None
    return SealDocument(
        format_version=format_version,
        header_version=header["version"].native,
        vendor_id=header["vid"].native,
        es_id=info["es_id"].native,
        seal_type=prop["type"].native,
        name=prop["name"].native,
        signer_certificates=certs,
        signer_certificate_digests=digests,
        created_at=_aware(prop["create_date"].native),
        valid_from=_aware(prop["valid_start"].native),
        valid_to=_aware(prop["valid_end"].native),
        picture=_picture(info["picture"]),
        maker_certificate=maker_cert,
        maker_certificate_info=maker_info,
        signature_algorithm_oid=algorithm,
        signature=signature,
        signed_bytes=signed_bytes,
    )


def parse_seal_file(data: bytes) -> SealDocument:
    """Parse a v1 or v4 seal without checking its signature; VerificationError('malformed') otherwise."""
    if not isinstance(data, bytes):
        raise _malformed("seal must be bytes")
    if len(data) > MAX_SEAL_FILE_SIZE:
        raise VerificationError("too_large", f"seal file is {len(data)} bytes, over the 1 MiB limit")
    try:
        outer = _Elements.load(data, strict=True)
        # v4 puts the maker certificate (OCTET STRING) second; v1 a SES_SignInfo SEQUENCE.
        is_v1 = len(outer) == 2 and outer[1].parse().tag == _SEQUENCE_TAG
        return _load_v1(data) if is_v1 else _load_v4(data)
    except VerificationError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise _malformed(f"not a GM/T 0031 or GB/T 38540 seal: {error}") from None


def verify_seal_file(data: bytes) -> SealDocument:
    """Parse a seal and check the maker's signature; return it or raise VerificationError.

    1. Parse strictly (size bound, DER, header "ES").
    2. Insist on SM2-with-SM3, the only algorithm these standards use here.
    3. Take the SM2 public key from the maker certificate.
    4. Verify the signature over the signed bytes with signer ID 1234567812345678.
    """
    document = parse_seal_file(data)  # 1.
    if document.signature_algorithm_oid != SM2_WITH_SM3_OID:  # 2.
        raise _malformed(f"unsupported seal signature algorithm {document.signature_algorithm_oid}")
    try:  # 3.
        maker_key = sm2_public_key_of(load_certificate(document.maker_certificate))
    except (ValueError, TypeError, KeyError) as error:
        raise _malformed(f"maker certificate holds no SM2 key: {error}") from None
    if not maker_key.verify(document.signed_bytes, document.signature):  # 4.
        raise VerificationError("signature_invalid", "the maker's signature over the seal information does not verify")
    return document


def signer_chain_verifies(document: SealDocument) -> bool:
    """True when every signer certificate in the seal was issued by its maker
    certificate (the chain leaf -> maker, see `issued_by`). Not part of
    `verify_seal_file`: seals from other makers may list certificates from
    another CA, and which CAs to trust is the caller's policy."""
    if not document.signer_certificates:
        return False
    try:
        maker = load_certificate(document.maker_certificate)
        return all(issued_by(load_certificate(der), maker) for der in document.signer_certificates)
    except (ValueError, TypeError, KeyError):
        return False


def encode_seal_v4(
    *,
    es_id: str,
    name: str,
    signer_certificates: list[bytes],
    created_at: datetime,
    valid_from: datetime,
    valid_to: datetime,
    picture_png: bytes,
    picture_width_mm: int,
    picture_height_mm: int,
    maker_key: SM2PrivateKey,
    maker_certificate: bytes,
) -> bytes:
    """A GB/T 38540-2020 SESeal, signed by the maker over the DER of SES_SealInfo.

    Dates are written in UTC to the second (truncated): # SPEC: GB/T 38540-2020
    §5.1.4 gives GeneralizedTime, and a fraction would make the DER depend on
    the encoder (X.690 §11.7 strips trailing zeros; pyasn1's DER encoder
    refuses fractions outright) — docs/formats.md "Timestamps".
    """
    if len(picture_png) > MAX_PICTURE_SIZE:
        raise ValueError("seal picture too large")
    info = SES_SealInfoV4(
        {
            "header": SES_Header({"id": HEADER_ID, "version": WRITE_VERSION, "vid": VENDOR_ID}),
            "es_id": es_id,
            "property": SES_ESPropertyInfoV4(
                {
                    "type": SEAL_TYPE_ORGANIZATION,
                    "name": name,
                    "cert_list_type": CERT_LIST_CERTS,
                    "cert_list": core.Any.load(CertInfoList(signer_certificates).dump()),
                    "create_date": whole_second(created_at),
                    "valid_start": whole_second(valid_from),
                    "valid_end": whole_second(valid_to),
                }
            ),
            "picture": SES_ESPictrueInfo(
                {"type": "PNG", "data": picture_png, "width": picture_width_mm, "height": picture_height_mm}
            ),
        }
    )
    signed = info.dump()
    seal = SESealV4(
        {
            "eseal_info": info,
            "maker_cert": maker_certificate,
            "sign_alg_id": SM2_WITH_SM3_OID,
            "signed_value": maker_key.sign(signed),
        }
    )
    return seal.dump()


def signer_certificate(document: SealDocument, index: int = 0) -> x509.Certificate:
    return load_certificate(document.signer_certificates[index])
