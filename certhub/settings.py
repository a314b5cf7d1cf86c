"""certhub's settings: one pydantic-settings class read from CERTHUB_* variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from storage.egress import Egress

# Secrets that must never reach production: the demo default and the usual
# copy-paste placeholders from example configuration files.
DEMO_SECRET = "demo-only-insecure-key-encryption-secret-000000"
_PLACEHOLDER_SECRETS = {
    "",
    DEMO_SECRET,
    "changeme",
    "change-me",
    "secret",
    "please-change",
    "replace-me",
    "xxx",
}
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The configuration cannot be used; the message says what to set."""


class RecognisedRegistry(BaseModel):
    """Another registry whose licences this one verifies (跨省互认): its trust
    list is fetched from `trust_list_url` and accepted only under the pinned
    `root_key` (DER SubjectPublicKeyInfo, base64 or base64url)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    registry_id: str = Field(min_length=1, max_length=100)
    trust_list_url: str = Field(min_length=1, max_length=2000)
    root_key: str = Field(min_length=1, max_length=2000)
    refresh_seconds: float = Field(default=3600, ge=1, le=86_400)

    @field_validator("registry_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError("registry_id: printable, without surrounding spaces")
        return value

    @field_validator("trust_list_url")
    @classmethod
    def _secure(cls, value: str) -> str:
        from identity.oidc import require_secure_url

        return require_secure_url(value, what="trust_list_url")

    @field_validator("root_key")
    @classmethod
    def _a_public_key(cls, value: str) -> str:
        from certhub.recognition import parse_root_key

        parse_root_key(value)
        return value


class LogWitnessSetting(BaseModel):
    """A witness the authorized-use log asks to cosign each checkpoint (C2SP
    tlog-witness): its name, its cosignature/v1 vkey and its submission URL
    (``<url>/add-checkpoint`` is POSTed to). Cosignatures are verified against
    the vkey, so the URL may be plain http (docs/auditlog.md "Witnesses")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=256)
    vkey: str = Field(min_length=1, max_length=512)
    url: str = Field(min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _vkey_names_the_witness(self) -> LogWitnessSetting:
        from signing.transparency.cosignature import CosignerVerifier

        verifier = CosignerVerifier.from_key_string(self.vkey)
        if verifier.name != self.name:
            raise ValueError(f"the witness vkey is named {verifier.name!r}, not {self.name!r}")
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).hostname:
            raise ValueError("a witness url is an http(s) URL")
        return self


# The push services of the browsers people use (Chrome, Firefox, Safari, Edge on Windows).
WEB_PUSH_ORIGINS = (
    "https://fcm.googleapis.com",
    "https://updates.push.services.mozilla.com",
    "https://web.push.apple.com",
    "https://*.notify.windows.com",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CERTHUB_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded SQLite database and generated files live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file in the data directory.",
    )
    database_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, max_length=16,
        description="PostgreSQL hot standbys of CERTHUB_DATABASE_URL, comma-separated URLs: read-only work (wallet "
                    "lists, public verification, status lists, log tiles, auditor search, catalog reads) goes to "
                    "one within CERTHUB_DATABASE_REPLICA_MAX_LAG_SECONDS, else to the primary; default: none "
                    "(docs/deployment.md, 'Read replicas').",
    )
    database_replica_max_lag_seconds: float = Field(
        default=5, gt=0, le=3600,
        description="How far behind the primary a standby may be and still serve reads (measured by WAL position).",
    )
    database_replica_check_seconds: float = Field(
        default=1, gt=0, le=60, description="How often each standby's lag is measured.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL: redis:// (one server), redis+cluster://host:port,host:port (a Redis Cluster) or "
                    "redis+sentinel://host:port,host:port/service (the primary Sentinel names); default: none, "
                    "an in-process cache is used.",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Key-encryption secret: protects private keys at rest and signs access tokens.",
    )
    demo: bool = Field(default=False, description="Demo mode: demo data and a development login.")
    registry_id: str = Field(
        default="https://certhub.invalid",
        description="This registry's identifier (issuer of tokens, trust lists and QR codes).",
    )
    adapters_file: Path | None = Field(
        default=None,
        description="YAML file binding data items to departments' systems (docs/adapters.md).",
    )
    access_token_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    token_revocation_poll_seconds: float = Field(
        default=5.0, ge=0.5, le=300,
        description="How often each server reads withdrawn client credentials (revoked keys, disabled clients) "
                    "from the database; with Redis it is also told at once.",
    )
    oidc_issuer: str | None = Field(
        default=None, description="Holders' OpenID Connect provider (issuer URL); default: no OIDC sign-in."
    )
    oidc_audience: str | None = Field(
        default=None, description="certhub's client id at the OpenID provider (the ID tokens' aud)."
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="The provider's JWKS URL; default: jwks_uri from its discovery document."
    )
    oidc_holder_code_claim: str = Field(
        default="id_number", min_length=1, description="ID token claim carrying the holder code."
    )
    holder_session_ttl_seconds: int = Field(default=900, ge=60, le=3600)
    staff_oidc_issuer: str | None = Field(
        default=None, description="Staff's OpenID Connect provider (issuer URL; often the holders'); "
                                  "default: no staff OIDC sign-in."
    )
    staff_oidc_audience: str | None = Field(
        default=None, description="certhub's staff client id at that provider (the staff ID tokens' aud): "
                                  "another client than the holders'."
    )
    staff_oidc_client_secret: SecretStr | None = Field(
        default=None, description="The staff client's secret at the provider, for its token endpoint (client_secret_basic); "
                                  "default: a public client (PKCE only)."
    )
    staff_oidc_redirect_uri: str | None = Field(
        default=None, max_length=2048,
        description="The staff sign-in's redirect URI as registered at the provider; default: "
                    "CERTHUB_REGISTRY_ID + /web/staff/callback (the public address the pages are served at)."
    )
    staff_oidc_jwks_url: str | None = Field(
        default=None, description="The staff provider's JWKS URL; default: jwks_uri from its discovery document."
    )
    staff_oidc_staff_id_claim: str = Field(
        default="staff_id", min_length=1, description="ID token claim carrying the staff id (the use log's operator)."
    )
    staff_oidc_department_claim: str = Field(
        default="department_code", min_length=1, description="ID token claim carrying the department's USCC."
    )
    staff_oidc_roles_claim: str = Field(
        default="roles", min_length=1, description="ID token claim carrying the roles (clerk, officer, auditor)."
    )
    staff_session_ttl_seconds: int = Field(
        default=900, ge=60, le=3600, description="Lifetime of a staff session token; the pages refresh it while "
                                                 "the person works."
    )
    staff_shift_max_seconds: int = Field(
        default=12 * 3600, ge=600, le=24 * 3600,
        description="The longest a staff session lasts from sign-in, however often it is refreshed (a shift).",
    )
    dispute_deadline_days: int = Field(
        default=15, ge=1, le=365, description="Days an issuer has to decide a dispute (异议) before it is overdue."
    )
    presentation_ttl_seconds: int = Field(
        default=60, ge=15, le=600, description="Lifetime of a holder's one-time 亮证 QR code, in seconds."
    )
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests a minute per department to each rate-limited API (docs/clients.md)."
    )
    daily_quota: int = Field(default=100000, ge=1, description="Requests a day per department (China Standard Time days).")
    rate_limit_overrides: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='Per-department limits as JSON: {"<USCC>": {"per_minute": 1200, "daily": 500000}}.',
    )
    webhooks_allow_loopback: bool = Field(
        default=False,
        description="Let push subscriptions call back to loopback addresses over http (tests, local development; demo implies it).",
    )
    web_push_origins: str = Field(
        default=",".join(WEB_PUSH_ORIGINS), max_length=2000,
        description="Push services the wallet's Web Push subscriptions may name, comma-separated origins "
                    "(https://host[:port]; *.host matches its subdomains); default: the major browsers' push "
                    "services. Empty: Web Push off (the wallet still polls its use notices). docs/web.md.",
    )
    web_push_contact: str | None = Field(
        default=None, max_length=200,
        description="The contact push services see in the hub's VAPID tokens (mailto: or https:); "
                    "default: the origin of CERTHUB_REGISTRY_ID.",
    )
    max_request_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024,
        description="The largest request body any route accepts; a larger one is refused with 413 before it is read.",
    )
    auditlog_max_lag_seconds: int = Field(
        default=300, ge=10, le=86_400,
        description="Fail-closed period: no data is served while the authorized-use log's last checkpoint is older.",
    )
    auditlog_checkpoint_interval_seconds: float = Field(
        default=10, gt=0, le=3600, description="How often the checkpointer integrates records and signs a checkpoint."
    )
    auditlog_tsa_url: str | None = Field(
        default=None, max_length=2000,
        description="An RFC 3161 time-stamping authority (http:// or https://) that time-stamps each published "
                    "checkpoint of the authorized-use log, through the egress proxy; default: none "
                    "(docs/auditlog.md, 'Outside time-stamps').",
    )
    auditlog_tsa_tolerance_seconds: int = Field(
        default=14_400, ge=10, le=7 * 86_400,
        description="With CERTHUB_AUDITLOG_TSA_URL: no data is served once a checkpoint has gone without a "
                    "time-stamp for longer than this (X-Road's time-stamping tolerance; default 4 hours).",
    )
    auditlog_witnesses: list[LogWitnessSetting] = Field(
        default_factory=list, max_length=31,
        description='Witnesses asked to cosign each checkpoint, JSON: [{"name": ..., "vkey": <cosignature/v1 vkey>, '
                    '"url": <submission prefix>}] (docs/auditlog.md "Witnesses").',
    )
    auditlog_witness_quorum: int | None = Field(
        default=None, ge=0, le=31,
        description="How many of the witnesses must cosign for the log's own health to call a checkpoint witnessed "
                    "(k of n); default: all of them. Verifiers pin their own policy.",
    )
    auditlog_witness_timeout_seconds: float = Field(
        default=5, gt=0, le=60, description="Connect and read timeout of each request to a witness.",
    )
    recognised_registries: list[RecognisedRegistry] = Field(
        default_factory=list, max_length=100,
        description='Other registries whose codes /api/v1/verify accepts, JSON: [{"registry_id": ..., '
                    '"trust_list_url": ..., "root_key": <base64 DER SPKI>}] (docs/formats.md).',
    )
    egress_proxy: str | None = Field(
        default=None,
        description="The proxy every outbound HTTP request goes through (departments' systems, other registries, "
                    "the OpenID provider, push callbacks), e.g. http://proxy.gov.example:3128; default: none. "
                    "HTTPS_PROXY / NO_PROXY in the environment are not read.",
    )
    egress_no_proxy: str = Field(
        default="", max_length=10_000,
        description="Hosts reached without the proxy, comma-separated as NO_PROXY is: intranet.gov.example,10.0.0.0/8 "
                    "(a name matches its subdomains too; * matches every host).",
    )
    key_token_module: Path | None = Field(
        default=None,
        description="Keep signing keys in a PKCS#11 token: the token's module (shared library), e.g. "
                    "/usr/lib/softhsm/libsofthsm2.so; default: none, private keys are kept in software envelopes "
                    "under CERTHUB_SECRET_KEY (docs/keys.md).",
    )
    key_token_label: str = Field(default="", max_length=32, description="The PKCS#11 token's label (with CERTHUB_KEY_TOKEN_MODULE).")
    key_token_pin: SecretStr = Field(
        default=SecretStr(""), description="The token's user PIN; prefer CERTHUB_KEY_TOKEN_PIN_FILE."
    )
    key_token_pin_file: Path | None = Field(
        default=None, description="A file holding the token's user PIN (its first line), e.g. a mounted secret."
    )
    tsa_url: str | None = Field(
        default=None, max_length=2000,
        description="An RFC 3161 time-stamping authority (http:// or https://): signed PDF layout documents are "
                    "then PAdES B-T, time-stamped through the egress proxy; default: none (PAdES B-B). "
                    "Plain http is usual for a TSA: its tokens are signed.",
    )
    worker_healthcheck_timeout_seconds: int = Field(
        default=60, ge=5, le=3600,
        description="`certhub serve --workers N`: how long a worker may take to answer the supervisor's health "
                    "check (and to start) before it is killed and replaced.",
    )

    @field_validator("database_url", "redis_url", "oidc_issuer", "oidc_audience", "oidc_jwks_url", "egress_proxy",
                     "staff_oidc_issuer", "staff_oidc_audience", "staff_oidc_jwks_url", "staff_oidc_client_secret",
                     "key_token_module", "key_token_pin_file", "tsa_url", "auditlog_tsa_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @model_validator(mode="after")
    def _replicas_of_postgresql(self) -> Settings:
        if not self.database_replica_urls:
            return self
        if not self.effective_database_url.startswith("postgresql"):
            raise ValueError("CERTHUB_DATABASE_REPLICA_URLS needs CERTHUB_DATABASE_URL to be PostgreSQL")
        if not all(url.startswith("postgresql") for url in self.database_replica_urls):
            raise ValueError("CERTHUB_DATABASE_REPLICA_URLS: each a postgresql:// URL")
        if len(set(self.database_replica_urls)) != len(self.database_replica_urls) or \
                self.effective_database_url in self.database_replica_urls:
            raise ValueError("CERTHUB_DATABASE_REPLICA_URLS: each standby once, and not the primary")
        # Otherwise every standby ages past the bound between two checks.
        if self.database_replica_check_seconds >= self.database_replica_max_lag_seconds:
            raise ValueError("CERTHUB_DATABASE_REPLICA_CHECK_SECONDS must be below "
                             "CERTHUB_DATABASE_REPLICA_MAX_LAG_SECONDS")
        return self

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix", "redis+cluster",
                                                                 "redis+sentinel"):
            raise ValueError("CERTHUB_REDIS_URL: redis://, rediss://, unix://, redis+cluster:// or redis+sentinel://")
        return value

    @field_validator("staff_oidc_issuer", "staff_oidc_jwks_url")
    @classmethod
    def _secure_staff_provider(cls, value: str | None) -> str | None:
        # Refused at start, not at the first sign-in: a staff token from a forged provider opens a department.
        from identity.oidc import require_secure_url

        return None if value is None else require_secure_url(value, what="the staff OpenID provider's URL")

    @field_validator("tsa_url", "auditlog_tsa_url")
    @classmethod
    def _a_tsa_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            split = urlsplit(value)
            if split.scheme not in ("http", "https") or not split.hostname:
                raise ValueError(f"{info.field_name}: an http:// or https:// URL with a host")
        return value

    @field_validator("web_push_origins")
    @classmethod
    def _push_origins(cls, value: str) -> str:
        for origin in cls.split_origins(value):
            split = urlsplit(origin)
            if split.scheme not in ("http", "https") or not split.hostname or split.path not in ("", "/"):
                raise ValueError(f"web_push_origins: {origin!r} is not scheme://host[:port]")
        return value

    @staticmethod
    def split_origins(value: str) -> tuple[str, ...]:
        return tuple(origin.strip() for origin in value.split(",") if origin.strip())

    @property
    def effective_web_push_contact(self) -> str:
        if self.web_push_contact:
            return self.web_push_contact
        split = urlsplit(self.registry_id)
        return f"https://{split.hostname}" if split.hostname else "https://certhub.invalid"

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'certhub.sqlite3').resolve()}"

    def require_usable_secret(self) -> None:
        """Refuse to run outside demo mode without a real secret."""
        if self.demo:
            return
        secret = self.secret_key.get_secret_value()
        if secret.strip().lower() in _PLACEHOLDER_SECRETS:
            raise SettingsError(
                "CERTHUB_SECRET_KEY is missing or a placeholder. Set it to a random value of at "
                f"least {MIN_SECRET_LENGTH} characters, e.g.\n"
                "  export CERTHUB_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(48))')\n"
                "or run `certhub demo` for the demo mode."
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"CERTHUB_SECRET_KEY is too short ({len(secret)} characters); "
                f"use at least {MIN_SECRET_LENGTH} random characters."
            )

    @model_validator(mode="after")
    def _witness_quorum_reachable(self) -> Settings:
        if self.auditlog_witness_quorum is not None and self.auditlog_witness_quorum > len(self.auditlog_witnesses):
            raise ValueError("CERTHUB_AUDITLOG_WITNESS_QUORUM is larger than the number of CERTHUB_AUDITLOG_WITNESSES")
        names = [witness.name for witness in self.auditlog_witnesses]
        if len(set(names)) != len(names):
            raise ValueError("CERTHUB_AUDITLOG_WITNESSES names each witness once")
        return self

    @model_validator(mode="after")
    def _auditlog_interval_below_lag(self) -> Settings:
        # Otherwise one missed round would already stop data being served.
        if self.auditlog_checkpoint_interval_seconds >= self.auditlog_max_lag_seconds:
            raise ValueError(
                "CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS must be below CERTHUB_AUDITLOG_MAX_LAG_SECONDS"
            )
        # Each round is one chance to be time-stamped: one missed round must not stop data being served.
        if self.auditlog_tsa_url and self.auditlog_checkpoint_interval_seconds >= self.auditlog_tsa_tolerance_seconds:
            raise ValueError(
                "CERTHUB_AUDITLOG_CHECKPOINT_INTERVAL_SECONDS must be below CERTHUB_AUDITLOG_TSA_TOLERANCE_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        # Half a configuration would silently leave holders unable to sign in.
        if bool(self.oidc_issuer) != bool(self.oidc_audience):
            raise ValueError("set CERTHUB_OIDC_ISSUER and CERTHUB_OIDC_AUDIENCE together")
        if self.oidc_jwks_url and not self.oidc_issuer:
            raise ValueError("CERTHUB_OIDC_JWKS_URL needs CERTHUB_OIDC_ISSUER and CERTHUB_OIDC_AUDIENCE")
        if bool(self.staff_oidc_issuer) != bool(self.staff_oidc_audience):
            raise ValueError("set CERTHUB_STAFF_OIDC_ISSUER and CERTHUB_STAFF_OIDC_AUDIENCE together")
        if self.staff_oidc_jwks_url and not self.staff_oidc_issuer:
            raise ValueError("CERTHUB_STAFF_OIDC_JWKS_URL needs CERTHUB_STAFF_OIDC_ISSUER and CERTHUB_STAFF_OIDC_AUDIENCE")
        # One client for both would let a holder's ID token open a staff session, or the reverse.
        if self.staff_oidc_audience and (self.staff_oidc_issuer, self.staff_oidc_audience) == (
                self.oidc_issuer, self.oidc_audience):
            raise ValueError("CERTHUB_STAFF_OIDC_AUDIENCE must be another client id than the holders' "
                             "(CERTHUB_OIDC_AUDIENCE)")
        if self.staff_session_ttl_seconds > self.staff_shift_max_seconds:
            raise ValueError("CERTHUB_STAFF_SESSION_TTL_SECONDS must not exceed CERTHUB_STAFF_SHIFT_MAX_SECONDS")
        return self

    @model_validator(mode="after")
    def _recognised_distinct(self) -> Settings:
        ids = [entry.registry_id for entry in self.recognised_registries]
        if len(set(ids)) != len(ids) or self.registry_id in ids:
            raise ValueError("CERTHUB_RECOGNISED_REGISTRIES: each registry once, and not this registry itself")
        return self

    @model_validator(mode="after")
    def _egress_usable(self) -> Settings:
        if self.egress_proxy is not None:
            self.egress()  # refused here, at start-up, rather than on the first outbound request
        return self

    def egress(self) -> Egress:
        """Where outbound HTTP goes (storage.egress)."""
        # Imported here: the command line reads settings without loading an HTTP stack.
        from storage.egress import Egress, EgressConfigError

        try:
            return Egress(proxy=self.egress_proxy, no_proxy=tuple(self.egress_no_proxy.split(",")))
        except EgressConfigError as error:
            raise ValueError(f"CERTHUB_EGRESS_PROXY: {error}") from None

    @model_validator(mode="after")
    def _key_token_complete(self) -> Settings:
        # Half a token configuration would silently keep new keys in software.
        if self.key_token_module is None:
            if self.key_token_label or self.key_token_pin.get_secret_value() or self.key_token_pin_file:
                raise ValueError("CERTHUB_KEY_TOKEN_LABEL and _PIN need CERTHUB_KEY_TOKEN_MODULE")
            return self
        if not self.key_token_module.is_absolute():
            raise ValueError("CERTHUB_KEY_TOKEN_MODULE must be an absolute path to the PKCS#11 library")
        if not self.key_token_label:
            raise ValueError("CERTHUB_KEY_TOKEN_MODULE needs CERTHUB_KEY_TOKEN_LABEL (the token's label)")
        if bool(self.key_token_pin.get_secret_value()) == bool(self.key_token_pin_file):
            raise ValueError("with CERTHUB_KEY_TOKEN_MODULE set exactly one of CERTHUB_KEY_TOKEN_PIN and _PIN_FILE")
        return self

    def _key_token_pin(self) -> str:
        if self.key_token_pin_file is None:
            return self.key_token_pin.get_secret_value()
        try:
            lines = self.key_token_pin_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise SettingsError(f"CERTHUB_KEY_TOKEN_PIN_FILE cannot be read: {error.strerror}") from None
        if not lines or not lines[0].strip():
            raise SettingsError("CERTHUB_KEY_TOKEN_PIN_FILE is empty")
        return lines[0].strip()

    def secret_bytes(self) -> bytes:
        """The key-encryption secret; with a token configured, a `signing.hsm.KeySecret` carrying it, so
        every key store opened with this secret generates and uses its keys in the token."""
        secret = self.secret_key.get_secret_value()
        if self.demo and not secret:
            secret = DEMO_SECRET
        if self.key_token_module is None:
            return secret.encode("utf-8")
        # Imported here: commands that never sign (`certhub verify`) read settings without the token driver.
        from signing.hsm import KeySecret, TokenConfig, TokenError, shared_token

        try:
            config = TokenConfig(module_path=str(self.key_token_module), token_label=self.key_token_label,
                                 pin=self._key_token_pin())
        except TokenError as error:
            raise SettingsError(f"CERTHUB_KEY_TOKEN_*: {error}") from None
        return KeySecret(secret.encode("utf-8"), token=shared_token(config))


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)
