"""A real certhub on loopback for the browser tests: the demo (embedded
SQLite, demo catalog, seals, the development login) served by uvicorn in a
thread, with a holder whose licences were issued through the HTTP API."""

from __future__ import annotations

import base64
import io
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import uvicorn
from PIL import Image, ImageDraw

from certhub.app import create_app
from certhub.db import create_db_engine, create_sessionmaker
from certhub.demo.seed import prepare_demo
from certhub.demo.witness import log_verifier_key
from certhub.settings import LogWitnessSetting, Settings
from certhub.web.fonts import web_font
from identity import clients
from identity.codes import citizen_id_check_character
from tests.adapters import loopback
from tests.adapters.loopback import free_port
from tests.factories.oidc import OidcProvider
from tests.factories.web_push import start_push_service
from tests.factories.witnesses import RunningWitness, start_witness

CRIMINAL_RECORD_PROOF = "11100000175689532F003"  # 无犯罪记录证明
CRIMINAL_RECORD_ISSUER = "11350100831900827D"
PROPERTY_CERTIFICATE = "11100000464367345J001"  # 不动产权证书
PROPERTY_ISSUER = "123501002055265757"
ID_CARD = "11100000175689532F001"  # 居民身份证: a photo (照片) field, and the counter matter's 申请人居民身份证
ID_CARD_ISSUER = "11350102724606083F"  # 福州市公安局鼓楼分局
ID_CARD_ADDRESS = "福建省福州市鼓楼区五四路128号"
MATTER = "11350100831900827D1000106001"  # 个人无犯罪记录证明开具
MATTER_NAME = "个人无犯罪记录证明开具"
HOLDER_NAME = "林晓雯"
PROOF_NUMBER = "FZGA-2025-0042817"
PUBLIC_SECURITY = "11350100831900827D"  # 福州市公安局
STAFF_CLIENT = "certhub-staff-web"


def holder_code() -> str:
    first17 = "35010219880412302"
    return first17 + citizen_id_check_character(first17)


@dataclass
class Client:
    client_id: str
    client_secret: str


@dataclass
class LiveCerthub:
    base_url: str
    settings: Settings
    demo_client: Client
    holder_code: str
    holder_name: str = HOLDER_NAME
    licences: dict[str, str] = field(default_factory=dict)
    issuers: dict[str, Client] = field(default_factory=dict)
    # The province's identity provider for staff, on loopback (the demo's own staff sign-in is beside it).
    staff_provider: OidcProvider | None = None
    witness: RunningWitness | None = None
    # The push service the wallet's Web Push goes to: the only one the server allows (loopback).
    push_service: loopback.Running | None = None

    def staff_id_token(self, **claims) -> str:
        assert self.staff_provider is not None
        return self.staff_provider.id_token(**claims)

    def token(self, client: Client, scope: str) -> str:
        answer = httpx.post(
            f"{self.base_url}/api/v1/oauth/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client.client_id, client.client_secret),
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def call(self, method: str, path: str, *, client: Client, scope: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(client, scope)}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def publish_checkpoint(self) -> dict:
        answer = self.call("POST", "/api/v1/audit/checkpoint", client=self.demo_client, scope="audit:read")
        answer.raise_for_status()
        return answer.json()

    def holder_token(self) -> str:
        answer = httpx.post(f"{self.base_url}/api/v1/holders/dev-login",
                            json={"holder_code": self.holder_code, "name": self.holder_name})
        answer.raise_for_status()
        return answer.json()["session_token"]

    def presentation_code(self, identifiers: list[str], *, disclosure: str = "full") -> str:
        """A 亮证 code the holder's wallet would show, asked for through the API."""
        answer = httpx.post(f"{self.base_url}/api/v1/presentations", timeout=30,
                            headers={"Authorization": f"Bearer {self.holder_token()}"},
                            json={"licences": identifiers, "disclosure": disclosure})
        assert answer.status_code == 201, answer.text
        return answer.json()["qr_text"]

    def grant_consent(self) -> str:
        """The holder lets the public security bureau use the proof for its matter (授权)."""
        answer = httpx.post(
            f"{self.base_url}/api/v1/holders/me/consents",
            headers={"Authorization": f"Bearer {self.holder_token()}"},
            json={"department": CRIMINAL_RECORD_ISSUER, "matter": MATTER, "items": [CRIMINAL_RECORD_PROOF]},
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def revoke(self, identifier: str, issuer: str) -> None:
        answer = self.call("POST", f"/api/v1/licences/{identifier}/revoke", client=self.issuers[issuer],
                           scope="licence:manage", json={"reason": "以欺骗手段取得，依法撤销", "operator": "web-test"})
        answer.raise_for_status()


class ServerThread:
    def __init__(self, app, *, port: int = 0) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)  # in a thread it leaves signals to the main thread
        self.thread = threading.Thread(target=self.server.run, name="certhub-live-server", daemon=True)

    def start(self) -> int:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the certhub test server did not start")
            time.sleep(0.02)
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def _issuer_clients(settings: Settings) -> dict[str, Client]:
    engine = create_db_engine(settings.effective_database_url)
    try:
        session = create_sessionmaker(engine)()
        with session, session.begin():
            made = {
                code: clients.create(session=session, department_code=code, name="发证业务系统 (web tests)",
                                     scopes=["licence:issue", "licence:manage", "exchange:query", "exchange:provide"])
                for code in (CRIMINAL_RECORD_ISSUER, PROPERTY_ISSUER, ID_CARD_ISSUER)
            }
        return {code: Client(new.client_id, new.client_secret) for code, new in made.items()}
    finally:
        engine.dispose()


def _issue(live: LiveCerthub, issuer: str, body: dict) -> str:
    answer = live.call("POST", "/api/v1/licences", client=live.issuers[issuer], scope="licence:issue", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["identifier"]


def holder_photo_png() -> bytes:
    """A small portrait (a head and shoulders on a pale blue ground, as on an ID card): the photo field's picture."""
    picture = Image.new("RGB", (90, 120), (200, 225, 245))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((27, 18, 63, 62), fill=(236, 196, 160))
    draw.pieslice((10, 66, 80, 156), 180, 360, fill=(40, 60, 110))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _issue_licences(live: LiveCerthub) -> None:
    holder = {"name": live.holder_name, "code": live.holder_code, "code_type": "111"}
    today = date.today().isoformat()
    live.licences["id_card"] = _issue(live, ID_CARD_ISSUER, {
        "type_code": ID_CARD, "holder": holder, "operator": "web-test",
        "valid_from": "2020-06-01", "valid_until": "2040-06-01",
        "face": {"name": live.holder_name, "sex": "女", "ethnicity": "汉", "birth_date": "1988-04-12",
                 "address": ID_CARD_ADDRESS, "id_number": live.holder_code, "issuing_authority": "福州市公安局鼓楼分局",
                 "validity_period": "2020.06.01-2040.06.01",
                 "photo": base64.b64encode(holder_photo_png()).decode()},
    })
    live.licences["proof"] = _issue(live, CRIMINAL_RECORD_ISSUER, {
        "type_code": CRIMINAL_RECORD_PROOF, "holder": holder, "operator": "web-test",
        "face": {"proof_number": PROOF_NUMBER, "name": live.holder_name, "sex": "女", "id_type": "居民身份证",
                 "id_number": live.holder_code, "result": "未发现有犯罪记录", "issuing_authority": "福州市公安局",
                 "issue_date": today},
    })
    live.licences["property"] = _issue(live, PROPERTY_ISSUER, {
        "type_code": PROPERTY_CERTIFICATE, "holder": holder, "operator": "web-test",
        "face": {"certificate_number": "闽（2024）福州市不动产权第0031415号", "right_holder": live.holder_name,
                 "co_ownership": "单独所有", "location": "福州市鼓楼区五四路100号3幢1201单元",
                 "unit_number": "350102001001GB00012F00031201", "right_type": "国有建设用地使用权/房屋所有权",
                 "right_nature": "出让/商品房", "usage": "城镇住宅用地/住宅", "registration_authority": "福州市不动产登记中心",
                 "register_date": today},
    })


def start_live_certhub(data_dir: Path) -> tuple[LiveCerthub, ServerThread]:
    # The checkpointer publishes at start and then every 250 s (within the
    # 300 s fail-closed period); tests publish when they need a proof. On
    # SQLite a background writer committing between a request's reads and its
    # write fails that request ("database is locked": the holder-read paths
    # record their use without taking the write lock first), so the
    # background one stays quiet. TTL 15 s: the wallet's refresh is seen soon.
    staff_provider = OidcProvider(audience=STAFF_CLIENT, claims={
        "staff_id": "fzga-clerk-2001", "department_code": PUBLIC_SECURITY, "roles": ["clerk"], "name": "吴雨桐"})
    # The staff client's redirect URI is configured, as registered at a provider: the port is chosen first.
    port = free_port()
    push_service = start_push_service()
    settings = Settings(demo=True, data_dir=data_dir, auditlog_checkpoint_interval_seconds=250,
                        web_push_origins=push_service.base_url, web_push_contact="mailto:ops@certhub.test",
                        presentation_ttl_seconds=15, staff_oidc_issuer=staff_provider.issuer,
                        staff_oidc_audience=STAFF_CLIENT,
                        staff_oidc_redirect_uri=f"http://127.0.0.1:{port}/web/staff/callback")
    font_cache = data_dir / "cache" / "web-fonts"
    # The web font subset takes seconds to build (in a child process): start it while the demo is prepared.
    web_font().warm_up(font_cache)
    info = prepare_demo(settings)
    issuers = _issuer_clients(settings)
    # As `certhub demo` does: one witness process cosigns the log's checkpoints (the wallet checks them).
    witness = start_witness(data_dir, "127.0.0.1/web-test-witness", log_verifier_key(settings))
    settings = settings.model_copy(update={
        "auditlog_witnesses": [LogWitnessSetting(name=witness.name, vkey=witness.vkey, url=witness.url)],
        "auditlog_witness_quorum": 1})
    server = ServerThread(create_app(settings, background_jobs=True), port=port)
    try:
        server.start()
    except BaseException:
        witness.stop()
        raise
    live = LiveCerthub(
        base_url=f"http://127.0.0.1:{port}", settings=settings,
        demo_client=Client(info.client_id, info.client_secret), holder_code=holder_code(), issuers=issuers,
        staff_provider=staff_provider, witness=witness, push_service=push_service,
    )
    _wait_for_checkpoint(live)
    _issue_licences(live)
    return live, server


def _wait_for_checkpoint(live: LiveCerthub) -> None:
    deadline = time.monotonic() + 20
    while httpx.get(f"{live.base_url}/log/checkpoint").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("the checkpointer published nothing")
        time.sleep(0.1)
