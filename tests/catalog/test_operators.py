import pytest

from catalog.errors import InvalidCode
from catalog.operators import required_operator, validate_operator_id


@pytest.mark.parametrize("value", ["clerk-7", "zhang.san@fj", "A1"])
def test_operator_ids_in_the_safe_alphabet_pass(value):
    assert validate_operator_id(value) == value


@pytest.mark.parametrize("value", ["", "-lead", "张三", "a b", "x" * 65, "a\nb"])
def test_other_operator_ids_are_refused(value):
    with pytest.raises(InvalidCode):
        validate_operator_id(value)


def test_missing_header_is_refused_with_its_name():
    with pytest.raises(InvalidCode, match="X-Operator-Id"):
        required_operator(None)
