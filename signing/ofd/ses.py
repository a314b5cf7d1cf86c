"""The electronic signature (电子签章) data of GB/T 38540-2020: SES_Signature.

# SPEC: GB/T 38540-2020 §5.2 (version 4 electronic signature):
#
#   SES_Signature ::= SEQUENCE {
#       toSign          TBS_Sign,
#       cert            OCTET STRING,        -- the signer's X.509 certificate (DER)
#       signatureAlgID  OBJECT IDENTIFIER,   -- 1.2.156.10197.1.501, SM2 with SM3
#       signature       BIT STRING,          -- SM2 over the DER of toSign
#       timeStamp       [0] EXPLICIT BIT STRING OPTIONAL }
#   TBS_Sign ::= SEQUENCE {
#       version       INTEGER,              -- 4
#       eseal         SESeal,               -- the seal (signing/seals/asn1.py SESealV4)
#       timeInfo      GeneralizedTime,
#       dataHash      BIT STRING,           -- SM3 of the signed content
#       propertyInfo  IA5String,            -- where the signed content lies
#       extDatas      [0] EXPLICIT ExtensionDatas OPTIONAL }
#
# In an OFD document the signed content is the Signature.xml file and
# propertyInfo its absolute path in the package (GB/T 33190-2016 §18.2; the
# ofdrw project does the same). The optional fields' [0] tags are explicit,
# as ofdrw (BouncyCastle DERTaggedObject(true, 0, …)) writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import core

from signing.errors import VerificationError
from signing.seals.asn1 import ExtensionDatas, SESealV4
from signing.sm2 import SM2_WITH_SM3_OID, SM2PrivateKey

SES_SIGNATURE_VERSION = 4
MAX_SIGNED_VALUE_SIZE = 2 * 1024 * 1024  # a seal (≤ 1 MiB) plus a certificate and a signature


class TBS_Sign(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("eseal", SESealV4),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SES_Signature(core.Sequence):
    _fields = [
        ("to_sign", TBS_Sign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


@dataclass(frozen=True)
class ParsedSignature:
    """An SES_Signature as read, with the exact bytes its signature covers."""

    version: int
    seal_der: bytes
    signed_at: datetime
    data_hash: bytes
    property_info: str
    certificate: bytes
    algorithm_oid: str
    signature: bytes
    to_sign_der: bytes  # the DER of toSign as it stands in the file


def encode_ses_signature(
    *, seal_der: bytes, signed_at: datetime, data_hash: bytes, property_info: str,
    certificate: bytes, key: SM2PrivateKey,
) -> bytes:
    """A GB/T 38540 v4 SES_Signature: `key` (the seal's SM2 key, certified by
    `certificate`) signs the DER of TBS_Sign."""
    # SPEC: GB/T 38540-2020 §5.2 — timeInfo is a GeneralizedTime; docs/formats.md: seconds, UTC.
    moment = signed_at.astimezone(UTC).replace(microsecond=0)
    to_sign = TBS_Sign(
        {
            "version": SES_SIGNATURE_VERSION,
            "eseal": SESealV4.load(seal_der),
            "time_info": moment,
            "data_hash": data_hash,
            "property_info": property_info,
        }
    )
    der = to_sign.dump()
    signature = SES_Signature(
        {
            "to_sign": TBS_Sign.load(der),
            "cert": certificate,
            "signature_alg_id": SM2_WITH_SM3_OID,
            "signature": key.sign(der),
        }
    )
    return signature.dump()


def parse_ses_signature(data: bytes) -> ParsedSignature:
    """Parse a v4 SES_Signature strictly (DER, size bound); VerificationError('malformed') otherwise."""
    if len(data) > MAX_SIGNED_VALUE_SIZE:
        raise VerificationError("too_large", f"signed value is {len(data)} bytes, over the limit")
    try:
        parsed = SES_Signature.load(data, strict=True)
        to_sign = parsed["to_sign"]
        version = to_sign["version"].native
        if version != SES_SIGNATURE_VERSION:
            raise VerificationError("malformed", f"SES_Signature version {version}; certhub reads version 4")
        signed_at = to_sign["time_info"].native
        return ParsedSignature(
            version=version,
            seal_der=to_sign["eseal"].dump(),
            signed_at=signed_at if signed_at.tzinfo else signed_at.replace(tzinfo=UTC),
            data_hash=to_sign["data_hash"].native,
            property_info=to_sign["property_info"].native,
            certificate=parsed["cert"].native,
            algorithm_oid=parsed["signature_alg_id"].dotted,
            signature=parsed["signature"].native,
            to_sign_der=to_sign.dump(),
        )
    except VerificationError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise VerificationError("malformed", f"not a GB/T 38540 SES_Signature: {error}") from None
