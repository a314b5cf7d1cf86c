"""`certhub witness serve` started as a real process on loopback, for the tests."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.adapters.loopback import free_port
from tests.processes import stop_process


@dataclass
class RunningWitness:
    name: str
    url: str
    vkey: str
    state_dir: Path
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def start_witness(directory: Path, name: str, log_key: str, *, through_config: bool = False) -> RunningWitness:
    """A witness named ``name`` following the log of ``log_key`` (given as --log-key, or in a
    --config file), its state under ``directory``."""
    port = free_port()
    slug = name.replace("/", "_")
    state_dir = directory / slug
    stderr_path = directory / f"{slug}.stderr"
    logs = ["--log-key", log_key]
    if through_config:
        config = directory / f"{slug}.logs"
        config.write_text(f"# the logs this witness follows\n{log_key}\n")
        logs = ["--config", str(config)]
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", "from certhub.cli import main; main()", "witness", "serve", "--state-dir",
             str(state_dir), "--name", name, *logs, "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = httpx.get(f"{url}/vkey", timeout=5)
            if answer.status_code == 200:
                return RunningWitness(name, url, answer.text.strip(), state_dir, process)
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"witness {name} did not start: {stderr_path.read_text()}")
        time.sleep(0.1)
