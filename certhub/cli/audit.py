"""``certhub audit``: verify an authorized-use log as an outside auditor would.

Exit codes: 0 verified, 1 the log failed verification, 2 bad usage or input.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlencode, urlsplit

import typer
from cryptography import x509
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from identity.oidc import require_secure_url
from signing.transparency.cosignature import WitnessPolicy
from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.monitor import MonitorState, check_round, load_state, save_state
from signing.transparency.note import NoteVerifier
from signing.transparency.sources import DirectorySource, HttpSource, LogSource
from signing.transparency.timestamps import load_certificates
from signing.transparency.verifier import VerificationReport, verify_log
from storage.egress import BodyRefused, BodyTooLarge, Egress, EgressError

app = typer.Typer(help="Authorized-use log audit")

EXIT_VERIFIED = 0
EXIT_INVALID_LOG = 1
EXIT_USAGE = 2
# An earlier checkpoint is a few hundred bytes; refuse anything absurd.
_MAX_SINCE_BYTES = 1 << 16
_MAX_TOKEN_RESPONSE_BYTES = 1 << 16
_MAX_CA_FILE_BYTES = 1 << 20
TOKEN_PATH = "/api/v1/oauth/token"


@app.callback()
def _audit() -> None:
    """Authorized-use log audit."""


@app.command()
def verify(
    key: Annotated[
        list[str],
        typer.Option(
            "--key",
            help="Signed-note verifier key: <name>+<id>+<key>. Repeat it with every key of the log's "
            "history (/log/verifier-keys) when its checkpoint key was rotated.",
        ),
    ],
    url: Annotated[str | None, typer.Option("--url", help="Base URL of the log (tlog-tiles layout).")] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Local directory laid out like the log's URL space.")
    ] = None,
    since: Annotated[
        Path | None, typer.Option("--since", help="An earlier checkpoint file the log must be consistent with.")
    ] = None,
    entries: Annotated[
        bool | None,
        typer.Option(
            "--entries/--no-entries",
            help="Also check every entry bundle (default: yes with --dir, and with --url given credentials).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="CERTHUB_AUDIT_TOKEN", help="Bearer token of an audit:read client (--url)."),
    ] = None,
    client_id: Annotated[
        str | None, typer.Option("--client-id", help="audit:read client to fetch a token for (--url).")
    ] = None,
    client_secret: Annotated[
        str | None, typer.Option("--client-secret", envvar="CERTHUB_AUDIT_CLIENT_SECRET", help="Its secret.")
    ] = None,
    token_url: Annotated[
        str | None,
        typer.Option("--token-url", help="OAuth token endpoint (default: <log host>/api/v1/oauth/token)."),
    ] = None,
    tsa_ca: Annotated[
        list[Path] | None,
        typer.Option("--tsa-ca", help="The time-stamping authority's CA certificate(s), PEM or DER: the log's "
                     "published RFC 3161 time-stamp must verify against them (repeatable)."),
    ] = None,
    tsa_max_age: Annotated[
        int | None,
        typer.Option("--tsa-max-age", min=1, help="With --tsa-ca: the newest time-stamp may be at most this many "
                     "seconds old (the log's tolerance period)."),
    ] = None,
    database: Annotated[
        bool,
        typer.Option("--database", help="Check this deployment's database (CERTHUB_* settings): the searchable "
                     "columns and the per-subject map against the signed entries."),
    ] = False,
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A witness's cosignature/v1 vkey <name>+<id>+<key> you trust, obtained out "
                                       "of band (never from the log). Repeat for each witness."),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option("--witness-quorum", min=0, help="How many of the --witness keys must have cosigned the "
                                                     "checkpoint (default: all of them)."),
    ] = None,
) -> None:
    """Verify the log's signed checkpoint, every tile and (when readable) every entry.

    Entry bundles are personal data: over --url they are fetched only with
    an audit:read bearer token (--token, or --client-id/--client-secret);
    without one, the tiles alone are verified and the report says so.
    With --tsa-ca the log's RFC 3161 time-stamp is required and checked.
    """
    out = Console()
    err = Console(stderr=True)
    if [url is not None, directory is not None, database].count(True) != 1:
        _usage_error(err, "give exactly one of --url, --dir or --database")
    try:
        verifier = [NoteVerifier.from_key_string(one) for one in key]
    except MalformedError as error:
        _usage_error(err, f"--key is not a verifier key: {error}")
    if database:
        if since is not None or entries is not None or token_url or any(
                (token, client_id, client_secret, tsa_ca, tsa_max_age, witness, witness_quorum)):
            _usage_error(err, "--database takes only --key")
        _verify_database(out, err, verifier)
        return
    earlier = _read_since(err, since) if since is not None else None
    timestamps = _timestamp_policy(err, tsa_ca, tsa_max_age)
    policy = _witness_policy(err, witness or [], witness_quorum)
    credentials = _Credentials(token=token, client_id=client_id, client_secret=client_secret, token_url=token_url)
    check_entries = _entries_wanted(err, url=url, requested=entries, credentials=credentials)
    bearer = _bearer_token(err, url, credentials) if url is not None and credentials.given else None
    source = _open_source(err, url=url, directory=directory, token=bearer)
    try:
        report = _run_with_progress(source, verifier=verifier, since=earlier, check_entries=check_entries,
                                    timestamps=timestamps, policy=policy)
    except LogVerificationError as error:
        _print_failure(err, error)
        raise typer.Exit(EXIT_INVALID_LOG) from None
    finally:
        if isinstance(source, HttpSource):
            source.close()
    _print_report(out, report, entries_reason=None if check_entries else _why_no_entries(url, entries))


def _print_failure(err: Console, error: LogVerificationError) -> None:
    err.print(f"[bold red]FAILED[/] {error.code}: {error.message}", highlight=False)
    if error.path:
        err.print(f"first bad resource: {error.path}", highlight=False)
    if error.index is not None:
        err.print(f"first bad leaf index: {error.index}", highlight=False)


@dataclass(frozen=True)
class TimestampPolicy:
    """What a verifier requires of the log's RFC 3161 time-stamp."""

    tsa_roots: list[x509.Certificate]
    max_age: timedelta | None = None


def _timestamp_policy(err: Console, files: list[Path] | None, max_age: int | None) -> TimestampPolicy | None:
    if not files:
        if max_age is not None:
            _usage_error(err, "--tsa-max-age goes with --tsa-ca")
        return None
    roots: list[x509.Certificate] = []
    for path in files:
        try:
            with open(path, "rb") as stream:
                data = stream.read(_MAX_CA_FILE_BYTES + 1)
            if len(data) > _MAX_CA_FILE_BYTES:
                _usage_error(err, f"--tsa-ca {path} is too large to be a CA certificate file")
            roots.extend(load_certificates(data))
        except (OSError, MalformedError) as error:
            _usage_error(err, f"--tsa-ca {path}: {error}")
    return TimestampPolicy(tsa_roots=roots, max_age=timedelta(seconds=max_age) if max_age else None)


@dataclass(frozen=True)
class _Credentials:
    token: str | None
    client_id: str | None
    client_secret: str | None
    token_url: str | None

    @property
    def given(self) -> bool:
        return any((self.token, self.client_id, self.client_secret))


def _entries_wanted(err: Console, *, url: str | None, requested: bool | None, credentials: _Credentials) -> bool:
    if url is None:
        if credentials.given or credentials.token_url:
            _usage_error(err, "--token, --client-id/--client-secret and --token-url go with --url")
        return True if requested is None else requested
    if credentials.token and (credentials.client_id or credentials.client_secret):
        _usage_error(err, "give either --token or --client-id with --client-secret, not both")
    if bool(credentials.client_id) != bool(credentials.client_secret):
        _usage_error(err, "--client-id and --client-secret go together")
    if credentials.token_url and not credentials.client_id:
        _usage_error(err, "--token-url goes with --client-id/--client-secret")
    if credentials.given and not _may_send_credentials(url):
        _usage_error(err, "refusing to send credentials over plain http to a non-loopback host; use https")
    if not credentials.given:
        if requested:
            _usage_error(err, "--entries over --url needs an audit:read token (--token or --client-id/--client-secret)")
        return False
    return True if requested is None else requested


def _why_no_entries(url: str | None, requested: bool | None) -> str:
    if url is not None and requested is None:
        return "no audit:read token given: entry bundles are not public"
    return "--no-entries"


def _may_send_credentials(url: str) -> bool:
    """Only over TLS, or to this machine: a token or secret never crosses a network in clear."""
    try:
        require_secure_url(url, what="the log's address")
    except ValueError:
        return False
    return True


def _bearer_token(err: Console, url: str, credentials: _Credentials) -> str:
    if credentials.token:
        return credentials.token
    parts = urlsplit(url)
    endpoint = credentials.token_url or f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"
    if not _may_send_credentials(endpoint):
        _usage_error(err, "refusing to send client credentials over plain http to a non-loopback host")
    try:
        return request_token(
            endpoint, client_id=credentials.client_id or "", client_secret=credentials.client_secret or ""
        )
    except TokenRequestError as error:
        _usage_error(err, f"cannot get an audit:read token: {error}")


class TokenRequestError(Exception):
    pass


def request_token(endpoint: str, *, client_id: str, client_secret: str, timeout: float = 30.0) -> str:
    """An ``audit:read`` access token by the client credentials grant.

    # SPEC: RFC 6749 §4.4 (client credentials), §2.3.1 (HTTP Basic client auth).
    The secret goes only in the Authorization header; error messages carry
    the server's error code, never the secret or the token.
    """
    form = urlencode({"grant_type": "client_credentials", "scope": "audit:read"}).encode()
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
    try:
        with _egress().client(timeout=(timeout, timeout)) as client, client.request(
            "POST", endpoint, headers=headers, body=form,
        ) as response:
            body = response.read_bounded(max_bytes=_MAX_TOKEN_RESPONSE_BYTES)
            status = response.status
    except BodyTooLarge:
        raise TokenRequestError("the token response is too large") from None
    except EgressError as error:
        raise TokenRequestError(f"POST {endpoint} failed: {error.reason}") from None
    except BodyRefused as error:
        raise TokenRequestError(f"POST {endpoint} failed: {type(error).__name__}") from None
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if status != 200:
        code = payload.get("error") if isinstance(payload, dict) else None
        raise TokenRequestError(f"POST {endpoint} returned HTTP {status}" + (f" ({code})" if code else ""))
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenRequestError("the token response carries no access_token")
    return token


def _witness_policy(err: Console, keys: list[str], quorum: int | None) -> WitnessPolicy | None:
    """The user's own pinned witness policy; without --witness, none is checked."""
    if not keys:
        if quorum:
            _usage_error(err, "--witness-quorum needs --witness keys")
        return None
    try:
        return WitnessPolicy.from_key_strings(keys, threshold=len(keys) if quorum is None else quorum)
    except MalformedError as error:
        _usage_error(err, f"--witness/--witness-quorum: {error}")


def _run_with_progress(
    source: LogSource, *, verifier: list[NoteVerifier], since: bytes | None, check_entries: bool,
    timestamps: TimestampPolicy | None,
    policy: WitnessPolicy | None = None,
) -> VerificationReport:
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("verify", total=None)

        def report_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return verify_log(
            source=source, verifier_key=verifier, since=since, check_entries=check_entries, progress=report_progress,
            tsa_roots=timestamps.tsa_roots if timestamps else None,
            timestamp_max_age=timestamps.max_age if timestamps else None,
            witness_policy=policy,
        )


def _print_report(out: Console, report: VerificationReport, *, entries_reason: str | None) -> None:
    scope = "log verified" if entries_reason is None else "tiles verified, entries NOT checked"
    out.print(f"[bold green]OK[/] {scope}", highlight=False)
    out.print(f"origin: {report.origin}", highlight=False)
    out.print(f"size: {report.size}", highlight=False)
    out.print(f"root: {base64.b64encode(report.root_hash).decode()}", highlight=False)
    out.print(f"tiles checked: {report.tiles_checked}, entries checked: {report.entries_checked}", highlight=False)
    if entries_reason is not None:
        out.print(f"entries not checked ({entries_reason}); leaf hashes were not recomputed from entries",
                  highlight=False)
    if report.cosigned_by:
        out.print(f"cosigned by: {', '.join(report.cosigned_by)}", highlight=False)
    if report.since is not None:
        out.print(f"consistent with earlier checkpoint of size {report.since.size}", highlight=False)
    if report.timestamp is not None:
        stamp = report.timestamp
        out.print(f"time-stamped: size {stamp.checkpoint.size} at {stamp.gen_time.isoformat()} "
                  f"by {stamp.tsa_name or 'the TSA'} (serial {stamp.serial_number}), consistent with this checkpoint",
                  highlight=False)


def _read_since(err: Console, path: Path) -> bytes:
    try:
        with open(path, "rb") as stream:
            data = stream.read(_MAX_SINCE_BYTES + 1)
    except OSError as error:
        _usage_error(err, f"cannot read --since file: {error}")
    if len(data) > _MAX_SINCE_BYTES:
        _usage_error(err, "--since file is too large to be a checkpoint")
    return data


def _open_source(err: Console, *, url: str | None, directory: Path | None, token: str | None) -> LogSource:
    try:
        if url is None:
            return DirectorySource(directory or Path("."))
        # Through the deployment's egress proxy, if it has one for the log's host.
        host = urlsplit(url).hostname or ""
        return HttpSource(url, token=token, manager=_egress().client().manager_for(host))
    except (ValueError, OSError) as error:
        _usage_error(err, str(error))


def _egress() -> Egress:
    """The deployment's egress proxy (CERTHUB_EGRESS_PROXY), if it has one."""
    from certhub.cli import context

    return context.settings(follow_demo=False).egress()


def _usage_error(err: Console, message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(EXIT_USAGE)


EXIT_ALERT = 1
_MONITOR_LOG = logging.getLogger("certhub.audit.monitor")
_MAX_WEBHOOK_ANSWER_BYTES = 1 << 14


@app.command()
def monitor(
    url: Annotated[str, typer.Option("--url", help="Base URL of the log (tlog-tiles layout).")],
    key: Annotated[
        list[str],
        typer.Option("--key", help="Signed-note verifier key; repeat it with every key of the log's history."),
    ],
    state: Annotated[Path, typer.Option("--state", help="State file: the last checkpoint verified (created if absent).")],
    interval: Annotated[float, typer.Option("--interval", min=1, help="Seconds between rounds.")] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit (for cron).")] = False,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="On a break, alert and go on (the state stays at the last good checkpoint).")
    ] = False,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST each alert as JSON to this http(s) URL.")
    ] = None,
    entries: Annotated[
        bool | None, typer.Option("--entries/--no-entries", help="Re-hash every entry (default: yes with credentials).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="CERTHUB_AUDIT_TOKEN", help="Bearer token of an audit:read client."),
    ] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="audit:read client to fetch a token for.")] = None,
    client_secret: Annotated[
        str | None, typer.Option("--client-secret", envvar="CERTHUB_AUDIT_CLIENT_SECRET", help="Its secret.")
    ] = None,
    token_url: Annotated[str | None, typer.Option("--token-url", help="OAuth token endpoint.")] = None,
    tsa_ca: Annotated[
        list[Path] | None, typer.Option("--tsa-ca", help="The TSA's CA certificate(s): time-stamps are required.")
    ] = None,
    tsa_max_age: Annotated[
        int | None, typer.Option("--tsa-max-age", min=1, help="With --tsa-ca: the newest time-stamp's maximum age, s.")
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="A witness's cosignature/v1 vkey you trust, obtained out of band (repeat)."),
    ] = None,
    witness_quorum: Annotated[
        int | None, typer.Option("--witness-quorum", min=0, help="How many --witness keys must cosign (default: all).")
    ] = None,
) -> None:
    """Follow a log: every round, verify it from the last checkpoint seen and alert on any break.

    A round checks what `audit verify` checks, with the saved checkpoint as
    --since. An alert is a log line on standard error, a POST to --webhook,
    and exit status 1 (unless --keep-going). Exit 0 after --once that passed;
    2 for bad usage.
    """
    err = Console(stderr=True)
    if not _MONITOR_LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        _MONITOR_LOG.addHandler(handler)
        _MONITOR_LOG.setLevel(logging.INFO)
    try:
        verifier = [NoteVerifier.from_key_string(one) for one in key]
    except MalformedError as error:
        _usage_error(err, f"--key is not a verifier key: {error}")
    if webhook is not None and urlsplit(webhook).scheme not in ("http", "https"):
        _usage_error(err, "--webhook must be an http:// or https:// URL")
    timestamps = _timestamp_policy(err, tsa_ca, tsa_max_age)
    policy = _witness_policy(err, witness or [], witness_quorum)
    credentials = _Credentials(token=token, client_id=client_id, client_secret=client_secret, token_url=token_url)
    check_entries = _entries_wanted(err, url=url, requested=entries, credentials=credentials)
    try:
        saved = load_state(state)
    except (OSError, MalformedError) as error:
        _usage_error(err, f"--state {state}: {error}")
    bearer = _bearer_token(err, url, credentials) if credentials.given else None
    source = _open_source(err, url=url, directory=None, token=bearer)
    assert isinstance(source, HttpSource)
    broken = False
    try:
        while True:
            try:
                saved, report = check_round(
                    source=source, verifier_key=verifier, state=saved, check_entries=check_entries,
                    tsa_roots=timestamps.tsa_roots if timestamps else None,
                    timestamp_max_age=timestamps.max_age if timestamps else None, witness_policy=policy)
            except LogVerificationError as error:
                broken = True
                _alert(url=url, error=error, last=saved, webhook=webhook)
                if not keep_going:
                    raise typer.Exit(EXIT_ALERT) from None
            else:
                save_state(state, saved)
                since = f", consistent with size {report.since.size}" if report.since is not None else ""
                stamped = f", time-stamped at size {report.timestamp.checkpoint.size}" if report.timestamp else ""
                _MONITOR_LOG.info("OK %s size %d%s%s", report.origin, report.size, since, stamped)
            if once:
                raise typer.Exit(EXIT_ALERT if broken else EXIT_VERIFIED)
            time.sleep(interval)
    finally:
        source.close()


def _alert(*, url: str, error: LogVerificationError, last: MonitorState, webhook: str | None) -> None:
    """A break: one log line, and the same as JSON to the webhook (failures to deliver are logged, not fatal)."""
    where = "".join((f" at {error.path}" if error.path else "",
                     f" leaf {error.index}" if error.index is not None else ""))
    _MONITOR_LOG.error("ALERT %s: %s%s (log %s)", error.code, error.message, where, url)
    if webhook is None:
        return
    body = json.dumps({
        "event": "log_monitor_alert", "log": url, "code": error.code, "message": error.message,
        "path": error.path, "index": error.index, "at": datetime.now(UTC).isoformat(),
        "last_good_checkpoint": last.checkpoint.decode() if last.checkpoint else None,
    }).encode()
    try:
        with _egress().client(timeout=(10.0, 10.0)) as client, client.request(
            "POST", webhook, body=body, headers={"Content-Type": "application/json"},
        ) as response:
            response.read_bounded(max_bytes=_MAX_WEBHOOK_ANSWER_BYTES)
            if not 200 <= response.status < 300:
                _MONITOR_LOG.error("the alert webhook answered HTTP %d", response.status)
    except EgressError as failure:
        _MONITOR_LOG.error("the alert webhook could not be reached: %s", failure.reason)
    except BodyRefused as failure:
        _MONITOR_LOG.error("the alert webhook's answer was refused: %s", type(failure).__name__)


def _verify_database(out: Console, err: Console, verifier: list[NoteVerifier]) -> None:
    from certhub.cli import context
    from exchange.auditlog.dbcheck import DatabaseMismatch, verify_database

    config = context.settings()
    with context.session_scope(config) as session:
        try:
            report = verify_database(session=session, verifiers=verifier, key_secret=config.secret_bytes())
        except DatabaseMismatch as error:
            err.print(f"[bold red]FAILED[/] {error.code}: {error.message}", highlight=False)
            if error.index is not None:
                err.print(f"leaf index: {error.index}", highlight=False)
            if error.row_id is not None:
                err.print(f"row id: {error.row_id}", highlight=False)
            raise typer.Exit(EXIT_INVALID_LOG) from None
    out.print(f"OK database matches the checkpoint of size {report.size}: {report.rows} rows' columns checked "
              f"against their entries, per-subject map of {report.subjects} subjects recomputed", highlight=False)


@app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Integrate pending records, publish a signed checkpoint now and print it."""
    from certhub.cli import context
    from certhub.root import build_log_witnesses
    from exchange.auditlog import latest_checkpoint, log_origin, publish_checkpoint, verifier_key
    from exchange.auditlog.witnessing import witness_latest

    config = context.settings()
    origin = log_origin(config.registry_id)
    with context.session_scope(config) as session:
        published = publish_checkpoint(session=session, key_secret=config.secret_bytes(), origin=origin)
        key = verifier_key(session=session, origin=origin)
    note = published.note
    witnesses = build_log_witnesses(config)
    if witnesses is not None:
        # After the checkpoint is committed, as the checkpointer does: witnesses never undo a publication.
        with context.session_scope(config) as session:
            witnessed = witness_latest(session=session, witnesses=witnesses)
            latest = latest_checkpoint(session=session)
            note = bytes(latest.note) if latest is not None else note
        if witnessed is not None and not witnessed.met:
            typer.echo(f"witness policy not met: {len(witnessed.cosigned_by)} of {witnessed.threshold} "
                       f"({', '.join(f'{n}: {why}' for n, why in sorted(witnessed.missing.items()))})", err=True)
    typer.echo(note.decode(), nl=False)
    typer.echo(f"verifier key: {key}", err=True)


@app.command("export")
def export_cmd(
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: standard output).")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 with offset).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time, exclusive (ISO 8601 with offset).")] = None,
    department: Annotated[str | None, typer.Option(help="Only this department's accesses.")] = None,
    operator: Annotated[str | None, typer.Option(help="Only this operator's accesses.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this holder's records.")] = None,
    matter: Annotated[str | None, typer.Option(help="Only accesses for this matter.")] = None,
    basis: Annotated[str | None, typer.Option(help="Only this legal basis.")] = None,
    result: Annotated[str | None, typer.Option(help="granted or denied.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = 1_000_000,
) -> None:
    """Export records as JSON lines, each with its inclusion proof.

    The first line is the checkpoint the proofs refer to, the last an
    ``end`` line with the record count. Records are streamed in batches.
    An export is bounded: --since and --until (at most 92 days apart), or
    --subject.
    """
    from certhub.cli import context
    from exchange.auditlog.errors import InvalidQuery
    from exchange.auditlog.search import SearchFilter, check_export, export_lines

    filters = SearchFilter(
        department=department, operator=operator, subject=subject, matter=matter, basis=basis, result=result,
        since=_parse_time(since, "--since"), until=_parse_time(until, "--until"),
    )
    try:
        check_export(filters=filters, limit=limit)
    except InvalidQuery as error:
        context.fail(str(error), code=EXIT_USAGE)
    config = context.settings()
    with context.session_scope(config) as session:
        lines = export_lines(session=session, filters=filters, limit=limit)
        if out is None:
            for line in lines:
                typer.echo(line, nl=False)
        else:
            with open(out, "w", encoding="utf-8") as stream:
                stream.writelines(lines)


def _parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        _usage_error(Console(stderr=True), f"{option} is not an ISO 8601 time")
    if value.tzinfo is None:
        _usage_error(Console(stderr=True), f"{option} needs a UTC offset, e.g. 2025-03-01T00:00:00+08:00")
    return value
