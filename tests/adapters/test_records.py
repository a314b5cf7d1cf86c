"""Field-type checks of provider records against the catalog."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from adapters.errors import InvalidData, InvalidSubject
from adapters.sources.records import parse_fields, validate_records
from adapters.sources.subjects import mask_subject, validate_subject
from tests.factories.adapters import COMPANY, person_id

FIELDS = parse_fields([
    {"key": "s", "label": "s", "type": "string", "max_length": 3},
    {"key": "d", "label": "d", "type": "date"},
    {"key": "n", "label": "n", "type": "number"},
    {"key": "e", "label": "e", "type": "enum", "options": ["甲", "乙"]},
    {"key": "i", "label": "i", "type": "image"},
])


def test_well_typed_values_are_normalised():
    (record,) = validate_records(
        [{"s": "abc", "d": date(2020, 2, 29), "n": Decimal("12.50"), "e": "乙", "i": "aGk="}], fields=FIELDS, binding="b"
    )
    assert record == {"s": "abc", "d": "2020-02-29", "n": 12.5, "e": "乙", "i": "aGk="}
    assert validate_records([{"n": Decimal("7")}], fields=FIELDS, binding="b")[0]["n"] == 7
    assert validate_records([{"s": "a"}], fields=FIELDS, binding="b") == [{**dict.fromkeys("sdnei"), "s": "a"}]


def test_a_record_with_no_value_in_any_field_is_refused():
    # What a binding whose paths miss the provider's record yields: nothing, which must not read as an answer.
    for empty in ({}, dict.fromkeys("sdnei")):
        with pytest.raises(InvalidData, match="record 1 has none of the mapped fields"):
            validate_records([{"s": "a"}, empty], fields=FIELDS, binding="b")


@pytest.mark.parametrize(
    "bad",
    [{"s": 12}, {"s": "abcd"}, {"d": datetime(2020, 1, 1, 12)}, {"d": "20200101"}, {"n": float("nan")},
     {"n": "1"}, {"n": False}, {"e": "丙"}, {"i": "not base64!"}, {"s": ["a"]}],
)
def test_mis_typed_values_are_refused(bad):
    with pytest.raises(InvalidData):
        validate_records([bad], fields=FIELDS, binding="b")


def test_subjects_are_checked_by_kind_and_masked():
    assert validate_subject(person_id(), subject_kind="natural_person") == person_id()
    assert validate_subject(COMPANY, subject_kind="organisation") == COMPANY
    wrong_check = person_id()[:17] + ("0" if person_id()[17] != "0" else "1")
    for subject, kind in ((wrong_check, "natural_person"), (COMPANY, "natural_person"), (person_id(), "organisation")):
        with pytest.raises(InvalidSubject) as caught:
            validate_subject(subject, subject_kind=kind)
        assert subject not in str(caught.value)
    assert mask_subject("350102199001011234") == "3501**********1234"
