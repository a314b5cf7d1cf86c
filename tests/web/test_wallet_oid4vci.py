"""The wallet page as an OpenID4VCI wallet: "存入钱包" makes a non-extractable WebCrypto P-256 key,
runs offer → token → nonce → proof → credential, and keeps the SD-JWT VC bound to that key in
IndexedDB; "存入其他钱包" shows the offer as a QR for a wallet on another device."""

from __future__ import annotations

import base64
import json

import pytest

from signing.qr import decode_qr_image
from tests.web.browsing import PHONE
from tests.web.live import LiveCerthub
from tests.web.test_wallet import axe_clean, sign_in

pytestmark = pytest.mark.slow  # drives Chromium

_READ_WALLET = """() => new Promise((resolve, reject) => {
  const opening = indexedDB.open("certhub-wallet", 1);
  opening.onerror = () => reject(opening.error);
  opening.onsuccess = () => {
    const db = opening.result;
    const keys = db.transaction("keys").objectStore("keys").get("holder");
    keys.onsuccess = () => {
      const key = keys.result;
      const all = db.transaction("credentials").objectStore("credentials").getAll();
      all.onsuccess = () => resolve({extractable: key.privateKey.extractable, jwk: key.jwk, credentials: all.result});
    };
  };
})"""


def _payload(sd_jwt: str) -> dict:
    issuer_jwt = sd_jwt.split("~")[0]
    return json.loads(base64.urlsafe_b64decode(issuer_jwt.split(".")[1] + "=="))


def test_add_to_wallet_keeps_a_credential_bound_to_a_non_extractable_key(browsing, live: LiveCerthub):
    page = browsing.page(PHONE, mobile=True)
    sign_in(page, live)
    # The property certificate: the criminal record proof has a face field named issue_date, a credential claim.
    page.click(f'.licence-card[data-identifier="{live.licences["property"]}"]')
    page.wait_for_selector("#licence-detail:not([hidden])")
    page.click("#add-to-wallet")
    page.wait_for_selector("#vci-state[data-outcome]")
    assert page.get_attribute("#vci-state", "data-outcome") == "stored", page.get_attribute("#vci-state", "data-error")
    kept = page.evaluate(_READ_WALLET)
    assert kept["extractable"] is False
    [credential] = kept["credentials"]
    assert _payload(credential)["cnf"]["jwk"]["x"] == kept["jwk"]["x"]

    page.click("#offer-to-wallet")
    page.wait_for_selector("#vci-offer:not([hidden])")
    src = page.get_attribute("#vci-offer-qr", "src")
    assert decode_qr_image(base64.b64decode(src.split(",", 1)[1])).startswith("openid-credential-offer://")
    assert len(page.inner_text("#vci-tx-code")) == 6
    axe_clean(page)
    browsing.shot(page, "wallet-oid4vci")
