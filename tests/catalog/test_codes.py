import pytest

from catalog import codes
from identity import codes as identity_codes
from identity.errors import InvalidCode


@pytest.mark.parametrize("code", ["11100000000013338W", "11430000006122244L", "11100000MB03271699"])
def test_real_usccs_validate(code):
    assert identity_codes.validate_uscc(code) == code


@pytest.mark.parametrize(
    "code, reason",
    [
        ("11100000000013338X", "check character"),
        ("11100000000013338", "18 characters"),
        ("1110000000001333OW", "outside GB 32100"),
        ("11100000000013338w", "outside GB 32100"),
    ],
)
def test_bad_usccs_are_refused_with_the_reason(code, reason):
    with pytest.raises(InvalidCode, match=reason):
        identity_codes.validate_uscc(code)


def test_licence_type_code_is_uscc_plus_three_digits():
    assert codes.validate_licence_type_code("11100000000013338W001")
    with pytest.raises(InvalidCode, match="3 digits"):
        codes.validate_licence_type_code("11100000000013338W01A")
    with pytest.raises(InvalidCode, match="check character"):
        codes.validate_licence_type_code("11100000000013338X001")


def test_region_codes_and_containment():
    assert codes.region_level("350000") == "province"
    assert codes.region_level("350100") == "city"
    assert codes.region_level("350102") == "county"
    assert codes.region_contains("350100", "350102")
    assert codes.region_contains("350000", "350102")
    assert not codes.region_contains("350100", "350203")
    with pytest.raises(InvalidCode):
        codes.validate_region_code("35010")


@pytest.mark.parametrize("code", ["301001001/000001", "101/000002", "201002/123456"])
def test_resource_codes(code):
    assert codes.validate_resource_code(code) == code


@pytest.mark.parametrize("code", ["401001001/000001", "301001001-000001", "3010010011/000001", "301/00001"])
def test_bad_resource_codes(code):
    with pytest.raises(InvalidCode, match="GB/T 21063"):
        codes.validate_resource_code(code)


@pytest.mark.parametrize(
    "first17, check",
    [("35010219900101123", "8"), ("35010219850505123", "9"), ("11010519900101111", "X")],
)
def test_citizen_id_check_character(first17, check):
    assert identity_codes.citizen_id_check_character(first17) == check
