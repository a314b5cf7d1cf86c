"""`certhub seal`: look inside electronic seal files (GB/T 38540 / GM/T 0031)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from signing.errors import VerificationError
from signing.seals.gbt38540 import (
    MAX_SEAL_FILE_SIZE,
    SealDocument,
    parse_seal_file,
    signer_chain_verifies,
    verify_seal_file,
)

app = typer.Typer(help="Electronic seals", no_args_is_help=True)

EXIT_VERIFICATION_FAILED = 1
EXIT_UNREADABLE = 2


@app.callback()
def _seal() -> None:
    """Electronic seals (电子印章)."""


def _validity(document: SealDocument, now: datetime) -> str:
    """Whether the seal is within its validity now: a verified maker signature
    says nothing about that, and an expired seal seals nothing new."""
    if now > document.valid_to:
        return f"validity:    EXPIRED (ended {document.valid_to.isoformat()})"
    if now < document.valid_from:
        return f"validity:    NOT YET VALID (starts {document.valid_from.isoformat()})"
    return f"validity:    current (until {document.valid_to.isoformat()})"


def _describe(document: SealDocument) -> list[str]:
    standard = "GB/T 38540-2020" if document.format_version == 4 else "GM/T 0031-2014"
    picture = document.picture
    return [
        f"esID:        {document.es_id}",
        f"name:        {document.name}",
        f"type:        {document.seal_type}",
        f"version:     {document.header_version} ({standard} structure, vendor {document.vendor_id})",
        f"created:     {document.created_at.isoformat()}",
        f"valid:       {document.valid_from.isoformat()} .. {document.valid_to.isoformat()}",
        f"picture:     {picture.type}, {picture.size} bytes, {picture.width_mm} x {picture.height_mm} mm",
        f"maker cert:  {document.maker_certificate_info.subject}",
        f"  issuer:    {document.maker_certificate_info.issuer}",
        f"signer certs: {len(document.signer_certificates)}",
        "signer chain: "
        + ("issued by the maker certificate (SM2-with-SM3)" if signer_chain_verifies(document)
           else "not issued by the maker certificate (another CA, or digests only)"),
        f"algorithm:   {document.signature_algorithm_oid}"
        + (" (SM2-with-SM3)" if document.signature_algorithm_oid == "1.2.156.10197.1.501" else ""),
    ]


@app.command("inspect")
def inspect_cmd(file: Path = typer.Argument(..., help="A seal file (.esl), DER encoded.")) -> None:
    """Print a seal's fields, whether it is within its validity now, and check
    the maker's signature.

    Exit status (of the signature check; an expired seal is said, not
    refused): 0 verified, 1 the signature does not verify, 2 the file cannot
    be read or is not a seal.
    """
    try:
        if file.stat().st_size > MAX_SEAL_FILE_SIZE:
            raise VerificationError("too_large", "seal file is over the 1 MiB limit")
        data = file.read_bytes()
        document = parse_seal_file(data)
    except OSError as exc:
        typer.echo(f"{file}: cannot read: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    except VerificationError as exc:
        typer.echo(f"{file}: not a readable seal ({exc.code}): {exc}", err=True)
        raise typer.Exit(EXIT_UNREADABLE) from None
    for line in _describe(document):
        typer.echo(line)
    typer.echo(_validity(document, datetime.now(UTC)))
    try:
        verify_seal_file(data)
    except VerificationError as exc:
        typer.echo(f"verification: FAILED ({exc.code}): {exc}")
        raise typer.Exit(EXIT_VERIFICATION_FAILED) from None
    typer.echo("verification: OK (maker signature verifies)")
