/* Checking, in the holder's own browser, that the 用证记录 list is all of it
   up to the signed checkpoint (exchange/auditlog/completeness.py does the
   same in Python):
   1. the checkpoint's "certhub-subject-map <leaves> <root>" line;
   2. the map proof for the holder's tag: how many entries name the holder
      and the newest one's index — or, by the two neighbouring leaves, none;
   3. the records and the embargoed entries proven under the checkpoint are
      exactly that many, distinct, the newest at that index, every one's
      inclusion proof checked (records through logproof.js's checkRecord).
   Builds on logproof.js (CH.tlog); only WebCrypto's SHA-256 is used. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});
  var PREFIX = "certhub-subject-map ";

  function T() { return CH.tlog; }

  // SPEC: RFC 9162 §2.1.1 — leaf hash = SHA-256(0x00 || leaf bytes).
  function leafHashOf(bytes) {
    return T().sha256(T().concat([new Uint8Array([0]), bytes]));
  }

  function mapLine(checkpoint) {
    var lines = checkpoint.body.split("\n").slice(3);
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].indexOf(PREFIX) !== 0) continue;
      var parts = lines[i].split(" ");
      if (parts.length !== 3 || !/^\d+$/.test(parts[1])) return null;
      return { leaves: Number(parts[1]), root: T().b64ToBytes(parts[2]) };
    }
    return null;
  }

  function compare(a, b) {
    for (var i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    return a.length - b.length;
  }

  // A big-endian uint64 (counts and indices stay far below 2^53).
  function uint64(bytes, at) {
    var high = 0, low = 0;
    for (var i = 0; i < 4; i++) { high = high * 256 + bytes[at + i]; low = low * 256 + bytes[at + 4 + i]; }
    return high * 4294967296 + low;
  }

  function included(leaf, index, size, proof, root) {
    return T().rootFromProof(index, size, leaf, proof.map(T().b64ToBytes)).then(function (computed) {
      return !!computed && T().equal(computed, root);
    });
  }

  function mapLeafIncluded(leafProof, map) {
    var key = T().b64ToBytes(leafProof.key), value = T().b64ToBytes(leafProof.value);
    return leafHashOf(T().concat([key, value])).then(function (leaf) {
      return included(leaf, leafProof.position, map.leaves, leafProof.proof, map.root);
    });
  }

  /* The map's answer for the holder's tag: {count, last} or null for none;
     rejects when the proof does not show either. */
  function lookup(proof, map) {
    var key = T().b64ToBytes(proof.key);
    function fail(why) { return Promise.reject(new Error(why)); }
    if (proof.size !== map.leaves) return fail("map size");
    if (proof.found) {
      if (!T().equal(T().b64ToBytes(proof.found.key), key)) return fail("another key");
      return mapLeafIncluded(proof.found, map).then(function (ok) {
        if (!ok) throw new Error("map leaf not included");
        var value = T().b64ToBytes(proof.found.value);
        return { count: uint64(value, 0), last: uint64(value, 8) };
      });
    }
    var below = proof.below, above = proof.above;
    if (map.leaves === 0) return below || above ? fail("empty map") : Promise.resolve(null);
    if (!below && !above) return fail("no neighbour");
    if (below && compare(T().b64ToBytes(below.key), key) >= 0) return fail("lower neighbour");
    if (above && compare(T().b64ToBytes(above.key), key) <= 0) return fail("upper neighbour");
    if (!below && above.position !== 0) return fail("not first");
    if (!above && below.position !== map.leaves - 1) return fail("not last");
    if (below && above && above.position !== below.position + 1) return fail("not adjacent");
    return Promise.all([below, above].filter(Boolean).map(function (leaf) { return mapLeafIncluded(leaf, map); }))
      .then(function (oks) { if (oks.indexOf(false) >= 0) throw new Error("neighbour not included"); return null; });
  }

  /* {status: "ok" | "bad" | "unavailable" | "unchecked", count, embargoed}:
     "ok" when the list provably holds every use up to the checkpoint. */
  CH.checkCompleteness = function (data, checked) {
    var cp = checked && checked.checkpoint;
    if (!cp || checked.signature === "bad") return Promise.resolve({ status: "bad" });
    if (!window.crypto || !window.crypto.subtle || !CH.tlog) return Promise.resolve({ status: "unchecked" });
    var map = mapLine(cp);
    if (!map || !data.subject_map) return Promise.resolve({ status: "unavailable" });
    if (data.truncated) return Promise.resolve({ status: "unavailable" });
    var root = T().b64ToBytes(cp.root);
    var proven = (data.records || []).filter(function (item) { return item.proof !== null && item.index !== null; });
    var embargoed = data.embargoed || [];
    var subjects = {};
    proven.forEach(function (item) { subjects[item.record.subject] = true; });
    var checks = proven.map(function (item) {
      return CH.checkRecord(item, cp).then(function (status) { return status === "ok"; });
    }).concat(embargoed.map(function (item) {
      return included(T().b64ToBytes(item.leaf_hash), item.index, cp.size, item.proof, root);
    }));
    return Promise.all([lookup(data.subject_map, map), Promise.all(checks)]).then(function (all) {
      var head = all[0], oks = all[1];
      var indices = proven.map(function (item) { return item.index; })
        .concat(embargoed.map(function (item) { return item.index; }));
      var distinct = {};
      indices.forEach(function (index) { distinct[index] = true; });
      var expected = head ? head.count : 0;
      var ok = oks.indexOf(false) < 0 && Object.keys(subjects).length <= 1 &&
        Object.keys(distinct).length === indices.length && indices.length === expected &&
        (!head || Math.max.apply(null, indices) === head.last);
      return { status: ok ? "ok" : "bad", count: expected, proven: indices.length, embargoed: embargoed.length };
    }).catch(function () { return { status: "bad" }; });
  };
})();
