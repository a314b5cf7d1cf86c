"""The mapping file: strict validation with messages that say what to fix,
binding to the licence type and the source's columns, and row conversion
with per-row problems a clerk can act on (personal data masked)."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal

import pytest
import yaml

from adapters.imports import ErrorReport, InvalidMapping, RowMapper, default_mapping, load_mapping
from adapters.imports.mapping import MappedRow, parse_mapping
from adapters.imports.readers import SourceRow
from catalog.models import LicenceType

TYPE_CODE = "11100000MB00000040001"[:21]
BUSINESS = LicenceType(
    code=TYPE_CODE, version=1, name="营业执照", holder_kind="organisation", validity={"kind": "permanent"},
    fields=[
        {"key": "uscc", "label": "统一社会信用代码", "type": "string", "required": True, "max_length": 18},
        {"key": "name", "label": "名称", "type": "string", "required": True},
        {"key": "legal_rep", "label": "法定代表人", "type": "string", "sensitive": True, "mask": "name"},
        {"key": "kind", "label": "类型", "type": "enum", "options": ["有限责任公司", "个体工商户"]},
        {"key": "founded", "label": "成立日期", "type": "date"},
        {"key": "capital", "label": "注册资本", "type": "number"},
    ],
)
PERMIT = LicenceType(
    code=TYPE_CODE[:-1] + "3", version=2, name="居住证", holder_kind="natural_person", validity={"kind": "given"},
    fields=[{"key": "address", "label": "居住地址", "type": "string", "required": True},
            {"key": "born", "label": "出生日期", "type": "date", "sensitive": True, "mask": "full"}],
)
COLUMNS = ("reg_no", "qymc", "tyshxydm", "fddbr", "qylx", "clrq", "zczb")


def mapping(**overrides) -> dict:
    data = {
        "version": 1,
        "source": {"system": "fz-samr-legacy", "key": ["reg_no"]},
        "holder": {"name": "qymc", "code": {"column": "tyshxydm", "transforms": ["strip", "upper"]},
                   "code_type": {"value": "001"}},
        "face": {
            "uscc": {"column": "tyshxydm", "transforms": ["remove_spaces", "halfwidth", "upper"]},
            "name": "qymc", "legal_rep": "fddbr",
            "kind": {"column": "qylx", "map": {"1": "有限责任公司", "2": "个体工商户"}},
            "founded": {"column": "clrq", "date_format": ["%Y%m%d", "%Y-%m-%d"]},
            "capital": "zczb",
        },
    }
    data.update(overrides)
    return data


def mapper(data=None, *, licence_type=BUSINESS, columns=COLUMNS) -> RowMapper:
    return RowMapper(parse_mapping(data or mapping()), licence_type=licence_type, columns=columns)


def source(row=2, **values) -> SourceRow:
    base = {"reg_no": "350100000012345", "qymc": " 福州示例餐饮有限公司 ", "tyshxydm": "91350100ma0000001x",
            "fddbr": "张三丰", "qylx": "1", "clrq": "20200501", "zczb": "1,500.5"}
    base.update(values)
    return SourceRow(ordinal=row - 1, row=row, values=base)


def test_a_row_becomes_typed_licence_fields():
    mapped = mapper().map(source())
    assert isinstance(mapped, MappedRow)
    assert (mapped.source_key, mapped.holder_name, mapped.holder_code, mapped.holder_code_type) == (
        "350100000012345", "福州示例餐饮有限公司", "91350100MA0000001X", "001")
    assert mapped.face == {"uscc": "91350100MA0000001X", "name": "福州示例餐饮有限公司", "legal_rep": "张三丰",
                           "kind": "有限责任公司", "founded": "2020-05-01", "capital": 1500.5}
    assert (mapped.valid_from, mapped.valid_until) == (None, None)


def test_spreadsheet_and_database_values_are_understood():
    row = source(clrq=datetime(2019, 3, 4, 0, 0), zczb=Decimal("200.00"), tyshxydm="９１３５０１００ＭＡ００００００１Ｘ")
    mapped = mapper().map(row)
    assert mapped.face["founded"] == "2019-03-04" and mapped.face["capital"] == 200
    assert mapped.face["uscc"] == "91350100MA0000001X"
    assert mapper().map(source(qylx="", clrq="  ", zczb=None)).face.keys() == {"uscc", "name", "legal_rep"}


@pytest.mark.parametrize(
    ("values", "field", "code", "fragment"),
    [
        ({"clrq": "2020-13-45"}, "face.founded", "bad_date", "'2020-13-45' is not a date of the form YYYYMMDD or YYYY-MM-DD"),
        ({"zczb": "五百万"}, "face.capital", "bad_number", "is not a number"),
        ({"qylx": "9"}, "face.kind", "unmapped_value", "'9' is not one of the mapped source values"),
        ({"reg_no": " "}, "source_key", "missing_key", "the source key column 'reg_no' is empty"),
    ],
)
def test_a_bad_value_is_a_problem_naming_row_field_and_column(values, field, code, fragment):
    problems = mapper().map(source(row=17, **values))
    assert isinstance(problems, list) and len(problems) == 1
    problem = problems[0]
    assert (problem.row, problem.field, problem.code) == (17, field, code)
    assert fragment in problem.message


def test_an_enum_value_without_a_map_must_be_an_option_and_sensitive_values_stay_masked():
    data = mapping()
    data["face"]["kind"] = "qylx"
    problems = mapper(data).map(source(qylx="合资企业"))
    assert problems[0].message == "类型 (face.kind): '合资企业' is not one of 有限责任公司, 个体工商户"
    permit_mapping = {
        "version": 1, "source": {"system": "jzz", "key": "id"},
        "holder": {"name": "xm", "code": "sfzh", "code_type": {"value": "111"}},
        "valid_from": {"column": "qsrq", "date_format": "%Y%m%d"}, "valid_until": "jzrq",
        "face": {"address": "dz", "born": "csrq"},
    }
    permit = mapper(permit_mapping, licence_type=PERMIT, columns=("id", "xm", "sfzh", "qsrq", "jzrq", "dz", "csrq"))
    row = SourceRow(ordinal=1, row=2, values={"id": "1", "xm": "张三", "sfzh": "350102199001011234", "qsrq": "2025-01-01",
                                              "jzrq": "2028-01-01", "dz": "福州", "csrq": "1990-13-01"})
    problems = permit.map(row)
    assert [p.field for p in problems] == ["valid_from", "face.born"]
    assert "1990" not in problems[1].message and "'**********' is not a date" in problems[1].message
    row = SourceRow(ordinal=1, row=2, values={**row.values, "csrq": "1990-01-01"})
    mapped = permit.map(SourceRow(ordinal=1, row=2, values={**row.values, "qsrq": "20250101"}))
    assert mapped.face == {"address": "福州", "born": "1990-01-01"}
    assert (mapped.valid_from, mapped.valid_until) == (date(2025, 1, 1), date(2028, 1, 1))


def test_several_problems_of_one_row_are_all_reported():
    problems = mapper().map(source(clrq="x", zczb="y"))
    assert [p.field for p in problems] == ["face.founded", "face.capital"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "version"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"source": {"system": "has space", "key": "reg_no"}}, "source.system"),
        ({"source": {"system": "s", "key": []}}, "source.key"),
        ({"holder": {"name": "qymc", "code": "tyshxydm"}}, "holder.code_type: Field required"),
        ({"holder": {"name": {"column": "a", "value": "b"}, "code": "x", "code_type": "y"}}, "exactly one of column"),
        ({"face": {"uscc": {"column": "a", "date_format": "YYYYMMDD"}}}, "has no strftime directive"),
        ({"face": {"uscc": {"column": "a", "transforms": ["shout"]}}}, "transforms"),
    ],
)
def test_malformed_mapping_files_are_refused_with_the_place(change, message):
    with pytest.raises(InvalidMapping, match=message):
        parse_mapping(mapping(**change))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["face"].update(colour="x"), "face.colour: 营业执照 has no such field"),
        (lambda m: m["face"].pop("uscc"), r"face.uscc \(统一社会信用代码\) is required by 营业执照 but not mapped"),
        (lambda m: m["face"].update(name="missing_column"), "face.name: column 'missing_column' is not in the source"),
        (lambda m: m["source"].update(key=["nope"]), "source.key: column 'nope' is not in the source"),
        (lambda m: m["face"]["kind"]["map"].update({"3": "合伙企业"}), "map gives '合伙企业'"),
        (lambda m: m["face"].update(name={"column": "qymc", "date_format": "%Y"}), "date_format is only for date"),
        (lambda m: m["holder"].update(code_type={"value": "111"}), "code type 001"),
        (lambda m: m.update(valid_until="clrq"), "the end date is computed"),
        (lambda m: m["face"].update(capital={"value": "lots"}), "the constant value is refused"),
    ],
)
def test_mappings_that_do_not_fit_the_type_or_the_source_are_refused(edit, message):
    data = mapping()
    edit(data)
    with pytest.raises(InvalidMapping, match=message):
        mapper(data)


def test_a_given_validity_type_needs_both_dates_mapped():
    data = {"version": 1, "source": {"system": "s", "key": "id"},
            "holder": {"name": "xm", "code": "sfzh", "code_type": {"value": "111"}}, "face": {"address": "dz"}}
    with pytest.raises(InvalidMapping, match="map valid_from and valid_until"):
        mapper(data, licence_type=PERMIT, columns=("id", "xm", "sfzh", "dz"))


def test_load_mapping_reads_yaml_and_refuses_bad_files(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(mapping(), allow_unicode=True), encoding="utf-8")
    assert load_mapping(path).source.system == "fz-samr-legacy"
    path.write_text("version: [1", encoding="utf-8")
    with pytest.raises(InvalidMapping, match="not valid YAML"):
        load_mapping(path)
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(InvalidMapping, match="expected a mapping"):
        load_mapping(path)


def test_the_default_mapping_reads_licence_fields_from_the_header():
    columns = ("source_key", "holder_name", "holder_code", "uscc", "name", "founded")
    data = default_mapping(columns=columns, licence_type=BUSINESS, system="bulk-issue")
    row = SourceRow(ordinal=1, row=2, values={"source_key": "K1", "holder_name": "甲公司", "holder_code": "91350100ma0000001x",
                                              "uscc": "91350100MA0000001X", "name": "甲公司", "founded": "2020-05-01"})
    mapped = RowMapper(data, licence_type=BUSINESS, columns=columns).map(row)
    assert (mapped.source_key, mapped.holder_code, mapped.holder_code_type) == ("K1", "91350100MA0000001X", "001")
    assert mapped.face == {"uscc": "91350100MA0000001X", "name": "甲公司", "founded": "2020-05-01"}
    keyless = default_mapping(columns=columns[1:], licence_type=BUSINESS, system="bulk-issue")
    assert keyless.source.key == ["holder_code"]
    with pytest.raises(InvalidMapping, match="column 'colour' is neither a licence column"):
        default_mapping(columns=(*columns, "colour"), licence_type=BUSINESS, system="bulk-issue")


def test_the_error_report_is_a_csv_with_masked_personal_data(tmp_path):
    path = tmp_path / "errors.csv"
    echoed = []
    with ErrorReport(path, echo=echoed.append, echo_limit=1) as report:
        report.add(row=12, source_key="350102199001011234", field="holder.code", column="sfzh",
                   code="invalid_holder", message="holder.code: wrong check character in the citizen ID number")
        report.add(row=13, source_key="K2", field=None, column=None, code="malformed_row", message="bad")
        report.flush()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["row", "source_key", "field", "column", "code", "message"]
    assert lines[1] == ["12", "3501**********1234", "holder.code", "sfzh", "invalid_holder",
                        "holder.code: wrong check character in the citizen ID number"]
    assert lines[2][:2] == ["13", "K2"] and report.count == 2
    assert echoed == ["row 12 (3501**********1234): holder.code: holder.code: wrong check character in the citizen ID number"]
