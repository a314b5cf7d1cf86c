"""A SoftHSM2 token of the test run's own: a config and token directory in a
temporary directory, initialised with `softhsm2-util --init-token` (Debian's
`softhsm2`, which .ci/run installs).

SoftHSM2 reads SOFTHSM2_CONF once, when its library is first initialised in a
process, so one token serves the whole run; its keys have random CKA_IDs and
outlive the rolled-back rows that name them, which is harmless.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from signing.hsm import Pkcs11Token, TokenConfig, shared_token

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "certhub-tests"
USER_PIN = "314159"
SO_PIN = "27182818"


def softhsm_available() -> bool:
    return shutil.which("softhsm2-util") is not None and Path(SOFTHSM_MODULE).exists()


def init_token(directory: Path) -> TokenConfig:
    """Write a SoftHSM2 config under `directory`, point SOFTHSM2_CONF at it, initialise the token."""
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", USER_PIN, "--so-pin", SO_PIN],
        check=True, capture_output=True,
    )
    return TokenConfig(module_path=SOFTHSM_MODULE, token_label=TOKEN_LABEL, pin=USER_PIN)


@pytest.fixture(scope="session")
def softhsm_config(tmp_path_factory) -> TokenConfig:
    if not softhsm_available():  # a real token or no test: .ci/run installs softhsm2, README says so
        pytest.fail("softhsm2 is not installed (apt-get install softhsm2)", pytrace=False)
    return init_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="session")
def softhsm_token(softhsm_config) -> Pkcs11Token:
    return shared_token(softhsm_config)
