import pytest

from signing import service
from signing.errors import InvalidInput, MakerNotFound, SealNotFound
from signing.picture import draw_round_seal
from signing.seals.certificates import load_certificate, sm2_public_key_of, verify_certificate_signature
from signing.seals.gbt38540 import verify_seal_file
from signing.statuses import SealStatus
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, T0, at


def _create(db_session, **overrides):
    arguments = {
        "owner_department_code": OWNER, "department_name": "福州市市场监督管理局", "seal_type": "电子证照专用章",
        "licence_type_codes": [LICENCE_TYPE], "valid_from": T0, "valid_to": at(days=365), "key_secret": KEY_SECRET, "now": T0,
    }
    return service.create_seal(session=db_session, **{**arguments, **overrides})


def test_created_seal_carries_a_maker_signed_gbt38540_structure(db_session, maker):
    seal = _create(db_session)
    document = verify_seal_file(seal.der)
    assert document.es_id == seal.es_id and len(seal.es_id) == 32
    assert document.name == seal.name == "福州市市场监督管理局电子证照专用章"
    assert document.picture.data == seal.picture_png
    assert document.valid_from == T0 and document.valid_to == at(days=365)
    maker_certificate = load_certificate(document.maker_certificate)
    assert maker_certificate.dump() == maker.certificate
    signer = load_certificate(document.signer_certificates[0])
    assert verify_certificate_signature(signer, issuer_key=sm2_public_key_of(maker_certificate))


def test_created_seal_draws_its_picture(db_session, maker):
    seal = _create(db_session)
    assert seal.picture_png == draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章")
    assert seal.picture_width_mm == seal.picture_height_mm == 42


@pytest.mark.slow
def test_uploaded_picture_is_kept(db_session, maker):
    picture = draw_round_seal(organization_name="福州市人民政府", seal_type="公章", size_px=200)
    seal = _create(db_session, picture_png=picture, seal_type="公章", department_name="福州市人民政府")
    assert seal.picture_png == picture
    assert seal.name == "福州市人民政府"


def test_uploaded_picture_must_be_png(db_session, maker):
    with pytest.raises(InvalidInput):
        _create(db_session, picture_png=b"GIF89a")


@pytest.mark.parametrize(
    "overrides",
    [
        {"owner_department_code": "short"},
        {"licence_type_codes": []},
        {"licence_type_codes": ["*", LICENCE_TYPE]},
        {"valid_to": T0},
        {"seal_type": ""},
        {"algorithm": "RS256"},
    ],
)
def test_create_seal_validates_inputs(db_session, maker, overrides):
    with pytest.raises(InvalidInput):
        _create(db_session, **overrides)


def test_create_seal_needs_a_maker(db_session):
    with pytest.raises(MakerNotFound):
        _create(db_session)


@pytest.mark.slow
def test_get_and_list_seals(db_session, maker):
    first = _create(db_session)
    second = _create(db_session, owner_department_code="11350200MB0000003Z", department_name="厦门市市场监督管理局")
    assert service.get_seal_or_raise(session=db_session, es_id=first.es_id) is first
    assert service.list_seals(session=db_session) == [first, second]
    assert service.list_seals(session=db_session, owner_department_code=OWNER) == [first]
    service.suspend_seal(session=db_session, es_id=second.es_id, now=at(hours=1))
    assert service.list_seals(session=db_session, status=SealStatus.SUSPENDED) == [second]


def test_unknown_seal_raises_seal_not_found(db_session):
    with pytest.raises(SealNotFound):
        service.get_seal_or_raise(session=db_session, es_id="nope")
