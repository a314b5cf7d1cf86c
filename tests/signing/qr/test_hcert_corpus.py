"""EU DCC interop: the whole dgc-testdata corpus ($CERTHUB_CONFORMANCE_DIR/dgc-testdata; skipped without it).

Each vector is judged with its own TESTCTX.CERTIFICATE as the only trust
anchor and its TESTCTX.VALIDATIONCLOCK as the clock. The expectations a
verifier's steps answer are judged; a step's input is the vector's field or,
when the vector leaves it out, what the previous step produced from PREFIX:

| expectation | our step | agrees when |
|---|---|---|
| EXPECTEDPICTUREDECODE | decode_qr_image(2DCODE) | it succeeds and equals PREFIX |
| EXPECTEDUNPREFIX | split_prefix(PREFIX) | prefix HC1: and the rest equals BASE45 |
| EXPECTEDB45DECODE | unbase45(BASE45) | it succeeds and equals COMPRESSED |
| EXPECTEDCOMPRESSION | inflate(COMPRESSED) | it succeeds and equals COSE |
| EXPECTEDVERIFY | read_hcert_cose(COSE), steps 4-6 | no cose_invalid / unknown_key / signature_invalid |
| EXPECTEDEXPIRATIONCHECK | the exp/iat step at VALIDATIONCLOCK | no expired / not_yet_valid |
| EXPECTEDDECODE | read_hcert_cose, the claims step (7) | the claims (or their -260 {1: DCC}) equal CBOR |

Not judged (not a verifier's business): EXPECTEDSCHEMAVALIDATION,
EXPECTEDVALIDOBJECT, EXPECTEDENCODE, EXPECTEDVALIDJSON, EXPECTEDKEYUSAGE.
On top, every vector whose judged expectations are all true and which
includes an expiry check verifies end to end through `verify_qr(PREFIX)`.
"""

from __future__ import annotations

import base64
from collections import Counter
from pathlib import Path

import cbor2
import pytest

from signing.qr import QrVerificationError, decode_qr_image, verify_qr
from signing.qr.container import inflate, split_prefix, unbase45
from signing.qr.verify import read_hcert_cose, verify_hcert_cose
from signing.truststore import TrustStore
from tests.conformance import DCC_TESTDATA, requires
from tests.signing.qr.dcc_vectors import CORPUS, NoInput, Vector

pytestmark = requires(DCC_TESTDATA)
# Upstream-inconsistent vectors: (path, expectation) -> reason. Empty: every judged expectation agrees.
KNOWN_INCONSISTENT: dict[tuple[str, str], str] = {}

_SIGNATURE_STEPS = {"cose_invalid", "unknown_key", "signature_invalid"}
_TIME_STEPS = {"expired", "not_yet_valid"}


def _judge(vector: Vector, expectation: str) -> bool:
    """What our verifier answers for one expectation (True: the step succeeds)."""
    data = vector.data
    if expectation == "EXPECTEDPICTUREDECODE":
        if "2DCODE" not in data:
            raise NoInput("no 2DCODE")
        return _succeeds(lambda: decode_qr_image(base64.b64decode(data["2DCODE"]))) == data.get("PREFIX")
    if expectation == "EXPECTEDUNPREFIX":
        if "PREFIX" not in data:
            raise NoInput("no PREFIX")
        split = _succeeds(lambda: split_prefix(data["PREFIX"]))
        return split is not None and split[0] == "HC1:" and split[1] == data.get("BASE45", split[1])
    if expectation == "EXPECTEDB45DECODE":
        decoded = _succeeds(lambda: unbase45(vector.base45_text()))
        return decoded is not None and decoded == (vector._hex("COMPRESSED") or decoded)
    if expectation == "EXPECTEDCOMPRESSION":
        inflated = _succeeds(lambda: inflate(vector.compressed()))
        return inflated is not None and inflated == (vector._hex("COSE") or inflated)
    if expectation == "EXPECTEDVERIFY":
        try:
            read_hcert_cose(vector.cose(), dcc_trust=vector.trust)
        except QrVerificationError as error:
            return error.code not in _SIGNATURE_STEPS
        return True
    if expectation == "EXPECTEDEXPIRATIONCHECK":
        return _failed_step(vector) not in _TIME_STEPS
    if expectation == "EXPECTEDDECODE":
        try:
            _, _, claims = read_hcert_cose(vector.cose(), dcc_trust=vector.trust)
        except QrVerificationError as error:
            if error.code == "claims_invalid":
                return False
            raise NoInput(f"the claims step was not reached ({error.code})") from None
        if "CBOR" not in data:
            return True
        expected = cbor2.loads(bytes.fromhex(data["CBOR"]))  # upstream gives either the whole CWT or the DCC
        return expected in (claims, claims[-260][1])
    raise AssertionError(expectation)


def _succeeds(step):
    try:
        return step()
    except QrVerificationError:
        return None


def _failed_step(vector: Vector) -> str | None:
    try:
        verify_hcert_cose(vector.cose(), dcc_trust=vector.trust, now=vector.clock)
    except QrVerificationError as error:
        return error.code
    return None


VECTORS = sorted(p for p in CORPUS.rglob("*.json") if "2DCode" in p.parts) if CORPUS.is_dir() else []


def test_the_whole_corpus_is_present():
    assert len(VECTORS) == 577


def test_every_judged_expectation_agrees(capsys):
    counts: Counter[str] = Counter()
    disagreements = []
    for path in VECTORS:
        vector = Vector(path)
        counts["files"] += 1
        for expectation, expected in vector.expected.items():
            try:
                answer = _judge(vector, expectation)
            except NoInput:
                counts["without input"] += 1
                continue
            counts["judged"] += 1
            if (vector.name, expectation) in KNOWN_INCONSISTENT:
                counts["listed"] += 1
            elif answer == expected:
                counts["agreed"] += 1
            else:
                disagreements.append(f"{vector.name} {expectation}: expected {expected}, we say {answer}")
    with capsys.disabled():
        print(f"\nDCC corpus: {dict(counts)}")
    assert not disagreements, "\n".join(disagreements)
    assert counts["judged"] > 3000 and counts["agreed"] + counts["listed"] == counts["judged"]


def _all_valid() -> list[Path]:
    chosen = []
    for path in VECTORS:
        vector = Vector(path)
        if vector.expected.get("EXPECTEDEXPIRATIONCHECK") and all(vector.expected.values()) and "PREFIX" in vector.data:
            chosen.append(path)
    return chosen


def test_valid_vectors_verify_end_to_end():
    valid = _all_valid()
    assert len(valid) > 400
    for path in valid:
        vector = Vector(path)
        result = verify_qr(vector.data["PREFIX"], trust_store=TrustStore(), dcc_trust=vector.trust, now=vector.clock)
        assert result.kind == "hcert" and isinstance(result.payload[-260][1], dict), vector.name


@pytest.mark.parametrize("name", ["common/2DCode/raw/CO5.json", "common/2DCode/raw/CO22.json"])
def test_invalid_dcc_signatures_are_refused_end_to_end(name):
    vector = Vector(CORPUS / name)
    with pytest.raises(QrVerificationError) as caught:
        verify_qr(vector.data["PREFIX"], trust_store=TrustStore(), dcc_trust=vector.trust, now=vector.clock)
    assert caught.value.code in {"signature_invalid", "unknown_key"}


def test_hc1_without_dcc_trust_is_an_unknown_key():
    vector = Vector(_all_valid()[0])
    with pytest.raises(QrVerificationError) as caught:
        verify_qr(vector.data["PREFIX"], trust_store=TrustStore(), now=vector.clock)
    assert caught.value.code == "unknown_key"
