/* Checking, in the holder's own browser, that what a use of their data
   disclosed (the values and salts their record view returns as "disclosed")
   is what the logged record committed to: per item, in order, SHA-256 over
   the RFC 8785 bytes of [salt, value] (signing/commitments.py; the record
   itself is checked by logproof.js). Only WebCrypto's SHA-256 is used. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});
  var subtle = window.crypto && window.crypto.subtle;
  var SCHEME = "sha-256/rfc8785-salted";

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  /* "verified", "mismatch", "none" (the record commits to no answer: a
     refusal, another kind of use, an older record), "missing" (a commitment
     but no values kept), or "unchecked" (this browser cannot hash). */
  CH.checkAnswer = function (record, disclosed) {
    var answer = record && record.answer;
    if (!answer) return Promise.resolve("none");
    if (!disclosed) return Promise.resolve("missing");
    var digests = answer.digests, values = disclosed.values, salts = disclosed.salts;
    if (answer.scheme !== SCHEME || !Array.isArray(digests) || !Array.isArray(values) || !Array.isArray(salts) ||
        values.length !== digests.length || salts.length !== digests.length) return Promise.resolve("mismatch");
    if (!subtle || !CH.canonicalJson) return Promise.resolve("unchecked");
    return Promise.all(values.map(function (value, i) {
      var bytes = new TextEncoder().encode(CH.canonicalJson([salts[i], value]));
      return subtle.digest("SHA-256", bytes).then(function (digest) { return hex(digest) === digests[i]; });
    })).then(function (each) { return each.every(Boolean) ? "verified" : "mismatch"; },
             function () { return "mismatch"; });
  };
})();
