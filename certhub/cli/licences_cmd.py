"""`certhub licences`: expiry reminders and the expiry job."""

from __future__ import annotations

import typer

from catalog.masking import MaskRule, mask_value
from certhub.cli import context
from registry.service import issue, lifecycle, reads

app = typer.Typer(help="E-licences (电子证照): expiry reminders and the expiry job.", no_args_is_help=True)


@app.command("expiring")
def expiring_cmd(
    days: int = typer.Option(30, "--days", min=0, max=3660, help="Validity ending within this many days"),
    issuer: str = typer.Option(..., "--issuer", "-i", help="The issuing department's USCC"),
) -> None:
    """List an issuer's live licences that expire soon (holder names masked)."""
    config = context.settings()
    with context.session_scope(config) as session:
        rows = reads.list_expiring(session, issuer_code=issuer, days=days)
        for row in rows:
            holder = mask_value(row.holder_name, MaskRule.name)
            typer.echo(f"{row.valid_until.isoformat()}  {row.base_identifier}  {row.status:9}  {holder}")
    typer.echo(f"{len(rows)} licence(s) expire within {days} day(s)")


@app.command("expire")
def expire_cmd() -> None:
    """Mark licences whose validity has ended as expired (run daily)."""
    config = context.settings()
    signer = issue.Signer(registry_id=config.registry_id, key_secret=config.secret_bytes())
    with context.session_scope(config) as session:
        count = lifecycle.expire_due(session, signer=signer)
    typer.echo(f"{count} licence(s) expired")
