"""Start-up cost of the `certhub` command line against a bare interpreter.

Each command is run as a new process, as a user or a script runs it, and its
CPU time (user + system, from the child's resource usage) and wall time are
taken; the median of the runs is reported. References in the same run: a
bare `python -c pass`, and importing the server app (`certhub.app`), what
every command cost before the CLI loaded each command's module on demand.

usage: python -m bench cli [--runs N]   (default 7; --quick: 3)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

_CLI = "import sys; from certhub.cli import main; sys.argv[0] = 'certhub'; main()"

COMMANDS: dict[str, list[str]] = {
    "python_pass": ["-c", "pass"],
    "import_server_app": ["-c", "import certhub.app"],
    "certhub_help": ["-c", _CLI, "--help"],
    "certhub_verify_help": ["-c", _CLI, "verify", "--help"],
    "certhub_clients_help": ["-c", _CLI, "clients", "--help"],
}


def _measure(arguments: list[str]) -> tuple[float, float]:
    """CPU seconds and wall seconds of one run."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return cpu, wall


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench cli")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args(args)
    runs = 3 if options.quick else options.runs
    figures: dict[str, dict[str, float]] = {}
    for name, arguments in COMMANDS.items():
        _measure(arguments)  # warm the file cache and the bytecode
        samples = [_measure(arguments) for _ in range(runs)]
        figures[name] = {"cpu_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
                         "wall_ms": round(statistics.median(s[1] for s in samples) * 1000, 1)}
    return {"runs": runs, "start_up": figures, "reference": "python_pass and import_server_app"}
