"""ASN.1 structures of electronic seals, declared with asn1crypto.

# SPEC: GM/T 0031-2014 §6 (version 1 seals) and GB/T 38540-2020 §5.1
# (version 4 seals). Field names follow the standards, including their
# spelling of "SES_ESPictrueInfo".
"""

from __future__ import annotations

from asn1crypto import core


class SES_Header(core.Sequence):
    # SPEC: GB/T 38540-2020 §5.1.3 — ID is "ES", version 4, Vid names the vendor.
    _fields = [
        ("id", core.IA5String),
        ("version", core.Integer),
        ("vid", core.IA5String),
    ]


class CertInfoList(core.SequenceOf):
    _child_spec = core.OctetString  # each element wraps one DER X.509 certificate


class CertDigestObj(core.Sequence):
    _fields = [("type", core.PrintableString), ("value", core.OctetString)]


class CertDigestList(core.SequenceOf):
    _child_spec = CertDigestObj


class SES_ESPropertyInfoV4(core.Sequence):
    # SPEC: GB/T 38540-2020 §5.1.4. certList is a CHOICE of two untagged
    # SEQUENCE OFs, told apart only by certListType (1 certs, 2 digests), so it
    # is kept as Any and decoded according to certListType.
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class SES_ESPropertyInfoV1(core.Sequence):
    # SPEC: GM/T 0031-2014 §6.3 — UTCTime dates, a plain list of certificates.
    _fields = [
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list", CertInfoList),
        ("create_date", core.UTCTime),
        ("valid_start", core.UTCTime),
        ("valid_end", core.UTCTime),
    ]


class SES_ESPictrueInfo(core.Sequence):
    # SPEC: GB/T 38540-2020 §5.1.5 — width and height in millimetres.
    _fields = [
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class ExtData(core.Sequence):
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):
    _child_spec = ExtData


class SES_SealInfoV4(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("es_id", core.IA5String),
        ("property", SES_ESPropertyInfoV4),
        ("picture", SES_ESPictrueInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SES_SealInfoV1(core.Sequence):
    _fields = [
        ("header", SES_Header),
        ("es_id", core.IA5String),
        ("property", SES_ESPropertyInfoV1),
        ("picture", SES_ESPictrueInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESealV4(core.Sequence):
    # SPEC: GB/T 38540-2020 §5.1.1 — the maker signs the DER of esealInfo.
    _fields = [
        ("eseal_info", SES_SealInfoV4),
        ("maker_cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class SES_SignInfo(core.Sequence):
    # SPEC: GM/T 0031-2014 §6.5.
    _fields = [
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
        ("sign_data", core.OctetBitString),
    ]


class SESealV1(core.Sequence):
    _fields = [("eseal_info", SES_SealInfoV1), ("sign_info", SES_SignInfo)]


class SignedDataV1(core.Sequence):
    # SPEC: GM/T 0031-2014 §6.5 — the v1 signature covers
    # SEQUENCE{esealInfo, cert, signatureAlgorithm}.
    _fields = [
        ("eseal_info", core.Any),
        ("cert", core.OctetString),
        ("signature_algorithm", core.ObjectIdentifier),
    ]
