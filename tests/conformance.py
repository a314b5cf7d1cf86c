"""External conformance corpora (the EU DCC test data, GB/T 38540 seal
files), read from the directory CERTHUB_CONFORMANCE_DIR names.

A fresh clone has no such directory: without the variable the tests that
need a corpus are skipped, and the skip names the variable. `.ci/run` sets
it to the project's shared conformance folder, so CI always runs them; with
it set, a missing corpus fails rather than skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VARIABLE = "CERTHUB_CONFORMANCE_DIR"
DCC_TESTDATA = "dgc-testdata"
SEAL_FILES = "gbt38540-seals"


def corpus_dir(name: str) -> Path | None:
    """The corpus `name` under the configured directory; None when none is configured."""
    root = os.environ.get(VARIABLE, "").strip()
    return Path(root).resolve() / name if root else None


def skip_reason(name: str) -> str:
    return (f"conformance corpus {name}/ not configured: set {VARIABLE} to the directory holding it "
            "(.ci/run sets it)")


def requires(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(corpus_dir(name) is None, reason=skip_reason(name))


def corpus_file(name: str, relative: str) -> Path:
    """A file of the corpus, for use inside a test: skips the test when no corpus is configured."""
    directory = corpus_dir(name)
    if directory is None:
        pytest.skip(skip_reason(name))
    return directory / relative


def seal_file(name: str) -> Path:
    """A GB/T 38540 conformance seal file ($CERTHUB_CONFORMANCE_DIR/gbt38540-seals); skips without the corpus."""
    return corpus_file(SEAL_FILES, name)
