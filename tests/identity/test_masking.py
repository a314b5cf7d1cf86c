import pytest

from identity.masking import mask_value


@pytest.mark.parametrize(
    "value, rule, expected",
    [
        ("张三丰", "name", "张*丰"),
        ("张三", "name", "张*"),
        ("欧阳娜娜", "name", "欧**娜"),
        ("350102199001011234", "id_number", "3501**********1234"),
        ("13812345678", "phone", "138****5678"),
        ("福建省福州市鼓楼区五四路1号", "address", "福建省福州市****"),
        ("已婚", "full", "**"),
        ("公开", "none", "公开"),
        (None, "name", None),
        (12, "full", "***"),
    ],
)
def test_mask_rules(value, rule, expected):
    assert mask_value(value, rule) == expected
