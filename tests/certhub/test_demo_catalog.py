"""The shipped demo catalog: realistic, complete enough to show every flow."""

from collections import Counter

import pytest

from catalog.service import document
from certhub.demo.seed import CATALOG_FILE

pytestmark = pytest.mark.slow  # loads the whole demo catalog


@pytest.fixture(scope="module")
def demo():
    return document.parse_yaml(CATALOG_FILE.read_bytes())


def test_departments_span_the_levels(demo):
    levels = Counter(d.level.value for d in demo.departments)
    assert len(demo.departments) >= 10
    assert {"province", "city", "county"} <= set(levels)


def test_licence_types_include_the_everyday_ones(demo):
    names = {t.name for t in demo.licence_types}
    assert len(names) >= 15
    for name in ["居民身份证", "营业执照", "食品经营许可证", "不动产权证书", "结婚证", "出生医学证明", "社会保障卡",
                 "机动车驾驶证", "道路运输证", "城镇污水排入排水管网许可证", "动物检疫合格证明",
                 "建筑施工企业安全生产许可证", "增值电信业务经营许可证", "无犯罪记录证明", "住房公积金缴存证明"]:
        assert name in names


def test_data_items_cover_every_sharing_attribute(demo):
    assert len(demo.data_items) >= 8
    assert {i.sharing.attribute for i in demo.data_items} == {"unconditional", "conditional", "not_shared"}


def test_matters_include_the_one_thing_services(demo):
    names = {m.name for m in demo.matters}
    assert len(demo.matters) >= 6
    for expected in ["开餐馆一件事", "新生儿出生一件事", "人才引进住房申报"]:
        assert expected in names
    assert any("不动产" in n for n in names)
    kinds = {m.satisfied_by.kind for matter in demo.matters for m in matter.materials}
    assert kinds == {"licence_type", "data_item", "commitment", "paper"}


def test_demo_catalog_loads(db_session, demo):
    report = document.load(session=db_session, document=demo)
    assert report.created_or_changed["licence_types"] == len(demo.licence_types)
