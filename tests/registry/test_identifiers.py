import pytest

from registry.errors import InvalidIdentifier
from registry.identifiers import LicenceIdentifier, iso7064_mod37_36

VALID = [
    "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
    "1.2.156.3005.2.11100000MB03271699022.340100.000000016.001.9",
]


@pytest.mark.parametrize("text", VALID)
def test_published_identifiers_parse_and_round_trip(text):
    identifier = LicenceIdentifier.parse(text)
    assert str(identifier) == text


def test_fields_of_a_parsed_identifier():
    identifier = LicenceIdentifier.parse(VALID[1])
    assert identifier.type_code == "11100000MB03271699022"
    assert identifier.issuer_code == "340100"
    assert identifier.serial == "000000016"
    assert identifier.version == 1
    assert identifier.check == "9"


@pytest.mark.parametrize("text", VALID)
def test_every_wrong_check_character_is_refused(text):
    for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if ch == text[-1]:
            continue
        with pytest.raises(InvalidIdentifier, match="wrong check character"):
            LicenceIdentifier.parse(text[:-1] + ch)


def test_a_single_changed_digit_is_detected():
    text = VALID[0].replace("20230000403", "20230000413")
    with pytest.raises(InvalidIdentifier, match="check character"):
        LicenceIdentifier.parse(text)


@pytest.mark.parametrize(
    "text, message",
    [
        ("1.2.156.3005.3.11100000000013338W011.11430000006122244L.1.001.U", "must start with"),
        ("1.2.156.3005.2.11100000000013338W011.11430000006122244L.001.U", "fields"),
        ("1.2.156.3005.2.11100000000013338X011.11430000006122244L.1.001.U", "check character"),
        ("1.2.156.3005.2.11100000000013338W011.1143000000612224.1.001.U", "neither a USCC"),
        ("1.2.156.3005.2.11100000000013338W011.340100.1.01.U", "three digits"),
        ("1.2.156.3005.2.11100000000013338W011.340100.a1.001.U", "serial"),
    ],
)
def test_malformed_identifiers(text, message):
    with pytest.raises(InvalidIdentifier, match=message):
        LicenceIdentifier.parse(text)


def test_issuing_is_strict_about_the_issuer():
    with pytest.raises(InvalidIdentifier, match="issuer code"):
        LicenceIdentifier.for_issue(type_code="11100000000013338W011", issuer_code="340100", serial="1")
    made = LicenceIdentifier.for_issue(type_code="11100000000013338W011", issuer_code="11430000006122244L", serial="20230000403")
    assert str(made) == VALID[0]
    assert LicenceIdentifier.parse(str(made.with_version(2))).version == 2


def test_check_character_refuses_foreign_characters():
    with pytest.raises(InvalidIdentifier):
        iso7064_mod37_36("abc")
