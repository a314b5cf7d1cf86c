"""`certhub signing`: the registry's signing anchors and trust list."""

from __future__ import annotations

import typer

from certhub.cli import context
from registry.setup import ensure_signing_anchors
from signing import service as signing_service
from signing.hsm import token_of
from signing.keystore import open_key_store

app = typer.Typer(help="Signing anchors: trust-root key, seal maker, trust list.", no_args_is_help=True)


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


@app.command("keys")
def keys_cmd() -> None:
    """List the signing keys: purpose, algorithm, status, and whether the private half is in the token or in software."""
    config = context.settings()
    with context.session_scope(config) as session:
        for key in open_key_store(session=session, secret=config.secret_bytes()).list():
            custody = f"token {key.token_object}" if key.token_object else "software"
            typer.echo(f"{key.kid}  {key.public_key.algorithm:<5}  {key.purpose:<12}  {key.status:<8}  {custody}")
