"""Checking a signed PDF with two verifiers that did not make it: poppler's
`pdfsig` (NSS), told to trust the registry's document root, and pyHanko's
validator with that root as its only trust anchor."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

needs_pdfsig = pytest.mark.skipif(
    shutil.which("pdfsig") is None or shutil.which("certutil") is None,
    reason="poppler-utils and libnss3-tools are installed by .ci/run",
)


def pyhanko_status(pdf: bytes, *, root: bytes, tsa_root: bytes | None = None):
    (signature,) = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root)])
    ts_context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(tsa_root)]) if tsa_root else None
    return validate_pdf_signature(signature, context, ts_validation_context=ts_context)


def pdfsig_report(pdf: bytes, *, root: bytes, tmp_path: Path) -> str:
    nss = tmp_path / "nss"
    if not nss.exists():
        nss.mkdir()
        subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{nss}"], check=True, capture_output=True)
        (tmp_path / "root.der").write_bytes(root)
        # CT,C,C: a trusted CA for TLS, S/MIME (how NSS checks a PDF signer) and code signing.
        subprocess.run(["certutil", "-A", "-n", "certhub document root", "-t", "CT,C,C",
                        "-i", str(tmp_path / "root.der"), "-d", f"sql:{nss}"], check=True, capture_output=True)
    document = tmp_path / "document.pdf"
    document.write_bytes(pdf)
    # No -no-ocsp: poppler 22.12 then reports "Unknown issue with Certificate" for any chain. Nothing is
    # fetched anyway: the registry's certificates name no OCSP responder (no AIA).
    result = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(document)],
                            capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr
