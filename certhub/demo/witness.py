"""The demo's witness: one `certhub witness serve` child process with its
own key and state under the data directory, so the demo's checkpoints come
cosigned and `certhub audit verify --witness` has something to check.

It is another process on purpose (docs/auditlog.md "Witnesses"): the log
reaches it over HTTP on loopback exactly as it would reach an outside one.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from certhub.settings import LogWitnessSetting, Settings
from storage.egress import DIRECT, BodyRefused, EgressClient, EgressError

STATE_DIR = "witness"
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DemoWitness:
    setting: LogWitnessSetting
    state_dir: Path


def log_verifier_key(config: Settings) -> str:
    """The log's checkpoint key (created now if the demo never published): the witness is told to trust it."""
    from certhub.cli import context
    from exchange.auditlog.checkpoints import get_or_create_signer, log_origin
    from exchange.auditlog.integration import lock_state

    with context.session_scope(config) as session:
        lock_state(session=session)  # as a publication does: never two keys for one origin
        signer = get_or_create_signer(session=session, key_secret=config.secret_bytes(),
                                      origin=log_origin(config.registry_id))
        return signer.verifier.to_key_string()


@contextmanager
def running_witness(config: Settings) -> Iterator[DemoWitness]:
    """Start the witness, wait until it answers, stop it on leaving."""
    from signing.transparency.witness_store import load_or_create_cosigner

    state_dir = (config.data_dir / STATE_DIR).resolve()
    name = f"{urlsplit(config.registry_id).hostname or 'localhost'}/demo-witness"
    # Created here (the child loads the same file), so its vkey is known before it starts.
    vkey = load_or_create_cosigner(state_dir, name=name).verifier.to_key_string()
    port = _free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-c", "from certhub.cli import main; main()", "witness", "serve", "--state-dir",
         str(state_dir), "--name", name, "--log-key", log_verifier_key(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    # uvicorn re-raises the SIGTERM it stopped on once it has shut down; with the
    # default handler that ends this process at once and the witness would outlive
    # the demo. As an exception it unwinds through the ``finally`` below instead.
    previous = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        _wait_until_answering(url, process)
        yield DemoWitness(LogWitnessSetting(name=name, vkey=vkey, url=url), state_dir)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_until_answering(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    with DIRECT.client(timeout=(5.0, 5.0)) as client:
        while not _answers(client, f"{url}/vkey"):
            if process.poll() is not None:
                raise RuntimeError(f"the demo witness exited with status {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the demo witness did not start in time")
            time.sleep(0.1)


def _answers(client: EgressClient, url: str) -> bool:
    try:
        with client.request("GET", url) as response:
            response.read_bounded(max_bytes=1024)
            return response.status == 200
    except (EgressError, BodyRefused):
        return False


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
