"""A registry's QR world without a database: keys, a seal, a signed trust list, status lists.

Everything a verifier holds is built the way a verifier gets it: the trust
list is signed by a root key and read back through a TrustStore with that
root pinned; status list tokens are signed and verified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from signing.algorithms import PrivateKey
from signing.keys import generate_private_key
from signing.qr import LicenceSummary, QrSigner, encode_licence_qr, encode_presentation_qr
from signing.statuses import KeyPurpose, KeyStatus, SealStatus
from signing.statuslist import StatusList, StatusListToken, sign_status_list_token, verify_status_list_token
from signing.trust_entries import TrustedKey, TrustedSeal
from signing.trustlist import TrustListContent, sign_trust_list
from signing.truststore import TrustStore

REGISTRY_ID = "https://zwfw.fj.gov.cn"
OWNER = "11350100MB0143530J"
LICENCE_TYPE = "11100000000013338W011"
OTHER_LICENCE_TYPE = "11100000000013338W012"
ES_ID = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"
IDENTIFIER = f"1.2.156.3005.2.{LICENCE_TYPE}.{OWNER}.20230000403.001.K"
STATUS_URI = f"{REGISTRY_ID}/api/v1/status-lists/12"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(**delta) -> datetime:
    return T0 + timedelta(**delta)


def summary(**changes) -> LicenceSummary:
    base = LicenceSummary(
        type_code=LICENCE_TYPE, identifier=IDENTIFIER, holder_name_masked="张*", issuer_code=OWNER,
        valid_from=date(2025, 3, 1), valid_until=date(2030, 2, 28), status_idx=40123, status_uri=STATUS_URI,
    )
    return replace(base, **changes)


def seal_entry(**changes) -> TrustedSeal:
    base = TrustedSeal(
        es_id=ES_ID, name="福州市市场监督管理局电子证照专用章", seal_type="电子证照专用章", owner=OWNER,
        licence_type_codes=(LICENCE_TYPE,), valid_from=at(days=-30), valid_to=at(days=3650), status=SealStatus.ACTIVE,
    )
    return replace(base, **changes)


def key_entry(key: PrivateKey, *, purpose: KeyPurpose = KeyPurpose.SEAL, **changes) -> TrustedKey:
    base = TrustedKey(
        kid=key.kid, public_key=key.public_key, purpose=purpose,
        es_id=ES_ID if purpose == KeyPurpose.SEAL else None,
        owner=OWNER if purpose == KeyPurpose.SEAL else REGISTRY_ID,
        valid_from=at(days=-30), status=KeyStatus.ACTIVE,
    )
    return replace(base, **changes)


@dataclass
class World:
    root: PrivateKey
    seal_key: PrivateKey
    presentation_key: PrivateKey
    status_key: PrivateKey

    @classmethod
    def generate(cls) -> World:
        return cls(root=generate_private_key(), seal_key=generate_private_key(),
                   presentation_key=generate_private_key(), status_key=generate_private_key())

    def store(self, *, keys: tuple[TrustedKey, ...] | None = None, seals: tuple[TrustedSeal, ...] | None = None,
              registry_id: str = REGISTRY_ID, via_json: bool = True) -> TrustStore:
        """A TrustStore holding the (signed, then verified) trust list of these entries.

        `via_json=False` hands the signed list over as an object, which lets a
        test list two keys under one kid (a real 8-byte collision cannot be made).
        """
        if keys is None:
            keys = (key_entry(self.seal_key), key_entry(self.presentation_key, purpose=KeyPurpose.PRESENTATION),
                    key_entry(self.status_key, purpose=KeyPurpose.STATUS_LIST))
        content = TrustListContent(registry_id=registry_id, keys=keys, seals=(seal_entry(),) if seals is None else seals)
        signed = sign_trust_list(content=content, root_key=self.root, sequence=1, issued_at=at(days=-1))
        store = TrustStore()
        store.pin_root(registry_id=registry_id, root_public_key=self.root.public_key)
        if via_json:
            store.add_json(signed.to_json(), now=T0)
        else:
            store.add(signed)
        return store

    @property
    def seal_signer(self) -> QrSigner:
        return QrSigner(kid=self.seal_key.kid, private_key=self.seal_key)

    @property
    def presentation_signer(self) -> QrSigner:
        return QrSigner(kid=self.presentation_key.kid, private_key=self.presentation_key)

    def licence_qr(self, *, signer: QrSigner | None = None, issued_at: datetime = T0,
                   expires_at: datetime | None = at(days=1826), **changes) -> str:
        return encode_licence_qr(
            signer=signer or self.seal_signer, issuer=changes.pop("issuer", REGISTRY_ID), summary=summary(**changes),
            issued_at=issued_at, expires_at=expires_at,
        )

    def presentation_qr(self, *, signer: QrSigner | None = None, issued_at: datetime = T0,
                        expires_at: datetime = at(seconds=60), presentation_id: str = "p-7Hq2") -> str:
        return encode_presentation_qr(
            signer=signer or self.presentation_signer, issuer=REGISTRY_ID, presentation_id=presentation_id,
            licence_identifiers=[IDENTIFIER], disclosure="masked", issued_at=issued_at, expires_at=expires_at,
        )

    def status_token(self, *, statuses: dict[int, int] | None = None, issued_at: datetime = at(minutes=-1),
                     subject: str = STATUS_URI) -> StatusListToken:
        bits = StatusList(size=1 << 16, bits=2)
        for index, value in (statuses or {}).items():
            bits.set(index, value)
        token = sign_status_list_token(status_list=bits, subject=subject, key=self.status_key, issued_at=issued_at, ttl=300)
        return verify_status_list_token(token, public_keys=[self.status_key.public_key], subject=subject, now=T0)
