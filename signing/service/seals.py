"""Creating and reading department seals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import DEFAULT_ALGORITHM, Algorithm, PrivateKey
from signing.errors import InvalidInput, SealNotFound
from signing.keys import parse_algorithm
from signing.keystore import open_key_store
from signing.models import Seal, SealMaker
from signing.picture import SEAL_DIAMETER_MM, check_png, draw_round_seal
from signing.seals.certificates import issued_seal_certificate
from signing.seals.gbt38540 import encode_seal_v4
from signing.service import _validate
from signing.service.keys import get_seal_maker_or_raise, maker_private_key
from signing.statuses import KeyPurpose, SealStatus


def _seal_name(*, department_name: str, seal_type: str, name: str | None) -> str:
    if name is not None:
        chosen = name.strip()
    else:
        # A seal is usually called by its holder plus its purpose: "福州市市场监督管理局电子证照专用章".
        chosen = department_name if seal_type == "公章" else f"{department_name}{seal_type}"
    if not 0 < len(chosen) <= 200:
        raise InvalidInput("seal name must have 1 to 200 characters")
    return chosen


def issue_seal_document(
    *, session: Session, seal: Seal, maker: SealMaker, seal_key: PrivateKey, key_secret: bytes | str, now: datetime
) -> bytes:
    """(Re)write the maker-signed GB/T 38540 structure naming the seal's current key."""
    maker_key = maker_private_key(session=session, maker=maker, key_secret=key_secret)
    certificate = issued_seal_certificate(
        maker_key=maker_key,
        maker_certificate=maker.certificate,
        seal_name=seal.name,
        owner_department_code=seal.owner_department_code,
        seal_key=seal_key,
        not_before=max(now, seal.valid_from) if now < seal.valid_to else seal.valid_from,
        not_after=seal.valid_to,
    )
    return encode_seal_v4(
        es_id=seal.es_id,
        name=seal.name,
        signer_certificates=[certificate],
        created_at=now,
        valid_from=seal.valid_from,
        valid_to=seal.valid_to,
        picture_png=seal.picture_png,
        picture_width_mm=seal.picture_width_mm,
        picture_height_mm=seal.picture_height_mm,
        maker_key=maker_key,
        maker_certificate=maker.certificate,
    )


def create_seal(
    *,
    session: Session,
    owner_department_code: str,
    department_name: str,
    seal_type: str,
    licence_type_codes: Sequence[str],
    valid_from: datetime,
    valid_to: datetime,
    key_secret: bytes | str,
    algorithm: Algorithm | str = DEFAULT_ALGORITHM,
    name: str | None = None,
    picture_png: bytes | None = None,
    picture_size_mm: int = SEAL_DIAMETER_MM,
    maker_id: int | None = None,
    now: datetime | None = None,
) -> Seal:
    """Register a department seal: its key, picture and maker-signed GB/T 38540 structure."""
    owner = _validate.department_code(owner_department_code, name="owner department code")
    codes = _validate.licence_type_codes(licence_type_codes)
    start, end = _validate.period(valid_from, valid_to)
    moment = _validate.now_or(now)
    if not isinstance(seal_type, str) or not 0 < len(seal_type.strip()) <= 12:
        raise InvalidInput("seal type must have 1 to 12 characters, e.g. 电子证照专用章")
    if not isinstance(department_name, str) or not 0 < len(department_name.strip()) <= 40:
        raise InvalidInput("department name must have 1 to 40 characters")
    if not 10 <= picture_size_mm <= 100:
        raise InvalidInput("seal picture size must be between 10 and 100 mm")
    if picture_png is None:
        picture_png = draw_round_seal(organization_name=department_name, seal_type=seal_type.strip())
    else:
        try:
            check_png(picture_png)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
    maker = get_seal_maker_or_raise(session=session, maker_id=maker_id)
    seal = Seal(
        es_id=uuid.uuid4().hex,
        seal_type=seal_type.strip(),
        name=_seal_name(department_name=department_name.strip(), seal_type=seal_type.strip(), name=name),
        owner_department_code=owner,
        licence_type_codes=codes,
        picture_png=picture_png,
        picture_width_mm=picture_size_mm,
        picture_height_mm=picture_size_mm,
        valid_from=start,
        valid_to=end,
        status=str(SealStatus.ACTIVE),
        maker_id=maker.id,
        der=b"",
        created_at=moment,
    )
    session.add(seal)
    session.flush()
    store = open_key_store(session=session, secret=key_secret)
    stored = store.generate(algorithm=parse_algorithm(algorithm), purpose=KeyPurpose.SEAL, seal_id=seal.id, created_at=moment)
    seal_key = store.private_key(handle=stored.handle)
    seal.der = issue_seal_document(
        session=session, seal=seal, maker=maker, seal_key=seal_key, key_secret=key_secret, now=moment
    )
    session.flush()
    session.refresh(seal)
    return seal


def get_seal(*, session: Session, es_id: str, for_update: bool = False, for_share: bool = False) -> Seal | None:
    query = select(Seal).where(Seal.es_id == es_id)
    if for_update:
        query = query.with_for_update(of=Seal)
    elif for_share:
        query = query.with_for_update(read=True, of=Seal)
    return session.scalars(query).unique().one_or_none()


def get_seal_or_raise(*, session: Session, es_id: str, for_update: bool = False, for_share: bool = False) -> Seal:
    seal = get_seal(session=session, es_id=es_id, for_update=for_update, for_share=for_share)
    if seal is None:
        raise SealNotFound(f"no seal {es_id!r}")
    return seal


def list_seals(
    *, session: Session, owner_department_code: str | None = None, status: SealStatus | str | None = None
) -> list[Seal]:
    query = select(Seal).order_by(Seal.id)
    if owner_department_code is not None:
        query = query.where(Seal.owner_department_code == owner_department_code)
    if status is not None:
        query = query.where(Seal.status == str(SealStatus(status)))
    return list(session.scalars(query).unique())
