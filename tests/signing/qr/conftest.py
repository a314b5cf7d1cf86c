"""The QR world as a fixture (its data: tests.factories.qr)."""

from __future__ import annotations

import pytest

from signing.keys import generate_private_key
from tests.factories.qr import World


@pytest.fixture(scope="module")
def world() -> World:
    return World(
        root=generate_private_key(), seal_key=generate_private_key(), presentation_key=generate_private_key(),
        status_key=generate_private_key(),
    )
