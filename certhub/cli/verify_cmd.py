"""`certhub verify TEXT|IMAGE|FILE.ofd`: check a QR code offline against a pinned
trust list, or the 签章 of an OFD layout document (GB/T 33190 / GB/T 38540).

Exit status: 0 when the code is valid; 1 when it is not (the error code is
printed); 2 when the verifier could not be set up (unreadable input, a trust
list or status list that does not verify, a download that failed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing.errors import InvalidInput, VerificationError
from signing.keys import load_public_key_text
from signing.qr import DccTrustList, QrResult, QrVerificationError, verify_qr
from signing.statuslist import StatusListToken, verify_status_list_token, verify_trusted_status_list_token
from signing.trustlist import MAX_TRUST_LIST_BYTES
from signing.truststore import TrustStore

_MAX_STATUS_LIST_BYTES = 8 << 20
_MAX_INPUT_BYTES = 10 << 20
_HTTP_TIMEOUT = 10.0


class _SetupError(Exception):
    """The verifier could not be given what it needs (exit status 2)."""


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def _fetch(location: str, *, limit: int) -> bytes:
    """A file's bytes or a URL's body, refused past `limit` bytes."""
    if _is_url(location):
        # Imported here: a verify of files starts without an HTTP stack.
        from certhub.cli import context
        from storage.egress import BodyRefused, BodyTooLarge, EgressError

        egress = context.settings(follow_demo=False).egress()
        try:
            with egress.client(timeout=(_HTTP_TIMEOUT, _HTTP_TIMEOUT)) as client, client.request(
                    "GET", location) as response:
                if response.status != 200:
                    raise _SetupError(f"{location}: HTTP {response.status}")
                return response.read_bounded(max_bytes=limit)
        except BodyTooLarge:
            raise _SetupError(f"{location}: over {limit} bytes") from None
        except (EgressError, BodyRefused) as error:
            raise _SetupError(f"{location}: {error}") from None
    path = Path(location)
    try:
        if path.stat().st_size > limit:
            raise _SetupError(f"{location}: over {limit} bytes")
        return path.read_bytes()
    except OSError as error:
        raise _SetupError(f"{location}: {error.strerror or error}") from None


def _public_key(value: str):
    """A DER SubjectPublicKeyInfo in base64 or base64url (signing.keys.load_public_key_text)."""
    try:
        return load_public_key_text(value)
    except InvalidInput as error:
        raise _SetupError(f"not a base64 or base64url DER SubjectPublicKeyInfo: {error}") from None


def _claimed_registry(body: bytes) -> str:
    try:
        registry_id = json.loads(body)["payload"]["registry_id"]
    except (ValueError, KeyError, TypeError):
        raise _SetupError("the trust list names no registry") from None
    if not isinstance(registry_id, str):
        raise _SetupError("the trust list names no registry")
    return registry_id


def _trust_store(trust_lists: list[str], root_keys: list[str], now: datetime) -> TrustStore:
    roots = [_public_key(value) for value in root_keys]
    store = TrustStore()
    for location in trust_lists:
        body = _fetch(location, limit=MAX_TRUST_LIST_BYTES)
        registry_id = _claimed_registry(body)
        for root in roots:  # every pinned root may vouch for the lists given on this command line
            store.pin_root(registry_id=registry_id, root_public_key=root)
        try:
            store.add_json(body, now=now)
        except VerificationError as error:
            raise _SetupError(f"trust list {location}: {error.code}: {error}") from None
    return store


def _status_lists(
    locations: list[str], key_values: list[str], store: TrustStore, now: datetime
) -> dict[str, StatusListToken] | None:
    """Each status list, verified with the key the signed trust list names for
    it (purpose `status_list`), or with keys the user pins with
    --status-list-key. The key the registry serves beside the list
    (`<URL>/key`) is never fetched: anyone who can change the list can change it."""
    if not locations:
        return None
    pinned = [_public_key(value) for value in key_values]
    if not pinned and not store.registry_ids:
        raise _SetupError("a status list is checked with the key in the trust list: give --trust-list "
                          "(or pin the key with --status-list-key)")
    tokens: dict[str, StatusListToken] = {}
    for location in locations:
        raw = _fetch(location, limit=_MAX_STATUS_LIST_BYTES)
        try:
            text = raw.decode("ascii").strip()
            token = (verify_status_list_token(text, public_keys=pinned, now=now) if pinned
                     else verify_trusted_status_list_token(text, trust_store=store, now=now))
        except (UnicodeDecodeError, VerificationError) as error:
            raise _SetupError(f"status list {location}: {getattr(error, 'code', 'malformed')}: {error}") from None
        tokens[token.subject] = token
    return tokens


def _input(value: str) -> str | bytes:
    """QR text as given, or the content of an image (or text) file."""
    path = Path(value)
    if len(value) < 4096 and not value.startswith(("EL1:", "HC1:")) and path.is_file():
        return _fetch(value, limit=_MAX_INPUT_BYTES)
    return value


def _dcc_trust(paths: list[str]) -> DccTrustList | None:
    if not paths:
        return None
    trust = DccTrustList()
    for location in paths:
        raw = _fetch(location, limit=64 * 1024)
        try:
            der = x509.load_pem_x509_certificate(raw).public_bytes(Encoding.DER) if raw.startswith(b"-----") else raw
            trust.add_certificate(der)
        except (ValueError, InvalidInput) as error:
            raise _SetupError(f"DCC certificate {location}: {error}") from None
    return trust


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _SetupError(f"--now {value!r} is not an ISO 8601 time") from None
    if not 1970 <= moment.year <= 9998:  # the verifier adds and subtracts clock skew from it
        raise _SetupError(f"--now {value!r} is outside the years 1970 to 9998")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _describe(result: QrResult) -> list[str]:
    lines = [f"VALID {result.kind} QR code", f"  issuer: {result.issuer}", f"  signed by: kid {result.kid}"]
    if result.summary is not None:
        s = result.summary
        until = s.valid_until.isoformat() if s.valid_until else "no end"
        lines += [
            f"  licence: {s.identifier} (type {s.type_code})",
            f"  holder: {s.holder_name_masked}; issuer code: {s.issuer_code}",
            f"  valid: {s.valid_from.isoformat()} to {until}",
        ]
        status = "not checked (no status list given)" if result.status is None else result.status
        if result.status_list_age is not None:
            status += f" (status list {int(result.status_list_age.total_seconds())} s old)"
        lines.append(f"  status: {status}")
    if result.presentation is not None:
        p = result.presentation
        lines += [f"  presentation: {p.presentation_id} ({p.disclosure} disclosure)",
                  f"  licences: {', '.join(p.licence_identifiers)}"]
    if result.issued_at is not None:
        lines.append(f"  issued at: {result.issued_at.isoformat()}")
    lines.append(f"  expires at: {result.expires_at.isoformat() if result.expires_at else 'never'}")
    return lines


_MAX_OFD_BYTES = 32 << 20


def _is_ofd(value: str) -> bool:
    return len(value) < 4096 and value.lower().endswith(".ofd") and Path(value).is_file()


def _verify_ofd_file(location: str, *, trust_lists: list[str], root_keys: list[str], now: str | None,
                     as_json: bool) -> None:
    """Check every 签章 of an OFD file: protected files' SM3 digests, the
    SES_Signature's SM2 signature, the seal and its maker (signing.ofd.verify);
    with --trust-list, that the trust list vouches for the seal and its key
    when the document was signed (signing.ofd.trust)."""
    from signing.ofd import verify_ofd  # only this command needs the OFD reader
    from signing.ofd.trust import trusted_seal_key

    try:
        if trust_lists and not root_keys:
            raise _SetupError("--trust-list needs --root-key (the pinned trust-root public key)")
        store = _trust_store(trust_lists, root_keys, _parse_now(now)) if trust_lists else None
        data = _fetch(location, limit=_MAX_OFD_BYTES)
    except _SetupError as error:
        _report_setup(str(error), as_json=as_json)
        raise typer.Exit(2) from None
    try:
        report = verify_ofd(data)
        trusted_by = [trusted_seal_key(s, trust_store=store).registry_id if store is not None else None
                      for s in report.signatures]
    except VerificationError as error:
        if as_json:
            typer.echo(json.dumps({"valid": False, "error": error.code, "message": str(error)}, ensure_ascii=False))
        else:
            typer.echo(f"INVALID OFD: {error.code}: {error}")
        raise typer.Exit(1) from None
    signatures = [
        {"id": s.signature_id, "seal": s.seal_name, "es_id": s.es_id, "signer": s.signer, "maker": s.maker,
         "signed_at": s.signed_at.isoformat(), "page": s.page_ref, "protected_files": s.protected_files,
         "trusted_by": registry}
        for s, registry in zip(report.signatures, trusted_by, strict=True)
    ]
    if as_json:
        typer.echo(json.dumps({"valid": True, "kind": "ofd", "files": report.files, "signatures": signatures},
                              ensure_ascii=False))
        return
    lines = [f"VALID OFD document ({report.files} files, {len(signatures)} 签章)"]
    for s in signatures:
        lines += [f"  签章 {s['id']}: seal {s['seal']} (esID {s['es_id']})", f"    signer: {s['signer']}",
                  f"    seal maker: {s['maker']}", f"    signed at: {s['signed_at']}; page {s['page']}; "
                  f"{s['protected_files']} files protected",
                  f"    trust: {'seal and key in the trust list of ' + s['trusted_by'] if s['trusted_by'] else 'not checked (no --trust-list given)'}"]
    typer.echo("\n".join(lines))


def verify(
    code: str = typer.Argument(..., metavar="TEXT|IMAGE|FILE.ofd",
                               help="QR text (EL1:... or HC1:...), a PNG/JPEG file, or an OFD document"),
    trust_list: list[str] = typer.Option([], "--trust-list", help="Signed trust list: file or URL (repeatable)"),
    root_key: list[str] = typer.Option([], "--root-key", help="Pinned trust-root public key, base64 DER SPKI (repeatable)"),
    status_list: list[str] = typer.Option([], "--status-list", help="Status list token: file or URL (repeatable)"),
    status_list_key: list[str] = typer.Option(
        [], "--status-list-key",
        help="Pin the status list signing key, base64 DER SPKI (default: the trust list's status-list key)"),
    dcc_cert: list[str] = typer.Option([], "--dcc-cert", help="EU DCC signer certificate, DER or PEM (repeatable)"),
    now: str | None = typer.Option(None, "--now", help="Verify as of this ISO 8601 time (default: now)"),
    skew: int = typer.Option(30, "--skew", min=0, max=3600, help="Allowed clock skew in seconds"),
    max_status_age: int | None = typer.Option(None, "--max-status-age", min=1, help="Refuse older status lists (s)"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Verify a QR code offline (signature, validity, signer in the trust list, status), or an OFD's 签章."""
    if _is_ofd(code):
        _verify_ofd_file(code, trust_lists=trust_list, root_keys=root_key, now=now, as_json=as_json)
        return
    try:
        moment = _parse_now(now)
        if trust_list and not root_key:
            raise _SetupError("--trust-list needs --root-key (the pinned trust-root public key)")
        store = _trust_store(trust_list, root_key, moment)
        lists = _status_lists(status_list, status_list_key, store, moment)
        data = _input(code)
        dcc = _dcc_trust(dcc_cert)
    except _SetupError as error:
        _report_setup(str(error), as_json=as_json)
        raise typer.Exit(2) from None
    try:
        result = verify_qr(
            data, trust_store=store, now=moment, skew=timedelta(seconds=skew), status_lists=lists,
            max_status_age=None if max_status_age is None else timedelta(seconds=max_status_age), dcc_trust=dcc,
        )
    except QrVerificationError as error:
        if as_json:
            typer.echo(json.dumps({"valid": False, "error": error.code, "message": str(error)}, ensure_ascii=False))
        else:
            typer.echo(f"INVALID: {error.code}: {error}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False) if as_json else "\n".join(_describe(result)))


def _report_setup(message: str, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"valid": False, "error": "setup_failed", "message": message}, ensure_ascii=False))
    else:
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
