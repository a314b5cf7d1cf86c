"""The QR world as a fixture (its data: tests.factories.qr)."""

from __future__ import annotations

import pytest

from tests.factories.qr import World


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate()
