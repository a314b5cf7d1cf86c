import pytest

from identity.errors import InvalidCode
from identity.operators import validate_operator_id


@pytest.mark.parametrize("value", ["clerk-7", "fj:zhang.san", "A1"])
def test_operator_ids_in_the_safe_alphabet_pass(value):
    assert validate_operator_id(value) == value


@pytest.mark.parametrize("value", ["", "-lead", "a@b", "张三", "a b", "x" * 65, "a\nb"])
def test_other_operator_ids_are_refused(value):
    with pytest.raises(InvalidCode):
        validate_operator_id(value)
