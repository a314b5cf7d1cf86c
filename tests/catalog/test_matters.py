"""The one existence check of matters (`catalog.service.matters.require_existing`),
which agreements, mandates, consents, queries and plans call."""

from __future__ import annotations

import pytest

from catalog.errors import UnknownMatter
from catalog.service import document, matters
from tests.factories.catalog import MATTER, catalog_mapping


@pytest.fixture
def catalog(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))


@pytest.mark.parametrize("kept", [False, True])
def test_known_matters_pass_and_the_first_unknown_is_named(db_session, catalog, kept):
    matters.require_existing(session=db_session, codes=[MATTER], kept=kept)
    matters.require_existing(session=db_session, codes=[MATTER, MATTER], kept=kept)
    with pytest.raises(UnknownMatter) as unknown:
        matters.require_existing(session=db_session, codes=[MATTER, MATTER + "X", MATTER + "Y"], kept=kept)
    assert unknown.value.matter_code == MATTER + "X"
    assert str(unknown.value) == f"{MATTER + 'X'!r} is not a matter in the catalog"


@pytest.mark.parametrize("code", ["", "9" * 41, 42, None])
def test_what_cannot_be_a_matter_code_is_refused_without_a_lookup(db_session, catalog, code):
    with pytest.raises(UnknownMatter) as unknown:
        matters.require_existing(session=db_session, codes=[MATTER, code], kept=True)
    assert unknown.value.matter_code == code


def test_a_matter_added_is_known_at_once(db_session, catalog):
    with pytest.raises(UnknownMatter):
        matters.require_existing(session=db_session, codes=[MATTER + "X"], kept=True)
    mapping = catalog_mapping()
    mapping["matters"][0]["code"] = MATTER + "X"
    document.load(session=db_session, document=document.parse_mapping(mapping))
    matters.require_existing(session=db_session, codes=[MATTER + "X"], kept=True)
    matters.require_existing(session=db_session, codes=[MATTER + "X"])
