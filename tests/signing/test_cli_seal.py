from typer.testing import CliRunner

from certhub.cli.seal import app
from tests.conformance import seal_file

runner = CliRunner()


def test_inspect_prints_fields_and_verifies():
    result = runner.invoke(app, ["inspect", str(seal_file("UserV4.esl"))])
    assert result.exit_code == 0, result.output
    assert "esID:        51f044b76510434e9bc67a1185c2fba5" in result.output
    assert "OFD R&W 测试用印章" in result.output
    assert "GB/T 38540-2020" in result.output
    assert "PNG, 15693 bytes, 40 x 40 mm" in result.output
    assert "Common Name: Test Certificate" in result.output
    assert "1.2.156.10197.1.501 (SM2-with-SM3)" in result.output
    assert "verification: OK" in result.output


def test_inspect_reads_v1_seals():
    result = runner.invoke(app, ["inspect", str(seal_file("UserV1.esl"))])
    assert result.exit_code == 0, result.output
    assert "GM/T 0031-2014" in result.output and "OFDRW测试用印章" in result.output


def test_inspect_exits_1_when_the_signature_fails(tmp_path):
    data = bytearray(seal_file("UserV4.esl").read_bytes())
    position = bytes(data).index("测试用印章".encode())
    data[position] ^= 0x01
    tampered = tmp_path / "tampered.esl"
    tampered.write_bytes(bytes(data))
    result = runner.invoke(app, ["inspect", str(tampered)])
    assert result.exit_code == 1
    assert "FAILED (signature_invalid)" in result.output


def test_inspect_exits_2_for_a_missing_file(tmp_path):
    result = runner.invoke(app, ["inspect", str(tmp_path / "missing.esl")])
    assert result.exit_code == 2


def test_inspect_exits_2_for_a_file_that_is_not_a_seal(tmp_path):
    junk = tmp_path / "junk.esl"
    junk.write_bytes(b"not a seal at all")
    result = runner.invoke(app, ["inspect", str(junk)])
    assert result.exit_code == 2
    assert "malformed" in result.output


def test_inspect_says_an_expired_seal_has_expired():
    result = runner.invoke(app, ["inspect", str(seal_file("UserV4.esl"))])  # valid until 2022-04-22
    assert result.exit_code == 0, result.output
    assert "validity:    EXPIRED (ended 2022-04-22T02:09:00+00:00)" in result.output


def test_inspect_says_a_seal_within_its_validity_is_current(tmp_path, seal):
    path = tmp_path / "current.esl"
    path.write_bytes(seal.der)  # valid 2025-03-01 for ten years
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "validity:    current (until 2035-" in result.output and "EXPIRED" not in result.output


def test_inspect_says_whether_the_signer_certificates_chain_to_the_maker(tmp_path, seal):
    ours = tmp_path / "ours.esl"
    ours.write_bytes(seal.der)
    result = runner.invoke(app, ["inspect", str(ours)])
    assert result.exit_code == 0, result.output
    assert "signer chain: issued by the maker certificate" in result.output
    # A conformance seal whose signer certificate another CA issued: said, and still exit 0.
    foreign = runner.invoke(app, ["inspect", str(seal_file("UserV4.esl"))])
    assert foreign.exit_code == 0 and "signer chain: not issued by the maker certificate" in foreign.output
