"""`certhub signing`: the registry's signing anchors and trust list."""

from __future__ import annotations

import base64
import json

import typer

from certhub.cli import context
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.hsm import token_of
from signing.keystore import open_key_store
from signing.service import rotation as rotation_service

app = typer.Typer(help="Signing anchors: trust-root key, seal maker, trust list, key rotation.", no_args_is_help=True)


@app.command("init")
def init_cmd(
    maker_name: str = typer.Option("电子印章制作中心", help="Name of the platform seal maker (制章者)"),
) -> None:
    """Create the trust-root key and the seal maker if missing (and, with a PKCS#11 token, its MAC keys); print what verifiers pin."""
    config = context.settings()
    key_secret = config.secret_bytes()
    with context.session_scope(config) as session:
        anchors = ensure_signing_anchors(session=session, key_secret=key_secret, maker_name=maker_name)
    typer.echo(("created" if anchors.created else "already set up") + f"; seal maker: {anchors.maker_name}")
    if (token := token_of(key_secret)) is not None:
        # The access-token and holder-session MAC keys: made here, once, not by servers starting together.
        made = token.ensure_mac_keys()
        typer.echo(f"token MAC keys: {', '.join(made) if made else 'already set up'}")
    typer.echo(f"trust-root kid: {anchors.root_kid}")
    typer.echo(f"trust-root public key (DER SubjectPublicKeyInfo, base64; pin it in verifiers):\n{anchors.root_public_key_der_b64}")


@app.command("trust-list")
def trust_list_cmd() -> None:
    """Print the current signed trust list (publishing a new one if anything changed)."""
    config = context.settings()
    with context.session_scope(config) as session:
        body = signing_service.trust_list_json(session=session, registry_id=config.registry_id, key_secret=config.secret_bytes())
    typer.echo(body.decode())


ROTATABLE = ("seal", "trust-root", "presentation", "status-list", "checkpoint")


@app.command("rotate")
def rotate_cmd(
    kind: str = typer.Argument(..., help="Which key: " + ", ".join(ROTATABLE)),
    seal: str | None = typer.Option(None, "--seal", help="The seal's esID (with `seal`)"),
    algorithm: str | None = typer.Option(None, "--algorithm", help="ES256, EdDSA or SM2 (seal, trust-root; default: as before)"),
) -> None:
    """Rotate a key: the old one is retired (what it signed keeps verifying), a new one
    signs from now on, and the trust list (or the log's key history) is republished.
    docs/operations.md "Key rotation" says what verifiers need after each kind."""
    if kind not in ROTATABLE:
        context.fail(f"cannot rotate {kind!r}: choose one of {', '.join(ROTATABLE)}", code=2)
    if (kind == "seal") != (seal is not None):
        context.fail("--seal ESID names the seal to rotate, and only with `seal`", code=2)
    if algorithm is not None and kind not in ("seal", "trust-root"):
        context.fail(f"the {kind} key is always ES256 or Ed25519; --algorithm is for seal and trust-root", code=2)
    config = context.settings()
    with context.session_scope(config) as session:
        for line in _rotate(session, config, kind=kind, es_id=seal, algorithm=algorithm):
            typer.echo(line)


def _rotate(session, config, *, kind: str, es_id: str | None, algorithm: str | None) -> list[str]:
    secret, registry_id = config.secret_bytes(), config.registry_id
    if kind == "checkpoint":
        from exchange.auditlog import log_origin, rotate_checkpoint_key, verifier_key

        origin = log_origin(registry_id)
        published = rotate_checkpoint_key(session=session, key_secret=secret, origin=origin)
        return [
            f"checkpoint key rotated; checkpoint of size {published.size} signed with the new key",
            f"new verifier key (auditors add it to the old ones; all are at /log/verifier-keys):\n"
            f"{verifier_key(session=session, origin=origin)}",
        ]
    if kind == "trust-root":
        rotation = rotation_service.rotate_trust_root(
            session=session, registry_id=registry_id, key_secret=secret, algorithm=algorithm
        )
        return [
            f"trust root rotated: {rotation.old_kid} retired, {rotation.new_kid} signs from list "
            f"#{rotation.first_sequence} (the old root signed the handover list #{rotation.handover_sequence})",
            "new trust-root public key (DER SubjectPublicKeyInfo, base64; verifiers pin it beside the old one):\n"
            + base64.b64encode(rotation.new_public_key_der).decode("ascii"),
        ]
    if kind == "seal":
        assert es_id is not None
        new_kid = signing_service.rotate_key(session=session, es_id=es_id, key_secret=secret, algorithm=algorithm).kid
    elif kind == "presentation":
        new_kid = rotation_service.rotate_presentation_key(session=session, registry_id=registry_id, key_secret=secret)
    else:
        new_kid = signing_service.rotate_status_list_key(session=session, registry_id=registry_id, key_secret=secret)
    body = signing_service.trust_list_json(session=session, registry_id=registry_id, key_secret=secret)
    sequence = json.loads(body)["payload"]["sequence"]
    return [f"{kind} key rotated: new kid {new_kid}; trust list #{sequence} names it and keeps the old key as retired"]
@app.command("keys")
def keys_cmd() -> None:
    """List the signing keys: purpose, algorithm, status, and whether the private half is in the token or in software."""
    config = context.settings()
    with context.session_scope(config) as session:
        for key in open_key_store(session=session, secret=config.secret_bytes()).list():
            custody = f"token {key.token_object}" if key.token_object else "software"
            typer.echo(f"{key.kid}  {key.public_key.algorithm:<5}  {key.purpose:<12}  {key.status:<8}  {custody}")
