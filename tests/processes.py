"""Child processes the tests start (servers, a second certhub)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """Stop it as an operator would (SIGTERM, so it writes its last lines), killed if it does not go in time."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
