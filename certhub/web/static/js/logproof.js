/* Checking, in the holder's own browser, that a use record is in the signed
   authorized-use log: the record's leaf hash, its inclusion proof up to the
   checkpoint's root, the checkpoint's Ed25519 signature and its witnesses'
   cosignatures (k of n, under the policy this browser pinned). Only WebCrypto
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

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  // SPEC: C2SP tlog-cosignature — a witness key has type 0x04; its line's blob is
  // key ID (4) || timestamp (8, big-endian) || Ed25519 signature (64) over
  // "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint body.
  function verifyCosignature(checkpoint, vkey) {
    var parts = (vkey || "").trim().split("+");
    if (parts.length < 3) return Promise.resolve(false);
    var name = parts[0], keyId = parts[1], key = b64ToBytes(parts.slice(2).join("+"));
    if (key.length !== 33 || key[0] !== 4) return Promise.resolve(false);
    var mine = checkpoint.signatures.filter(function (s) { return s.name === name; });
    if (!mine.length) return Promise.resolve(false);
    return subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]).then(function (publicKey) {
      return Promise.all(mine.map(function (s) {
        var blob = b64ToBytes(s.blob);
        if (hex(blob.slice(0, 4)) !== keyId || blob.length !== 76) return false;
        var time = 0;
        for (var i = 4; i < 12; i++) time = time * 256 + blob[i];
        if (!Number.isSafeInteger(time)) return false;
        var message = new TextEncoder().encode("cosignature/v1\ntime " + time + "\n" + checkpoint.body);
        return subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(12), message);
      }));
    }).then(function (results) { return results.indexOf(true) >= 0; }, function () { return false; });
  }

  /* The witness policy this browser trusts: the one it pinned, else the log's
     published one (/log/witnesses), pinned now (trust on first use) so a server
     that later drops or swaps its witnesses is caught. null: no witnesses. */
  var POLICY_KEY = "certhub.witnessPolicy";
  function validPolicy(policy) {
    return policy && Array.isArray(policy.vkeys) && policy.vkeys.every(function (k) { return typeof k === "string"; }) &&
      Number.isInteger(policy.threshold) && policy.threshold >= 0 && policy.threshold <= policy.vkeys.length;
  }
  function witnessPolicy() {
    var pinned = null;
    try { pinned = JSON.parse(window.localStorage.getItem(POLICY_KEY) || "null"); } catch (e) { pinned = null; }
    if (validPolicy(pinned)) return Promise.resolve(pinned);
    return window.fetch("/log/witnesses", { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (published) {
        if (!published || !Array.isArray(published.witnesses)) return null;
        var policy = { threshold: published.threshold, vkeys: published.witnesses.map(function (w) { return w.vkey; }) };
        if (!validPolicy(policy)) return null;
        try { window.localStorage.setItem(POLICY_KEY, JSON.stringify(policy)); } catch (e) { /* not pinned */ }
        return policy;
      }, function () { return null; });
  }
  function countCosignatures(checkpoint, policy) {
    return Promise.all(policy.vkeys.map(function (vkey) { return verifyCosignature(checkpoint, vkey); }))
      .then(function (results) { return results.filter(Boolean).length; });
  }

  /* Check the checkpoint once: "ok" (signature verified and, under a witness
     policy, k witnesses cosigned), "unchecked" (this browser has no Ed25519 or
     no key was published), or "bad". ``witnesses`` says what was counted. */
  CH.checkCheckpoint = function (note) {
    var checkpoint = note ? CH.parseCheckpoint(note) : null;
    if (!checkpoint) return Promise.resolve({ checkpoint: null, signature: "bad" });
    if (!subtle) return Promise.resolve({ checkpoint: checkpoint, signature: "unchecked" });
    return window.fetch("/log/verifier-key", { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (key) {
        if (!key) return { checkpoint: checkpoint, signature: "unchecked" };
        return verifySignature(checkpoint, key).then(function (ok) {
          if (!ok) return { checkpoint: checkpoint, signature: "bad" };
          return witnessPolicy().then(function (policy) {
            if (!policy) return { checkpoint: checkpoint, signature: "ok", witnesses: null };
            return countCosignatures(checkpoint, policy).then(function (count) {
              return { checkpoint: checkpoint, signature: count >= policy.threshold ? "ok" : "bad",
                       witnesses: { cosigned: count, threshold: policy.threshold } };
            });
          });
        }, function () { return { checkpoint: checkpoint, signature: "unchecked" }; });
      }, function () { return { checkpoint: checkpoint, signature: "unchecked" }; });
  };

  /* The witness policy as a check of the auditor's saved-checkpoint watch
     (logconsistency.js, CH.logWatch.addCheck): met, or an alarm saying how
     many of the pinned witnesses cosigned. No policy published: nothing to check. */
  CH.checkWitnesses = function (note) {
    var checkpoint = CH.parseCheckpoint(note);
    if (!checkpoint) return Promise.resolve({ ok: false, code: "malformed_checkpoint", message: CH.t("logcheck.malformed_checkpoint") });
    if (!subtle) return Promise.resolve({ ok: true });
    return witnessPolicy().then(function (policy) {
      if (!policy) return { ok: true };
      return countCosignatures(checkpoint, policy).then(function (count) {
        if (count >= policy.threshold) return { ok: true };
        return { ok: false, code: "witness_policy_unmet",
                 message: CH.t("logcheck.the_checkpoint_has_only") + count + CH.t("logcheck.witness_cosignatures_fewer_than_this_browser") + policy.threshold + CH.t("logcheck.count_paren_close_stop") };
      });
    });
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
