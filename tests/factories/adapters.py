"""The adapters tests' catalog: departments of the province, cities and a
county, data items bound to HTTP and SQL adapters, and identity codes to
look up."""

from __future__ import annotations

from identity.codes import citizen_id_check_character
from tests.factories.catalog import uscc

DATA_BUREAU = uscc("11350000MB0000010")  # 省大数据局 (province)
PROVINCE_POLICE = uscc("11350000MB0000011")  # 省公安厅: the population dataset's provider
PROVINCE_SAMR = uscc("11350000MB0000012")
FUZHOU = uscc("11350100MB0000013")  # 福州市大数据局 (city 350100)
XIAMEN = uscc("11350200MB0000014")  # 厦门市大数据局 (city 350200)
GULOU = uscc("11350102MB0000015")  # 鼓楼区 (county)

ENTERPRISE_DATA = "301001001/000101"
HOUSEHOLD_DATA = "301001001/000102"
POPULATION_DATA = "301001001/000103"
SECRET_DATA = "301001001/000104"

ENTERPRISE_FIELDS = [
    {"key": "name", "label": "企业名称", "type": "string", "max_length": 100},
    {"key": "status", "label": "登记状态", "type": "enum", "options": ["存续", "注销", "吊销"]},
    {"key": "founded", "label": "成立日期", "type": "date"},
    {"key": "capital", "label": "注册资本(万元)", "type": "number"},
]
HOUSEHOLD_FIELDS = [
    {"key": "name", "label": "姓名", "type": "string", "sensitive": True, "mask": "name"},
    {"key": "born", "label": "出生日期", "type": "date"},
    {"key": "household_region", "label": "户籍地区划", "type": "string"},
]


def person_id(first17: str = "35010219900101123") -> str:
    return first17 + citizen_id_check_character(first17)


COMPANY = uscc("91350100MA0000001")


def _department(code, name, region, level):
    return {"code": code, "name": name, "region": region, "level": level}


def catalog_mapping() -> dict:
    def item(code, name, provider, subject_kind, fields, adapter, sharing=None):
        return {
            "code": code, "name": name, "provider": provider, "subject_kind": subject_kind, "fields": fields,
            "sharing": sharing or {"attribute": "unconditional"}, "update_cycle": "daily", "adapter": adapter,
        }

    return {
        "version": 1,
        "departments": [
            _department(DATA_BUREAU, "福建省大数据管理局", "350000", "province"),
            _department(PROVINCE_POLICE, "福建省公安厅", "350000", "province"),
            _department(PROVINCE_SAMR, "福建省市场监督管理局", "350000", "province"),
            _department(FUZHOU, "福州市大数据管理委员会", "350100", "city"),
            _department(XIAMEN, "厦门市大数据管理局", "350200", "city"),
            _department(GULOU, "鼓楼区数据管理局", "350102", "county"),
        ],
        "data_items": [
            item(ENTERPRISE_DATA, "企业登记信息", PROVINCE_SAMR, "organisation", ENTERPRISE_FIELDS,
                 {"kind": "http", "name": "samr_enterprise"}),
            item(HOUSEHOLD_DATA, "户籍信息", PROVINCE_POLICE, "natural_person", HOUSEHOLD_FIELDS,
                 {"kind": "sql", "name": "household"}),
            item(POPULATION_DATA, "人口基础信息", PROVINCE_POLICE, "natural_person", HOUSEHOLD_FIELDS,
                 {"kind": "sql", "name": "population"}),
            item(SECRET_DATA, "涉密人口信息", PROVINCE_POLICE, "natural_person", HOUSEHOLD_FIELDS,
                 {"kind": "sql", "name": "population"},
                 sharing={"attribute": "not_shared", "reason": "《保守国家秘密法》"}),
        ],
    }
