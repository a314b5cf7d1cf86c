/* Verifying the use log without trusting the server that serves it.

   The auditor's browser keeps the last checkpoint it verified (localStorage,
   with the verifier keys it was verified under). On every later visit it
   verifies the server's new checkpoint under those keys and proves, here,
   with WebCrypto SHA-256, that the new tree extends the saved one (an RFC
   9162 consistency proof). A log that shrank, forked or rewrote its history
   raises an alarm and the saved checkpoint is kept as evidence; only a
   consistent checkpoint replaces it. The server can refuse to answer, but it
   cannot make this browser accept a rewritten history.

   Witnesses: a check added with CH.logWatch.addCheck(fn) runs on every new
   checkpoint before it is accepted; fn(note, checkpoint) resolves to
   {ok: true} or {ok: false, code, message} (e.g. a k-of-n witness cosignature
   policy over the note's other signature lines). */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});
  var subtle = window.crypto && window.crypto.subtle;
  var STORE = "certhub.audit.checkpoint";
  var EVIDENCE = "certhub.audit.conflict";
  var extraChecks = [];

  function b64ToBytes(text) {
    var raw = window.atob(text);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  async function nodeHash(left, right) {
    var joined = new Uint8Array(1 + left.length + right.length);
    joined[0] = 1;
    joined.set(left, 1);
    joined.set(right, 1 + left.length);
    return new Uint8Array(await subtle.digest("SHA-256", joined));
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  // SPEC: RFC 9162 §2.1.4.2 — verifying a consistency proof between the tree
  // of size `first` (root firstRoot) and of size `second` (root secondRoot).
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (first > second) return false;
    if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
    if (first === 0) return proof.length === 0;
    if (proof.length === 0) return false;
    var path = proof.slice();
    // 2. first is an exact power of two: its root is the first node of the path.
    if ((first & (first - 1)) === 0) path.unshift(firstRoot);
    var fn = first - 1, sn = second - 1;
    while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
  }

  // SPEC: C2SP signed-note — a signature line "— <name> base64(key id || Ed25519 signature)"
  // over the note's text; key id and key from the verifier key string
  // "<name>+<8 hex key id>+base64(0x01 || public key)". True when one of the
  // keys has a valid signature and none of them a failing one.
  async function signedByOneOf(checkpoint, keyStrings) {
    var verified = false;
    var body = new TextEncoder().encode(checkpoint.body);
    for (var k = 0; k < keyStrings.length; k++) {
      var parts = keyStrings[k].trim().split("+");
      if (parts.length < 3) continue;
      var name = parts[0], keyId = parts[1].toLowerCase(), key = b64ToBytes(parts.slice(2).join("+"));
      if (key.length !== 33 || key[0] !== 1) continue;
      var publicKey = await subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
      for (var s = 0; s < checkpoint.signatures.length; s++) {
        var line = checkpoint.signatures[s];
        if (line.name !== name) continue;
        var blob = b64ToBytes(line.blob);
        if (blob.length !== 68 || hex(blob.slice(0, 4)) !== keyId) continue;
        if (!(await subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), body))) return false;
        verified = true;
      }
    }
    return verified;
  }

  function load(name) {
    try { return JSON.parse(window.localStorage.getItem(name) || "null"); } catch (e) { return null; }
  }
  function save(name, value) { window.localStorage.setItem(name, JSON.stringify(value)); }

  async function text(path) {
    var response = await window.fetch(path, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(path + " " + response.status);
    return response.text();
  }

  function alarm(code, message, saved, note) {
    // The conflicting checkpoint is kept beside the saved one: both are evidence.
    if (note) save(EVIDENCE, { note: note, saved: saved && saved.note, seen_at: new Date().toISOString(), code: code });
    return { state: "alarm", code: code, message: message, saved: saved };
  }

  /* Verify the server's current checkpoint against the one this browser saved.
     options.fetchConsistency(old, new) resolves to the proof (base64 nodes);
     options.keys: verifier key strings to trust when nothing is saved yet
     (else the log's published keys, trusted on first use, and said so). */
  async function check(options) {
    if (!subtle) return { state: "unsupported", message: CH.t("logcheck.this_browser_does_not_support_webcrypto") };
    var saved = load(STORE);
    var note = await text("/log/checkpoint");
    var checkpoint = CH.parseCheckpoint(note);
    if (!checkpoint) return alarm("malformed_checkpoint", CH.t("logcheck.the_server_returned_a_malformed_checkpoint"), saved, note);
    // The saved keys, and any the auditor gave (obtained out of band, e.g. after a key rotation).
    var keys = ((saved && saved.keys) || []).concat(options.keys || []).filter(function (key, i, all) {
      return key && all.indexOf(key) === i;
    });
    var keySource = saved ? "saved" : (keys.length ? "given" : "server");
    if (!keys.length) keys = (await text("/log/verifier-keys")).split("\n").filter(Boolean);
    if (!(await signedByOneOf(checkpoint, keys))) {
      return alarm("bad_signature", CH.t("logcheck.the_new_checkpoints_signature_does_not"), saved, note);
    }
    for (var i = 0; i < extraChecks.length; i++) {
      var verdict = await extraChecks[i](note, checkpoint);
      if (!verdict || !verdict.ok) {
        return alarm((verdict && verdict.code) || "policy_failed", (verdict && verdict.message) || CH.t("logcheck.the_checkpoint_failed_additional_checks"), saved, note);
      }
    }
    var current = { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note: note, keys: keys,
                    seen_at: new Date().toISOString() };
    if (!saved) {
      save(STORE, current);
      return { state: "first", checkpoint: current, keySource: keySource };
    }
    if (saved.origin !== checkpoint.origin) {
      return alarm("origin_mismatch", CH.t("logcheck.the_checkpoint_belongs_to_another_log") + checkpoint.origin + CH.t("logcheck.not_the_saved") + saved.origin + CH.t("logcheck.full_stop"), saved, note);
    }
    if (checkpoint.size < saved.size) {
      return alarm("log_shrank", CH.t("logcheck.the_log_got_shorter_the_checkpoint") + saved.size + CH.t("logcheck.entries_the_server_now_has_only") + checkpoint.size + CH.t("logcheck.entries_full_stop"), saved, note);
    }
    var proof = [];
    if (checkpoint.size > saved.size && saved.size > 0) {
      proof = await options.fetchConsistency(saved.size, checkpoint.size);
      if (!proof) return { state: "unavailable", message: CH.t("logcheck.the_server_gave_no_consistency_proof"), saved: saved };
    }
    var consistent = saved.size === 0 ||
      await verifyConsistency(saved.size, checkpoint.size, b64ToBytes(saved.root), b64ToBytes(checkpoint.root), proof.map(b64ToBytes));
    if (!consistent) {
      return alarm("inconsistent_history", CH.t("logcheck.the_logs_history_was_rewritten_the") + checkpoint.size + CH.t("logcheck.entries_is_inconsistent_with_the_checkpoint") +
                   saved.size + CH.t("logcheck.entries"), saved, note);
    }
    save(STORE, current);
    return { state: "consistent", checkpoint: current, previous: saved };
  }

  CH.logWatch = {
    check: function (options) {
      return check(options || {}).catch(function (error) {
        return { state: "unavailable", message: CH.t("logcheck.cannot_read_the_log_checkpoint") + (error && error.message) + CH.t("logcheck.paren_close_stop") };
      });
    },
    addCheck: function (fn) { extraChecks.push(fn); },
    saved: function () { return load(STORE); },
    evidence: function () { return load(EVIDENCE); },
    forget: function () { window.localStorage.removeItem(STORE); },
    verifyConsistency: verifyConsistency,
    signedByOneOf: signedByOneOf,
  };
})();
