/* Checking, in the holder's own browser, that a use record is in the signed
   authorized-use log: the record's leaf hash, its inclusion proof up to the
   checkpoint's root, and the checkpoint's Ed25519 signature. Only WebCrypto
   primitives (SHA-256, Ed25519) are used. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});
  var subtle = window.crypto && window.crypto.subtle;

  function b64ToBytes(text) {
    var raw = window.atob(text);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    var length = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(length), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function sha256(bytes) {
    return subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }

  // SPEC: RFC 8785 — members sorted by UTF-16 code units; strings and numbers
  // serialised as ECMAScript JSON.stringify does. Log records hold only
  // strings, small integers, null and lists of strings.
  function canonical(value) {
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    if (value && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ":" + canonical(value[key]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }
  CH.canonicalJson = canonical;  // answercheck.js hashes disclosed answers with the same bytes

  // SPEC: RFC 9162 §2.1.1 — leaf hash = SHA-256(0x00 || entry).
  function leafHash(record) {
    return sha256(concat([new Uint8Array([0]), new TextEncoder().encode(canonical(record))]));
  }
  function nodeHash(left, right) {
    return sha256(concat([new Uint8Array([1]), left, right]));
  }

  // SPEC: RFC 9162 §2.1.3.2 — verifying an inclusion proof.
  function rootFromProof(index, size, leaf, proof) {
    if (index >= size) return Promise.resolve(null);
    var fn = index, sn = size - 1, r = Promise.resolve(leaf);
    var failed = false;
    proof.forEach(function (node) {
      if (failed) return;
      if (sn === 0) { failed = true; return; }
      if (fn % 2 === 1 || fn === sn) {
        r = r.then(function (value) { return nodeHash(node, value); });
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = r.then(function (value) { return nodeHash(value, node); });
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    });
    if (failed || sn !== 0) return Promise.resolve(null);
    return r;
  }

  // SPEC: C2SP tlog-checkpoint and signed-note — body lines, a blank line, then
  // "— <name> <base64(key id || signature)>" lines.
  CH.parseCheckpoint = function (note) {
    var split = note.indexOf("\n\n");
    if (split < 0) return null;
    var body = note.slice(0, split + 1);
    var lines = body.split("\n");
    if (lines.length < 4) return null;
    var size = Number(lines[1]);
    if (!/^\d+$/.test(lines[1]) || !Number.isSafeInteger(size)) return null;
    var signatures = note.slice(split + 2).split("\n").filter(Boolean).map(function (line) {
      var parts = line.split(" ");
      return parts.length === 3 && parts[0] === "\u2014" ? { name: parts[1], blob: parts[2] } : null;
    }).filter(Boolean);
    return { body: body, origin: lines[0], size: size, root: lines[2], signatures: signatures };
  };

  function verifySignature(checkpoint, keyString) {
    var parts = (keyString || "").trim().split("+");
    if (parts.length < 3) return Promise.resolve(false);
    var name = parts[0], keyId = parts[1], key = b64ToBytes(parts.slice(2).join("+"));
    if (key.length !== 33 || key[0] !== 1) return Promise.resolve(false);
    var mine = checkpoint.signatures.filter(function (s) { return s.name === name; });
    if (!mine.length) return Promise.resolve(false);
    return subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]).then(function (publicKey) {
      return Promise.all(mine.map(function (s) {
        var blob = b64ToBytes(s.blob);
        var hexId = Array.prototype.map.call(blob.slice(0, 4), function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
        if (hexId !== keyId || blob.length !== 68) return false;
        return subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), new TextEncoder().encode(checkpoint.body));
      }));
    }).then(function (results) { return results.indexOf(true) >= 0; });
  }

  /* Check the checkpoint once: "ok" (signature verified), "unchecked"
     (this browser has no Ed25519 or no key was published), or "bad". */
  CH.checkCheckpoint = function (note) {
    var checkpoint = note ? CH.parseCheckpoint(note) : null;
    if (!checkpoint) return Promise.resolve({ checkpoint: null, signature: "bad" });
    if (!subtle) return Promise.resolve({ checkpoint: checkpoint, signature: "unchecked" });
    return window.fetch("/log/verifier-key", { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (key) {
        if (!key) return { checkpoint: checkpoint, signature: "unchecked" };
        return verifySignature(checkpoint, key).then(
          function (ok) { return { checkpoint: checkpoint, signature: ok ? "ok" : "bad" }; },
          function () { return { checkpoint: checkpoint, signature: "unchecked" }; });
      }, function () { return { checkpoint: checkpoint, signature: "unchecked" }; });
  };

  /* One record: "ok" when its leaf hash matches its content and its proof
     leads to the checkpoint's root; "pending" without a proof yet; else "bad". */
  CH.checkRecord = function (item, checkpoint) {
    if (item.proof === null || item.proof === undefined || item.index === null || !checkpoint) {
      return Promise.resolve("pending");
    }
    if (!subtle) return Promise.resolve("present");
    return leafHash(item.record).then(function (leaf) {
      if (!equal(leaf, b64ToBytes(item.leaf_hash))) return "bad";
      return rootFromProof(item.index, checkpoint.size, leaf, item.proof.map(b64ToBytes)).then(function (root) {
        return root && equal(root, b64ToBytes(checkpoint.root)) ? "ok" : "bad";
      });
    }).catch(function () { return "bad"; });
  };

  /* The hashing and proof steps above, for logcompleteness.js. */
  CH.tlog = { b64ToBytes: b64ToBytes, concat: concat, equal: equal, sha256: sha256, rootFromProof: rootFromProof };
})();
