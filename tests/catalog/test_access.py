"""The authorized-use record: built only valid, immutable, its lists kept as tuples."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.access import MAX_LIST, InvalidUseRecord, UseRecord

GRANTED = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
           "basis": "consent:c-42", "subject_code": "350102199001011234", "matter_code": "350100-0001",
           "purpose": "办理营业执照变更", "case_number": "（2025）闽01号", "request_hash": "ab" * 32}


def _granted(**overrides) -> UseRecord:
    return UseRecord(**{**GRANTED, **overrides})


def test_a_record_keeps_what_it_was_given_with_lists_as_tuples():
    record = _granted(licence_ids=["L-1", "L-2"], data_items=["102/000001"], fields=["姓名", "注册资本"])
    assert (record.licence_ids, record.data_items, record.fields) == (("L-1", "L-2"), ("102/000001",),
                                                                       ("姓名", "注册资本"))
    assert record.result == "granted" and record.reason_code is None
    assert record == _granted(licence_ids=("L-1", "L-2"), data_items=("102/000001",), fields=("姓名", "注册资本"))
    assert hash(record) == hash(dataclasses.replace(record))


def test_a_record_cannot_be_changed_once_built():
    record = _granted()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.purpose = "something else"  # type: ignore[misc]


def test_a_changed_copy_is_checked_like_a_new_record():
    with pytest.raises(InvalidUseRecord, match="reason_code is only for denied"):
        dataclasses.replace(_granted(), reason_code="late")


def test_the_identifying_fields_are_required():
    with pytest.raises(TypeError, match="kind"):
        UseRecord(department_code="11350100MB0000001X", operator_id="clerk-7", basis="issuer")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"kind": "peek"}, "kind"),
        ({"result": "maybe"}, "result"),
        ({"basis": "because"}, "basis"),
        ({"basis": "consent:"}, "basis"),
        ({"department_code": "1" * 19}, "department_code"),
        ({"department_code": 11350100}, "department_code"),
        ({"operator_id": "x" * 65}, "operator_id"),
        ({"operator_id": "clerk 7"}, "operator_id"),
        ({"subject_code": "3" * 33}, "subject_code"),
        ({"matter_code": "m" * 65}, "matter_code"),
        ({"purpose": "x" * 201}, "purpose"),
        ({"purpose": "line\nbreak"}, "control characters"),
        ({"purpose": None}, "purpose is required"),
        ({"purpose": "   "}, "purpose is required"),
        ({"case_number": "c" * 65}, "case_number"),
        ({"request_hash": "AB" * 32}, "request_hash"),
        ({"request_hash": "ab" * 31}, "request_hash"),
        ({"licence_ids": ["ok"] * (MAX_LIST + 1)}, "licence_ids"),
        ({"licence_ids": "L-1"}, "licence_ids"),
        ({"licence_ids": ["bad id"]}, "licence_ids"),
        ({"data_items": ["102 000001"]}, "data_items"),
        ({"fields": ["f" * 65]}, "fields"),
        ({"reason_code": "late"}, "reason_code is only for denied"),
    ],
)
def test_a_record_breaking_a_rule_is_refused_naming_the_field(overrides, message):
    with pytest.raises(InvalidUseRecord, match=message):
        _granted(**overrides)


def test_a_denied_attempt_names_its_reason_and_discloses_nothing():
    denied = _granted(result="denied", reason_code="consent_missing", purpose=None)
    assert denied.reason_code == "consent_missing" and denied.fields == ()
    with pytest.raises(InvalidUseRecord, match="needs a reason_code"):
        _granted(result="denied")
    with pytest.raises(InvalidUseRecord, match="discloses no fields"):
        _granted(result="denied", reason_code="consent_missing", fields=["姓名"])


def test_each_fixed_basis_and_kind_is_accepted():
    for basis in ("holder_presentation", "unconditional_sharing", "supervision_mandate", "holder_self", "issuer"):
        assert _granted(basis=basis).basis == basis
    for kind in ("redemption", "department_query", "layout_download", "annotated_copy_download", "holder_access",
                 "supervision_access"):
        assert _granted(kind=kind).kind == kind
