"""The QR world's registry (tests.factories.qr) issues and verifies SD-JWT VCs too."""

from __future__ import annotations

import pytest

from signing.keys import generate_private_key
from tests.factories.qr import World


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate()


@pytest.fixture(scope="module")
def holder_key():
    return generate_private_key()
