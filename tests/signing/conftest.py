"""Fixtures for the signing tests: a trust root, a seal maker and a seal
(their data: tests.factories.signing)."""

from __future__ import annotations

import pytest

from signing import service
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, T0, at
from tests.softhsm import softhsm_config, softhsm_token  # noqa: F401 - fixtures of the token-driver tests


@pytest.fixture
def licence_record() -> dict:
    return {
        "licence_identifier": "1.2.156.3005.2.11100000000013338W001.11350100MB0000001X.0000001.001.K",
        "licence_type_code": LICENCE_TYPE,
        "licence_name": "营业执照",
        "licence_number": "91350100MA2Y000001",
        "holder_name": "福州某某科技有限公司",
        "holder_code": "91350100MA2Y000001",
        "holder_code_type": "001",
        "issuing_authority": {"name": "福州市市场监督管理局", "code": OWNER},
        "issue_date": "2025-03-01",
        "valid_from": "2025-03-01",
        "valid_to": None,
        "region_code": "350100",
        "version": 1,
        "face": {"registered_capital_wan_yuan": 100, "business_scope": "软件开发；信息技术咨询服务", "founded": "2020-05-20"},
    }


@pytest.fixture
def trust_root(db_session):
    return service.create_trust_root_key(session=db_session, key_secret=KEY_SECRET, now=T0)


@pytest.fixture
def maker(db_session):
    return service.create_seal_maker(session=db_session, name="福建省电子印章制作中心", key_secret=KEY_SECRET, now=T0)


@pytest.fixture
def seal(db_session, maker, trust_root):
    return service.create_seal(
        session=db_session,
        owner_department_code=OWNER,
        department_name="福州市市场监督管理局",
        seal_type="电子证照专用章",
        licence_type_codes=[LICENCE_TYPE],
        valid_from=T0,
        valid_to=at(days=3650),
        key_secret=KEY_SECRET,
        now=T0,
    )
