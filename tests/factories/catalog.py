"""A small valid catalog to build tests on (mutated copies make invalid ones)."""

from __future__ import annotations

import copy

from identity.codes import uscc_check_character


def uscc(first17: str) -> str:
    return first17 + uscc_check_character(first17)


PROVINCE_SAMR = uscc("11350000MB0000001")
CITY_SAMR = uscc("11350100MB0000002")
COUNTY_CENTRE = uscc("11350102MB0000003")
DEFINER = uscc("11100000MB0000004")
BUSINESS_LICENCE = DEFINER + "001"
FOOD_LICENCE = DEFINER + "002"
ENTERPRISE_DATA = "301001001/000001"
MATTER = "35010000000RESTAURANT01"

_BASE = {
    "version": 1,
    "departments": [
        # The county centre comes first on purpose: parents may appear later.
        {"code": COUNTY_CENTRE, "name": "鼓楼区行政服务中心", "region": "350102", "level": "county", "parent": CITY_SAMR},
        {"code": PROVINCE_SAMR, "name": "福建省市场监督管理局", "region": "350000", "level": "province"},
        {"code": CITY_SAMR, "name": "福州市市场监督管理局", "region": "350100", "level": "city", "parent": PROVINCE_SAMR},
    ],
    "licence_types": [
        {
            "code": BUSINESS_LICENCE,
            "name": "营业执照",
            "holder_kind": "organisation",
            "issuers": [CITY_SAMR],
            "fields": [
                {"key": "uscc", "label": "统一社会信用代码", "type": "string", "required": True, "max_length": 18},
                {"key": "name", "label": "名称", "type": "string", "required": True},
                {"key": "legal_rep", "label": "法定代表人", "type": "string", "sensitive": True, "mask": "name"},
                {"key": "kind", "label": "类型", "type": "enum", "options": ["有限责任公司", "个体工商户"]},
                {"key": "founded", "label": "成立日期", "type": "date"},
            ],
            "validity": {"kind": "permanent"},
            "dependents": [FOOD_LICENCE],
        },
        {
            "code": FOOD_LICENCE,
            "name": "食品经营许可证",
            "holder_kind": "organisation",
            "issuers": [CITY_SAMR],
            "fields": [{"key": "operator", "label": "经营者名称", "type": "string", "required": True}],
            "validity": {"kind": "years", "value": 5},
            "layout_template": "certificate",
        },
    ],
    "data_items": [
        {
            "code": ENTERPRISE_DATA,
            "name": "企业登记信息",
            "provider": CITY_SAMR,
            "subject_kind": "organisation",
            "fields": [{"key": "status", "label": "登记状态", "type": "string"}],
            "sharing": {"attribute": "unconditional"},
            "update_cycle": "daily",
            "adapter": {"kind": "http", "name": "samr_enterprise"},
        }
    ],
    "matters": [
        {
            "code": MATTER,
            "name": "开餐馆一件事",
            "department": COUNTY_CENTRE,
            "materials": [
                {"key": "business_licence", "name": "营业执照", "satisfied_by": {"kind": "licence_type", "code": BUSINESS_LICENCE}},
                {"key": "enterprise", "name": "企业登记信息核验", "satisfied_by": {"kind": "data_item", "code": ENTERPRISE_DATA}},
                {"key": "fire", "name": "消防安全承诺", "satisfied_by": {"kind": "commitment", "template": "本单位承诺符合消防安全要求。"}},
                {"key": "lease", "name": "场所租赁合同", "required": False, "satisfied_by": {"kind": "paper"}},
            ],
            "situations": [{"key": "general", "name": "一般情形", "materials": ["business_licence", "enterprise", "fire"]}],
        }
    ],
}


def catalog_mapping() -> dict:
    return copy.deepcopy(_BASE)
