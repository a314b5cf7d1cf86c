"""A seal and a licence face to make OFD documents from, without a database;
the independent checker is tests/factories/ofd_independent.py."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache

from registry.layout.face import LicenceFace
from signing.ofd import OfdSealSigner
from signing.picture import draw_round_seal
from signing.seals.certificates import issued_seal_certificate, self_issued_maker_certificate
from signing.seals.gbt38540 import encode_seal_v4
from signing.sm2 import SM2PrivateKey
from tests.factories.ofd_independent import flip_byte, independent_check_refuses, independent_problems, package_files

__all__ = ["END", "SEAL_NAME", "START", "flip_byte", "independent_check_refuses", "independent_problems",
           "licence_face", "ofd_signer", "package_files"]

START, END = datetime(2025, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
SEAL_NAME = "福州市市场监督管理局电子证照专用章"


def ofd_signer(*, seal_key: SM2PrivateKey | None = None) -> OfdSealSigner:
    maker = SM2PrivateKey.generate()
    maker_certificate = self_issued_maker_certificate(maker_key=maker, maker_name="福建省电子印章制作中心",
                                                      not_before=START, not_after=END)
    key = seal_key or SM2PrivateKey.generate()
    certificate = issued_seal_certificate(maker_key=maker, maker_certificate=maker_certificate, seal_name=SEAL_NAME,
                                          owner_department_code="11350100MB0000001X", seal_key=key,
                                          not_before=START, not_after=END)
    seal = encode_seal_v4(
        es_id="0123456789abcdef0123456789abcdef", name=SEAL_NAME, signer_certificates=[certificate],
        created_at=START, valid_from=START, valid_to=END, picture_png=_seal_picture(), picture_width_mm=42,
        picture_height_mm=42, maker_key=maker, maker_certificate=maker_certificate,
    )
    return OfdSealSigner(key=key, seal_der=seal, certificate=certificate)


@cache
def _seal_picture() -> bytes:
    return draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章")


def licence_face(**changes) -> LicenceFace:
    values: dict = {
        "type_name": "营业执照", "holder_name": "福州某某科技有限公司",
        "fields": [("持证主体代码", "91350100MA2Y000001"), ("经营范围", "软件开发；信息技术咨询服务")],
        "identifier": "1.2.156.3005.2.11100000000013338W001.11350100MB0000001X.0000001.001.K",
        "issuer_name": "福州市市场监督管理局", "issued_on": date(2025, 3, 1), "valid_from": date(2025, 3, 1),
        "valid_until": None, "qr_text": "EL1:TEST", "seal_png": _seal_picture(),
    }
    values.update(changes)
    return LicenceFace(**values)
