"""跨省互认: a second registry instance pins the first one's root key, imports
its published trust list next to its own, and verifies the first registry's
sealed records offline."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from catalog.service import document
from certhub.app import create_app
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from certhub.settings import Settings
from registry.setup import ensure_signing_anchors, root_public_key
from signing import service as signing_service
from signing.errors import VerificationError
from signing.sealed import SealSignature, verify_sealed_record
from signing.truststore import TrustStore
from storage.cache import InProcessCache
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, catalog_mapping


class Registry:
    """One registry instance: its own database, settings and app."""

    def __init__(self, tmp_path, name: str):
        self.settings = Settings(secret_key=f"{name}-secret-" + "z" * 40, data_dir=tmp_path / name,
                                 registry_id=f"https://{name}.registry.test")
        self.engine = create_db_engine(f"sqlite:///{tmp_path / name / 'db.sqlite3'}")
        upgrade(self.engine)
        self.sessions = create_sessionmaker(self.engine)
        with self.sessions.begin() as session:
            document.load(session=session, document=document.parse_mapping(catalog_mapping()))
            self.anchors = ensure_signing_anchors(session=session, key_secret=self.settings.secret_bytes(),
                                                  maker_name=f"{name} 制章中心")
            self.seal = signing_service.create_seal(
                session=session, owner_department_code=CITY_SAMR, department_name="福州市市场监督管理局",
                seal_type="电子证照专用章", licence_type_codes=[BUSINESS_LICENCE],
                valid_from=datetime(2025, 1, 1, tzinfo=UTC),
                valid_to=datetime(2035, 1, 1, tzinfo=UTC), key_secret=self.settings.secret_bytes(),
            ).es_id
        self.client = TestClient(create_app(self.settings, engine=self.engine, cache=InProcessCache()))

    def seal_record(self, record: dict) -> SealSignature:
        with self.sessions.begin() as session:
            return signing_service.sign_record(
                session=session, es_id=self.seal, record=record, licence_type_code=BUSINESS_LICENCE,
                acting_department_code=CITY_SAMR, registry_id=self.settings.registry_id,
                key_secret=self.settings.secret_bytes(),
            )

    def trust_list(self) -> bytes:
        response = self.client.get("/.well-known/certhub/trust-list")
        assert response.status_code == 200
        return response.content

    def close(self):
        self.client.close()
        self.engine.dispose()


@pytest.fixture
def registries(tmp_path):
    a, b = Registry(tmp_path, "fujian"), Registry(tmp_path, "guangdong")
    yield a, b
    a.close()
    b.close()


@pytest.mark.slow
def test_second_registry_verifies_the_first_registrys_licences(registries):
    fujian, guangdong = registries
    record = {"licence_type_code": BUSINESS_LICENCE, "holder_name": "福州闽味餐饮管理有限公司", "version": 1}
    signature = SealSignature.from_json(fujian.seal_record(record).to_json())

    store = TrustStore()  # what registry B's verifier holds
    store.pin_root(registry_id=guangdong.settings.registry_id,
                   root_public_key=root_public_key(guangdong.anchors.root_public_key_der_b64))
    store.add_json(guangdong.trust_list())
    with pytest.raises(VerificationError) as before_import:
        verify_sealed_record(record=record, signature=signature, trust=store)
    assert before_import.value.code == "unknown_key"

    store.pin_root(registry_id=fujian.settings.registry_id,
                   root_public_key=root_public_key(fujian.anchors.root_public_key_der_b64))
    store.add_json(fujian.trust_list())
    assert verify_sealed_record(record=record, signature=signature, trust=store) == record


@pytest.mark.slow
def test_a_trust_list_under_an_unpinned_or_wrong_root_is_refused(registries):
    fujian, guangdong = registries
    store = TrustStore()
    with pytest.raises(VerificationError):
        store.add_json(fujian.trust_list())  # nothing pinned for fujian
    store.pin_root(registry_id=fujian.settings.registry_id,
                   root_public_key=root_public_key(guangdong.anchors.root_public_key_der_b64))
    with pytest.raises(VerificationError) as wrong_root:
        store.add_json(fujian.trust_list())
    assert wrong_root.value.code == "trust_list_untrusted"


@pytest.mark.slow
def test_an_imported_list_expires(registries):
    fujian, _ = registries
    store = TrustStore()
    store.pin_root(registry_id=fujian.settings.registry_id,
                   root_public_key=root_public_key(fujian.anchors.root_public_key_der_b64))
    later = datetime.now(UTC) + timedelta(days=30)
    with pytest.raises(VerificationError) as stale:
        store.add_json(fujian.trust_list(), now=later)
    assert stale.value.code == "trust_list_expired"
