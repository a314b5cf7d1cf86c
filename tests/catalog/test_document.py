import pytest
import yaml
from sqlalchemy import func, select

from catalog.errors import DuplicateEntry, InvalidCatalog, UnknownReference
from catalog.models import Department, LicenceType
from catalog.service import document, licence_types, matters
from tests.factories.catalog import (
    BUSINESS_LICENCE,
    CITY_SAMR,
    COUNTY_CENTRE,
    FOOD_LICENCE,
    MATTER,
    catalog_mapping,
    uscc,
)


def _load(session, mapping):
    return document.load(session=session, document=document.parse_mapping(mapping))


def test_load_creates_everything(db_session):
    report = _load(db_session, catalog_mapping())
    assert report.created_or_changed == {"departments": 3, "licence_types": 2, "data_items": 1, "matters": 1}
    matter = matters.get_or_raise(session=db_session, code=MATTER)
    assert [m.satisfied_kind for m in matter.materials] == ["licence_type", "data_item", "commitment", "paper"]
    assert matter.situations[0].material_keys == ["business_licence", "enterprise", "fire"]
    assert licence_types.may_issue(session=db_session, type_code=BUSINESS_LICENCE, department_code=CITY_SAMR)
    assert not licence_types.may_issue(session=db_session, type_code=BUSINESS_LICENCE, department_code=COUNTY_CENTRE)


def test_loading_the_same_file_twice_changes_nothing(db_session):
    _load(db_session, catalog_mapping())
    before = document.to_yaml(document.export(session=db_session))
    report = _load(db_session, catalog_mapping())
    assert not report.changed
    assert report.unchanged == {"departments": 3, "licence_types": 2, "data_items": 1, "matters": 1}
    assert document.to_yaml(document.export(session=db_session)) == before
    assert db_session.scalar(select(func.count()).select_from(LicenceType)) == 2


def test_export_round_trips(db_session):
    _load(db_session, catalog_mapping())
    exported = document.to_yaml(document.export(session=db_session))
    reparsed = document.parse_yaml(exported)
    assert not document.load(session=db_session, document=reparsed).changed
    assert {d["code"] for d in yaml.safe_load(exported)["departments"]} == {d["code"] for d in catalog_mapping()["departments"]}


def test_changing_a_schema_creates_a_new_version_and_keeps_the_old(db_session):
    _load(db_session, catalog_mapping())
    changed = catalog_mapping()
    changed["licence_types"][0]["fields"].append({"key": "capital", "label": "注册资本", "type": "number"})
    _load(db_session, changed)
    versions = licence_types.versions(session=db_session, code=BUSINESS_LICENCE)
    assert [(v.version, v.is_current) for v in versions] == [(1, False), (2, True)]
    assert [f["key"] for f in versions[0].fields] == ["uscc", "name", "legal_rep", "kind", "founded"]
    assert versions[1].fields[-1]["key"] == "capital"


def test_a_broken_reference_is_named(db_session):
    broken = catalog_mapping()
    missing = uscc("11350100MB9999999")
    broken["licence_types"][0]["issuers"] = [missing]
    with pytest.raises(UnknownReference, match=f"licence type {BUSINESS_LICENCE} \\(营业执照\\): issuer {missing}"):
        _load(db_session, broken)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["departments"][1].update(parent=uscc("11000000MB0000009")), "parent .* is not a known department"),
        (lambda m: m["licence_types"][0].update(dependents=["11100000MB00000043999"]), "not a valid|check character|dependent"),
        (lambda m: m["data_items"][0].update(provider=uscc("11350100MB7777777")), "provider .* is not a known department"),
        (lambda m: m["matters"][0]["materials"][0]["satisfied_by"].update(code=CITY_SAMR + "999"), "names licence type"),
        (lambda m: m["matters"][0]["materials"][1]["satisfied_by"].update(code="301001001/999999"), "names data item"),
        (lambda m: m["matters"][0]["situations"][0]["materials"].append("nope"), "unknown material 'nope'"),
    ],
)
def test_unknown_references_fail_with_a_message(db_session, mutate, message):
    broken = catalog_mapping()
    mutate(broken)
    with pytest.raises(InvalidCatalog, match=message):
        _load(db_session, broken)


def test_a_dependent_type_must_exist(db_session):
    broken = catalog_mapping()
    broken["licence_types"][0]["dependents"] = [uscc("11100000MB0000005") + "001"]
    with pytest.raises(UnknownReference, match="dependent type"):
        _load(db_session, broken)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["departments"][0].update(code="11350102MB0000003X"), "check character"),
        (lambda m: m["departments"][0].update(region="35010"), "six digits"),
        (lambda m: m["departments"][0].update(level="village"), "level"),
        (lambda m: m["licence_types"][0]["fields"][0].update(type="colour"), "type"),
        (lambda m: m["licence_types"][0]["fields"][3].pop("options"), "needs options"),
        (lambda m: m["licence_types"][0]["fields"][2].update(mask="none"), "needs a mask rule"),
        (lambda m: m["licence_types"][0]["fields"].append(dict(m["licence_types"][0]["fields"][0])), "appears twice"),
        (lambda m: m["licence_types"][1].update(validity={"kind": "years"}), "needs a value"),
        (lambda m: m["data_items"][0].update(code="301001001-000001"), "GB/T 21063"),
        (lambda m: m["data_items"][0].update(sharing={"attribute": "not_shared"}), "reason"),
        (lambda m: m["matters"][0]["materials"][2]["satisfied_by"].pop("template"), "template"),
        (lambda m: m["matters"][0].update(colour="red"), "Extra inputs"),
    ],
)
def test_schema_errors_name_the_entry(db_session, mutate, message):
    broken = catalog_mapping()
    mutate(broken)
    with pytest.raises(InvalidCatalog, match=message):
        _load(db_session, broken)


def test_schema_error_location_names_the_code():
    broken = catalog_mapping()
    broken["licence_types"][1]["fields"][0]["type"] = "colour"
    with pytest.raises(InvalidCatalog, match=rf"licence_types\[1\]\({FOOD_LICENCE}\)\.fields\[0\]\(operator\)\.type"):
        document.parse_mapping(broken)


def test_duplicate_codes_are_refused(db_session):
    broken = catalog_mapping()
    broken["departments"].append(dict(broken["departments"][1]))
    with pytest.raises(DuplicateEntry, match="appears more than once"):
        _load(db_session, broken)


def test_parent_cycles_are_refused(db_session):
    broken = catalog_mapping()
    broken["departments"][2]["parent"] = broken["departments"][0]["code"]  # city -> county -> city
    with pytest.raises(InvalidCatalog, match="loop|lower level"):
        _load(db_session, broken)


def test_a_failed_load_leaves_nothing_behind(session_factory):
    broken = catalog_mapping()
    broken["matters"][0]["department"] = uscc("11350100MB5555555")
    session = session_factory()
    with pytest.raises(UnknownReference):
        with session.begin():
            _load(session, broken)
    assert session.scalar(select(func.count()).select_from(Department)) == 0


def test_invalid_yaml_is_refused():
    with pytest.raises(InvalidCatalog, match="not valid YAML"):
        document.parse_yaml("departments: [unclosed")
    with pytest.raises(InvalidCatalog, match="must be a mapping"):
        document.parse_yaml("- a\n- b\n")
