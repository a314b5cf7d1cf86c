"""`certhub licences`: expiry reminders and the expiry job."""

from __future__ import annotations

import typer

from certhub.cli import context
from identity.masking import MaskRule, mask_value
from registry.service import disputes, issue, lifecycle, reads

app = typer.Typer(help="E-licences (电子证照): expiry reminders, the expiry job, disputes.", no_args_is_help=True)


@app.command("expiring")
def expiring_cmd(
    days: int = typer.Option(30, "--days", min=0, max=3660, help="Validity ending within this many days"),
    issuer: str | None = typer.Option(None, "--department", "--issuer", "-i", help="The issuing department's USCC"),
    holder: str | None = typer.Option(None, "--holder", help="A holder's code (citizen ID number or USCC)"),
) -> None:
    """List live licences that expire soon, of a department, a holder or both (holder names masked)."""
    if issuer is None and holder is None:
        context.fail("give --department CODE, --holder CODE or both", code=2)
    config = context.settings()
    with context.session_scope(config) as session:
        rows = reads.list_expiring(session=session, issuer_code=issuer, holder_code=holder, days=days)
        for row in rows:
            masked = mask_value(row.holder_name, MaskRule.name)
            typer.echo(f"{row.valid_until.isoformat()}  {row.base_identifier}  {row.status:9}  {masked}")
    typer.echo(f"{len(rows)} licence(s) expire within {days} day(s)")


@app.command("disputes")
def disputes_cmd(
    department: str = typer.Option(..., "--department", "-d", help="The issuing department's USCC"),
    status: str = typer.Option("open", "--status", help="open, overdue, accepted or rejected"),
) -> None:
    """List disputes (异议) of a department's licences, oldest deadline first."""
    if status not in disputes.LISTABLE:
        context.fail(f"--status must be one of {', '.join(disputes.LISTABLE)}", code=2)
    config = context.settings()
    with context.session_scope(config) as session:
        rows = disputes.list_for_department(session=session, department_code=department, status=status,
                                            limit=disputes.MAX_PAGE)
        for row in rows:
            late = "OVERDUE" if disputes.is_overdue(row) else ""
            typer.echo(f"#{row.id}  due {row.due_at.date().isoformat()}  {row.status:8} {late:7}  "
                       f"{row.licence.base_identifier}  field={row.field}  by={row.raised_by}")
    typer.echo(f"{len(rows)} dispute(s) {status}")


@app.command("expire")
def expire_cmd() -> None:
    """Mark licences whose validity has ended as expired (run daily)."""
    config = context.settings()
    signer = issue.Signer(registry_id=config.registry_id, key_secret=config.secret_bytes())
    with context.session_scope(config) as session:
        count = lifecycle.expire_due(session=session, signer=signer)
    typer.echo(f"{count} licence(s) expired")
