"""What signing a PDF layout document adds to drawing it, in ms per document.

- render: `registry.layout.pdf.render_pdf` of a business-licence face
  (PDF/A-2b, fonts subset and embedded): the cost of the unsigned document;
- sign: `signing.pades.sign_pdf` of that document, PAdES B-B, with an ES256
  key through the key abstraction (the incremental update, the CMS, one
  ECDSA signature);
- sign_tsa (with --tsa URL): PAdES B-T, one RFC 3161 round trip each;
- certificates: issuing a root and a document-signing certificate, which
  the registry does once per key (kept in signing_document_certificates).

usage: python -m bench pdf [--rounds N] [--tsa URL]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import urllib3

from registry.layout.face import LicenceFace
from registry.layout.pdf import render_pdf
from signing.es256 import ES256PrivateKey
from signing.pades import KeySigner, PostingTimeStamper, sign_pdf
from signing.picture import draw_round_seal
from signing.x509docs import CertificateName, issue_document_root, issue_document_signing_certificate

# Each round draws another holder: a document's characters differ from the last one's, as they do
# from one licence to the next, so no round reuses the font subset an earlier one made.
_HOLDERS = ("福州示例餐饮有限公司", "厦门鹭岛海鲜酒楼", "泉州晋江鞋业制造厂", "漳州龙海农副产品商行", "莆田湄洲妈祖文化传播",
            "三明沙县小吃连锁", "南平武夷岩茶合作社", "龙岩永定土楼旅游", "宁德霞浦滩涂养殖场", "平潭综合实验区物流",
            "福清融侨电子科技", "长乐航城纺织印染", "闽侯青口汽车配件", "连江黄岐渔业捕捞", "罗源碧里海洋牧场")


def _face(holder: str = _HOLDERS[0]) -> LicenceFace:
    return LicenceFace(
        type_name="营业执照", holder_name=holder,
        fields=[("统一社会信用代码", "91350100MA2XXXXX1X"), ("名称", "福州示例餐饮有限公司"), ("法定代表人", "张三丰"),
                ("类型", "有限责任公司"), ("成立日期", "2020年05月01日")],
        identifier="1.2.156.3005.2.11100000MB00000044001.11350100MB00000025.00000001.001.5",
        issuer_name="福州市市场监督管理局", issued_on=date(2026, 1, 2), valid_from=date(2026, 1, 2), valid_until=None,
        qr_text="EL1:" + "7" * 300, template="certificate",
        seal_png=draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章"),
    )


def _median_ms(action: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench pdf")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tsa", default=None, help="an RFC 3161 TSA URL (loopback in tests)")
    options = parser.parse_args(args)

    now = datetime.now(UTC)
    root_key, department_key = ES256PrivateKey.generate(), ES256PrivateKey.generate()

    def certificates() -> tuple[bytes, bytes]:
        root = issue_document_root(root_key=root_key, name=CertificateName("bench root", "bench"),
                                   not_before=now, not_after=now + timedelta(days=365))
        leaf = issue_document_signing_certificate(
            root_key=root_key, root_certificate=root, subject_key=department_key.public_key,
            name=CertificateName("福州市市场监督管理局电子证照专用章", "bench"), not_before=now,
            not_after=now + timedelta(days=30))
        return root, leaf

    root, leaf = certificates()
    face = _face()
    holders = itertools.cycle(_HOLDERS[1:])
    document = render_pdf(face)
    signer = KeySigner(key=department_key, certificate=leaf, chain=[root])
    sign_pdf(document, signer=signer)  # pyHanko's first use: imports and caches, not a download's cost
    result = {
        "rounds": options.rounds,
        "render_ms": _median_ms(lambda: render_pdf(_face(next(holders))), options.rounds),
        "sign_ms": _median_ms(lambda: sign_pdf(document, signer=signer), options.rounds),
        "certificates_ms": _median_ms(certificates, options.rounds),
        "document_bytes": len(document),
        "signed_bytes": len(sign_pdf(document, signer=signer)),
    }
    if options.tsa:
        with urllib3.PoolManager(retries=False) as client:
            def post(query: bytes) -> bytes:
                response = client.request("POST", options.tsa, body=query,
                                          headers={"Content-Type": "application/timestamp-query"})
                if response.status != 200:
                    raise RuntimeError(f"the TSA answered HTTP {response.status}")
                return response.data

            stamper = PostingTimeStamper(post)
            sign_pdf(document, signer=signer, timestamper=stamper)
            result["sign_tsa_ms"] = _median_ms(lambda: sign_pdf(document, signer=signer, timestamper=stamper),
                                               options.rounds)
    return result
