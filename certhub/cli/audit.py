"""``certhub audit``: verify an authorized-use log as an outside auditor would.

Exit codes: 0 verified, 1 the log failed verification, 2 bad usage or input.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.note import NoteVerifier
from signing.transparency.sources import DirectorySource, HttpSource, LogSource
from signing.transparency.verifier import VerificationReport, verify_log

app = typer.Typer(help="Authorized-use log audit")

EXIT_VERIFIED = 0
EXIT_INVALID_LOG = 1
EXIT_USAGE = 2
# An earlier checkpoint is a few hundred bytes; refuse anything absurd.
_MAX_SINCE_BYTES = 1 << 16


@app.callback()
def _audit() -> None:
    """Authorized-use log audit."""


@app.command()
def verify(
    key: Annotated[str, typer.Option("--key", help="Signed-note verifier key: <name>+<id>+<key>.")],
    url: Annotated[str | None, typer.Option("--url", help="Base URL of the log (tlog-tiles layout).")] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Local directory laid out like the log's URL space.")
    ] = None,
    since: Annotated[
        Path | None, typer.Option("--since", help="An earlier checkpoint file the log must be consistent with.")
    ] = None,
    entries: Annotated[bool, typer.Option("--entries/--no-entries", help="Also check every entry bundle.")] = True,
) -> None:
    """Verify the log's signed checkpoint, every tile and (optionally) every entry."""
    out = Console()
    err = Console(stderr=True)
    if (url is None) == (directory is None):
        _usage_error(err, "give exactly one of --url or --dir")
    try:
        verifier = NoteVerifier.from_key_string(key)
    except MalformedError as error:
        _usage_error(err, f"--key is not a verifier key: {error}")
    earlier = _read_since(err, since) if since is not None else None
    source = _open_source(err, url=url, directory=directory)
    try:
        report = _run_with_progress(source, verifier=verifier, since=earlier, check_entries=entries)
    except LogVerificationError as error:
        err.print(f"[bold red]FAILED[/] {error.code}: {error.message}", highlight=False)
        if error.path:
            err.print(f"first bad resource: {error.path}", highlight=False)
        if error.index is not None:
            err.print(f"first bad leaf index: {error.index}", highlight=False)
        raise typer.Exit(EXIT_INVALID_LOG) from None
    finally:
        if isinstance(source, HttpSource):
            source.close()
    _print_report(out, report)


def _run_with_progress(
    source: LogSource, *, verifier: NoteVerifier, since: bytes | None, check_entries: bool
) -> VerificationReport:
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("verify", total=None)

        def report_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return verify_log(
            source=source, verifier_key=verifier, since=since, check_entries=check_entries, progress=report_progress
        )


def _print_report(out: Console, report: VerificationReport) -> None:
    out.print("[bold green]OK[/] log verified", highlight=False)
    out.print(f"origin: {report.origin}", highlight=False)
    out.print(f"size: {report.size}", highlight=False)
    out.print(f"root: {base64.b64encode(report.root_hash).decode()}", highlight=False)
    out.print(f"tiles checked: {report.tiles_checked}, entries checked: {report.entries_checked}", highlight=False)
    if report.since is not None:
        out.print(f"consistent with earlier checkpoint of size {report.since.size}", highlight=False)


def _read_since(err: Console, path: Path) -> bytes:
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_SINCE_BYTES + 1)
    except OSError as error:
        _usage_error(err, f"cannot read --since file: {error}")
    if len(data) > _MAX_SINCE_BYTES:
        _usage_error(err, "--since file is too large to be a checkpoint")
    return data


def _open_source(err: Console, *, url: str | None, directory: Path | None) -> LogSource:
    try:
        return HttpSource(url) if url is not None else DirectorySource(directory or Path("."))
    except (ValueError, OSError) as error:
        _usage_error(err, str(error))


def _usage_error(err: Console, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


@app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Integrate pending records, publish a signed checkpoint now and print it."""
    from certhub.cli import context
    from exchange.auditlog import log_origin, publish_checkpoint, verifier_key

    config = context.settings()
    origin = log_origin(config.registry_id)
    with context.session_scope(config) as session:
        published = publish_checkpoint(session=session, key_secret=config.secret_bytes(), origin=origin)
        key = verifier_key(session=session, origin=origin)
    typer.echo(published.note.decode(), nl=False)
    typer.echo(f"verifier key: {key}", err=True)


@app.command("export")
def export_cmd(
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: standard output).")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department's accesses.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this holder's records.")] = None,
) -> None:
    """Export records as JSON lines, each with its inclusion proof; the first
    line is the checkpoint the proofs refer to."""
    from certhub.cli import context
    from exchange.auditlog.search import SearchFilter, export_lines

    config = context.settings()
    filters = SearchFilter(department=department, subject=subject)
    with context.session_scope(config) as session:
        lines = export_lines(session=session, filters=filters)
        if out is None:
            for line in lines:
                typer.echo(line, nl=False)
        else:
            with open(out, "w", encoding="utf-8") as stream:
                stream.writelines(lines)
