"""Where the workers of `certhub serve` write their metrics (prometheus-client's
multiprocess mode). Apart from certhub.metrics because it must run before
prometheus-client is imported: the library reads the variable at import."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """A fresh, empty directory for the workers' metric files, named in the
    environment the workers inherit (a previous run's files would be counted)."""
    directory = (data_dir / "prometheus").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory
