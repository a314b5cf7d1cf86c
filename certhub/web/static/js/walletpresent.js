/* Presenting a licence to a relying party or a counter (OpenID4VP 1.0 with SD-JWT VC).
   The holder opens a request (its QR's link pasted, or this page opened with it); the page shows
   who asks, why, and exactly which claims; on approval it signs a key-binding JWT (RFC 9901 §4.3)
   with the wallet's own P-256 key (walletkeys.js, shared with OpenID4VCI issuance), and posts
   the presentation (direct_post).
   Only requests of this wallet's own registry are followed: the request_uri and response_uri
   must be its paths, and are fetched from this page's origin. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  // The page's words for this flow, together.
  var TEXT = {
    asks: CH.t("wallet.requested_by"), purpose: CH.t("wallet.purpose"), claims: CH.t("wallet.these_details_will_be_shown_nothing"),
    noLicence: CH.t("wallet.you_have_no_valid_licence_that"), badLink: CH.t("wallet.not_a_presentation_request_link_of"),
    gone: CH.t("wallet.the_presentation_request_does_not_exist"), sending: CH.t("wallet.signing_and_showing"), done: CH.t("wallet.shown_the_requester_has_verified_it"),
    declined: CH.t("wallet.you_declined_to_show"), refused: CH.t("wallet.the_presentation_failed_verification"), failed: CH.t("wallet.showing_did_not_complete_try_again"),
    noCrypto: CH.t("wallet.this_browser_lacks_the_cryptography_to"),
    several: CH.t("wallet.this_request_asks_for_several_licences"),
  };
  var REQUEST_PATH = /^\/oid4vp\/requests\/([A-Za-z0-9_-]{43})$/;
  var current = null;

  function token() { var saved = CH.loadToken("holder"); return saved && saved.token; }
  function say(text, kind) {
    var node = $("vp-state");
    node.textContent = text;
    node.dataset.state = kind || "";
  }

  var keys = CH.walletKeys;
  function fromB64url(text) {
    var binary = window.atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    return Uint8Array.from(binary, function (c) { return c.charCodeAt(0); });
  }
  function jsonPart(text) { return JSON.parse(new TextDecoder().decode(fromB64url(text))); }

  // The licence's SD-JWT VC bound to the holder key: kept, or fetched once through the holder API.
  function credentialFor(identifier, key) {
    return keys.credential(identifier).then(function (saved) {
      if (saved) return saved;
      return CH.api("/api/v1/holders/me/licences/" + encodeURIComponent(identifier) + "/sd-jwt-vc",
                    { token: token(), body: { holder_jwk: key.jwk } }).then(function (result) {
        if (!result.ok) throw new Error(CH.errorText(result, TEXT.failed));
        return keys.keepCredential(identifier, result.data.credential);
      });
    });
  }

  /* ---------------------------------------------------------- the request */
  function ownPath(uri) {
    var at = uri.indexOf("/oid4vp/");
    var path = at >= 0 ? uri.slice(at) : "";
    return REQUEST_PATH.test(path) || /^\/oid4vp\/responses\/[A-Za-z0-9_-]{43}$/.test(path) ? path : null;
  }

  function openLink(link) {
    var query = link.indexOf("?") >= 0 ? new URLSearchParams(link.slice(link.indexOf("?") + 1)) : null;
    var path = query && query.get("request_uri") ? ownPath(query.get("request_uri")) : null;
    if (!path || !REQUEST_PATH.test(path)) { say(TEXT.badLink, "error"); return; }
    window.fetch(path, { credentials: "omit", cache: "no-store" }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (text) {
      if (!text) { say(TEXT.gone, "error"); return; }
      var request = jsonPart(text.split(".")[1]);
      // SPEC: OpenID4VP 1.0 §5.10 — the request object's client_id must be the link's.
      if (request.client_id !== query.get("client_id") || !ownPath(request.response_uri)) { say(TEXT.badLink, "error"); return; }
      showOffer(request);
    });
  }

  function showOffer(request) {
    if (request.dcql_query.credentials.length !== 1) { say(TEXT.several, "error"); return; }
    var asked = request.dcql_query.credentials[0];
    var typeCode = asked.meta.vct_values[0].split("/vct/").pop();
    var names = asked.claims.map(function (c) { return c.path[0]; });
    Promise.all([
      CH.api("/api/v1/holders/me/licences", { token: token() }),
      CH.api("/vct/" + encodeURIComponent(typeCode)),
    ]).then(function (answers) {
      var licences = (answers[0].ok && answers[0].data) || [];
      licences = (Array.isArray(licences) ? licences : licences.licences || []).filter(function (l) {
        return l.type_code === typeCode && l.status === "valid";
      });
      var labels = {};
      ((answers[1].ok && answers[1].data.claims) || []).forEach(function (c) {
        labels[c.path[0]] = (c.display && c.display[0] && c.display[0].label) || c.path[0];
      });
      current = { request: request, query: asked, names: names, licences: licences };
      $("vp-verifier").textContent = TEXT.asks + request.client_metadata.client_name;
      $("vp-purpose").textContent = TEXT.purpose + request.client_metadata.purpose;
      $("vp-claims-title").textContent = TEXT.claims;
      var list = CH.clear($("vp-claims"));
      names.forEach(function (name) { list.appendChild(el("li", { "data-claim": name, text: labels[name] || name })); });
      var select = CH.clear($("vp-licence"));
      licences.forEach(function (l) { select.appendChild(el("option", { value: l.identifier, text: (l.type_name || l.type_code) + " " + l.identifier })); });
      $("vp-approve").disabled = licences.length === 0;
      say(licences.length ? "" : TEXT.noLicence, licences.length ? "" : "error");
      $("vp-offer").hidden = false;
    });
  }

  /* ---------------------------------------------------------- presenting */
  function present() {
    if (!current || !keys.supported()) { say(TEXT.noCrypto, "error"); return; }
    var offer = current;
    $("vp-approve").disabled = true;
    say(TEXT.sending, "busy");
    keys.holderKey().then(function (key) {
      return credentialFor($("vp-licence").value, key).then(function (credential) {
        return presentation(credential, offer, key);
      });
    }).then(function (vp) {
      var body = new URLSearchParams();
      var tokenMap = {};
      tokenMap[offer.query.id] = [vp];
      body.set("vp_token", JSON.stringify(tokenMap));
      body.set("state", offer.request.state);
      return CH.api(ownPath(offer.request.response_uri), { body: body });
    }).then(function (result) {
      $("vp-offer").hidden = true;
      current = null;
      if (result.ok) say(TEXT.done, "done");
      else say(TEXT.refused + ((result.data && result.data.error) || result.status), "error");
    }).catch(function () { say(TEXT.failed, "error"); $("vp-approve").disabled = false; });
  }

  // SPEC: RFC 9901 §4 and §4.3 — the issuer JWT, the disclosures of the asked claims only, and a
  // KB-JWT over them: {iat, aud: the client_id, nonce: the request's, sd_hash}, ES256 by the holder key.
  function presentation(credential, offer, key) {
    var parts = credential.split("~");
    var kept = parts.slice(1).filter(function (d) { return d && offer.names.indexOf(jsonPart(d)[1]) >= 0; });
    var body = [parts[0]].concat(kept).join("~") + "~";
    return window.crypto.subtle.digest("SHA-256", keys.utf8(body)).then(function (hash) {
      return keys.signJwt(key, { alg: "ES256", typ: "kb+jwt" }, { iat: Math.floor(Date.now() / 1000),
        aud: offer.request.client_id, nonce: offer.request.nonce, sd_hash: keys.b64url(hash) });
    }).then(function (kbJwt) { return body + kbJwt; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!$("vp")) return;
    $("vp-open").addEventListener("submit", function (event) { event.preventDefault(); openLink($("vp-link").value.trim()); });
    $("vp-approve").addEventListener("click", present);
    $("vp-decline").addEventListener("click", function () { $("vp-offer").hidden = true; current = null; say(TEXT.declined, ""); });
    // Opened by a same-device link: the request comes in the page's own query string.
    var own = new URLSearchParams(window.location.search);
    if (own.get("request_uri") && token()) openLink("openid4vp://?" + own.toString());
  });
})();
