"""Where the workers of `certhub serve` write their metrics (prometheus-client's
multiprocess mode). Apart from certhub.metrics because it must run before
prometheus-client is imported: the library reads the variable at import."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_metrics(data_dir: Path) -> Iterator[Path]:
    """A fresh, empty directory for the workers' metric files (a previous
    run's files would be counted again), named in the environment the
    workers inherit while the server runs; the variable as it was after."""
    directory = (data_dir / "prometheus").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    before = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        if before is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = before
