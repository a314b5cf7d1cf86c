/* The wallet page's own holder key and the credentials bound to it, one store for both flows:
   OpenID4VCI (docs/oid4vci.md) binds a received credential to this key by a proof JWT, and
   OpenID4VP (docs/oid4vp.md) presents it with a key-binding JWT signed by the same key.
   The key is a WebCrypto P-256 pair made non-extractable and kept in IndexedDB, so its private
   half never leaves this browser's key store. Builds on common.js (window.certhub). */
(function () {
  "use strict";
  var CH = window.certhub;
  var subtle = window.crypto && window.crypto.subtle;
  var DB = "certhub-wallet", KEYS = "keys", CREDENTIALS = "credentials";

  function utf8(text) { return new TextEncoder().encode(text); }
  function b64url(bytes) {
    var binary = "";
    new Uint8Array(bytes).forEach(function (b) { binary += String.fromCharCode(b); });
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function b64urlJson(value) { return b64url(utf8(JSON.stringify(value))); }

  function database() {
    return new Promise(function (resolve, reject) {
      var opening = window.indexedDB.open(DB, 1);
      opening.onupgradeneeded = function () {
        opening.result.createObjectStore(KEYS);
        opening.result.createObjectStore(CREDENTIALS);
      };
      opening.onsuccess = function () { resolve(opening.result); };
      opening.onerror = function () { reject(opening.error); };
    });
  }

  // Reads `key` from `store`, or writes `value` there when one is given (and answers it).
  function stored(store, key, value) {
    return database().then(function (handle) {
      return new Promise(function (resolve, reject) {
        var tx = handle.transaction(store, value === undefined ? "readonly" : "readwrite");
        var req = value === undefined ? tx.objectStore(store).get(key) : tx.objectStore(store).put(value, key);
        req.onsuccess = function () { resolve(value === undefined ? req.result : value); };
        req.onerror = function () { reject(req.error); };
      });
    });
  }

  // The holder key, made once: { privateKey (non-extractable CryptoKey), jwk (its public half) }.
  function holderKey() {
    return stored(KEYS, "holder").then(function (saved) {
      if (saved) return saved;
      return subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]).then(function (pair) {
        return subtle.exportKey("jwk", pair.publicKey).then(function (jwk) {
          return stored(KEYS, "holder", { privateKey: pair.privateKey, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } });
        });
      });
    });
  }

  // A compact JWS signed ES256 by the holder key. WebCrypto's ECDSA signature is r || s,
  // the JWS form (RFC 7518 §3.4).
  function signJwt(key, header, claims) {
    var input = b64urlJson(header) + "." + b64urlJson(claims);
    return subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, utf8(input)).then(function (signature) {
      return input + "." + b64url(signature);
    });
  }

  CH.walletKeys = {
    supported: function () { return !!(window.indexedDB && subtle); },
    holderKey: holderKey,
    signJwt: signJwt,
    b64url: b64url,
    utf8: utf8,
    // A licence's SD-JWT VC (the compact string) bound to the holder key, by licence identifier.
    credential: function (identifier) { return stored(CREDENTIALS, identifier); },
    keepCredential: function (identifier, credential) { return stored(CREDENTIALS, identifier, credential); },
  };
})();
