"""The EU DCC test data's vectors (dgc-testdata), read from the conformance
corpus: each vector's inputs, the expectations we judge, and the steps that
derive a missing input from the one before it."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from pathlib import Path

from signing.qr import DccTrustList, QrVerificationError
from signing.qr.container import inflate, split_prefix, unbase45
from tests.conformance import DCC_TESTDATA, corpus_dir

CORPUS = corpus_dir(DCC_TESTDATA) or Path("/nonexistent-conformance-corpus")
JUDGED = (
    "EXPECTEDPICTUREDECODE", "EXPECTEDUNPREFIX", "EXPECTEDB45DECODE", "EXPECTEDCOMPRESSION",
    "EXPECTEDVERIFY", "EXPECTEDEXPIRATIONCHECK", "EXPECTEDDECODE",
)


class NoInput(Exception):
    """The vector holds neither this step's input nor anything it can be derived from."""


class Vector:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path.relative_to(CORPUS))
        self.data = json.loads(path.read_text(encoding="utf-8"))
        self.context = self.data.get("TESTCTX", {})
        self.expected = {k: v for k, v in self.data.get("EXPECTEDRESULTS", {}).items() if k in JUDGED}

    @property
    def clock(self) -> datetime:
        moment = datetime.fromisoformat(self.context["VALIDATIONCLOCK"].replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @property
    def trust(self) -> DccTrustList:
        return DccTrustList([base64.b64decode(self.context["CERTIFICATE"])])

    def _hex(self, field: str) -> bytes | None:
        value = self.data.get(field)
        return None if value is None else bytes.fromhex(value)

    def base45_text(self) -> str:
        if "BASE45" in self.data:
            return self.data["BASE45"]
        return self._derived(lambda: split_prefix(self.data["PREFIX"])[1])

    def compressed(self) -> bytes:
        value = self._hex("COMPRESSED")
        return value if value is not None else self._derived(lambda: unbase45(self.base45_text()))

    def cose(self) -> bytes:
        value = self._hex("COSE")
        return value if value is not None else self._derived(lambda: inflate(self.compressed()))

    @staticmethod
    def _derived(step):
        try:
            return step()
        except (KeyError, QrVerificationError, binascii.Error) as error:
            raise NoInput(str(error)) from None
