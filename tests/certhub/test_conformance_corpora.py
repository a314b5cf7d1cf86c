"""The conformance suites read their corpora from CERTHUB_CONFORMANCE_DIR:
on a fresh clone (no such directory, no variable) they are skipped, saying
which variable to set, instead of failing on a path outside the clone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the conformance suites in another pytest process

REPO = Path(__file__).resolve().parents[2]
SUITES = ["tests/signing/qr/test_hcert_corpus.py", "tests/signing/test_gbt38540.py", "tests/signing/test_cli_seal.py"]


def test_without_the_variable_the_conformance_suites_skip_naming_it():
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("CERTHUB_CONFORMANCE_DIR", "CERTHUB_TEST_DATABASE_URL", "CERTHUB_TEST_REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-n", "0", *SUITES],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all("CERTHUB_CONFORMANCE_DIR" in line for line in skipped), result.stdout[-3000:]
    # The suites' other tests (generated seals, a seal made here) still run.
    assert " passed" in result.stdout
