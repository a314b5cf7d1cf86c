/* 用证审计: search the authorized-use log (holder codes masked, refusals
   in plain Chinese, a record's inclusion proof checked in this browser, CSV
   export), anomaly flags grouped by kind, per-department charts (plain HTML
   bars and an SVG day chart on a continuous axis, usage.js), verifying the
   whole log with the same checks as `certhub audit verify`, and checking on
   every visit that the log only grew since this browser last saw it
   (logconsistency.js). */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  var state = { session: null, next: null, query: null, items: [], checkpoint: null };
  var EXPORT_DAYS = 30;

  var FLAGS = {
    no_matter: [CH.t("audit.no_matter_recorded"), CH.t("audit.data_was_provided_without_a_matter")],
    off_hours: [CH.t("audit.outside_working_hours"), CH.t("audit.data_was_provided_outside_working_hours")],
    many_subjects: [CH.t("audit.many_queries_in_a_short_time"), CH.t("audit.one_operator_queried_many_holders_in")],
    repeated_denials: [CH.t("audit.repeatedly_refused"), CH.t("audit.one_operator_was_refused_many_times")],
  };

  var VERIFY_FAILURES = {
    missing_checkpoint: CH.t("audit.the_log_has_not_published_a"),
    bad_signature: CH.t("audit.checkpoint_signature_invalid_wrong_public_key"),
    malformed_checkpoint: CH.t("audit.malformed_checkpoint"),
    origin_mismatch: CH.t("audit.the_checkpoint_belongs_to_another_log"),
    bad_key: CH.t("audit.malformed_verification_key"),
    root_mismatch: CH.t("audit.the_root_hash_does_not_match"),
    tile_mismatch: CH.t("audit.a_hash_tile_does_not_match"),
    entry_mismatch: CH.t("audit.a_log_entry_does_not_match"),
    inconsistent_history: CH.t("audit.the_log_is_inconsistent_with_an"),
    fetch_failed: CH.t("audit.could_not_read_the_log_data"),
  };

  // A staff session (staff.js) of a person with the auditor role.
  var staff = CH.staffSession({ name: "audit", scope: "audit:read", onSignedIn: signedIn, onSignedOut: clearScreen });

  function auditApi(path, options) {
    options = Object.assign({ token: staff.token() }, options || {});
    return CH.api(path, options).then(function (result) {
      if (result.status === 401) staff.signOut(CH.t("audit.your_sign_in_has_expired_please"));
      return result;
    });
  }
  function auditError(message) { CH.showError($("audit-error"), message); }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("audit-app").hidden = false;
    staff.describe($("whoami"), CH.t("audit.signed_in_as"), saved);
    fillFilters();
    search(false);
    watchLog();
  }

  // Signing out leaves no record on the screen.
  function clearScreen() {
    state.session = null;
    $("audit-app").hidden = true;
    $("signin").hidden = false;
    $("whoami").textContent = "";
    $("record-detail").hidden = true;
    state.items = [];
    Array.prototype.forEach.call(document.querySelectorAll("#audit-app tbody"), function (body) { CH.clear(body); });
  }

  function bindSignIn() {
    staff.bind();
    $("sign-out").addEventListener("click", function () { staff.signOut(); });
  }

  /* ------------------------------------------------------------ search */
  function fillFilters() {
    CH.catalog("departments").then(function (departments) { fillSelect($("f-department"), departments); });
    CH.catalog("matters").then(function (matters) { fillSelect($("f-matter"), matters); });
  }
  function fillSelect(select, map) {
    while (select.options.length > 1) select.remove(1);
    Object.keys(map).sort(function (a, b) { return map[a].name.localeCompare(map[b].name, "zh-CN"); })
      .forEach(function (code) { select.appendChild(el("option", { value: code, text: map[code].name })); });
  }

  function localToIso(value) {
    if (!value) return null;
    var d = new Date(value);
    return isNaN(d.getTime()) ? null : d.toISOString();
  }

  // The filters go in the request body: a holder's code in a URL would be written to the access log.
  function currentQuery() {
    var query = {};
    [["department", "f-department"], ["operator", "f-operator"], ["subject", "f-subject"], ["matter", "f-matter"],
     ["basis", "f-basis"], ["result", "f-result"]].forEach(function (pair) {
      var value = $(pair[1]).value.trim();
      if (value) query[pair[0]] = pair[0] === "subject" ? value.toUpperCase() : value;
    });
    var since = localToIso($("f-since").value), until = localToIso($("f-until").value);
    if (since) query.since = since;
    if (until) query.until = until;
    query.limit = 50;
    return query;
  }

  function search(more) {
    var query = Object.assign({}, more ? state.query : currentQuery());
    if (!more) state.query = Object.assign({}, query);
    if (more && state.next) query.before_id = state.next;
    // Only the newest search draws: an earlier one answering late must not replace its rows.
    var seq = state.searchSeq = (state.searchSeq || 0) + 1;
    $("records-table").setAttribute("aria-busy", "true");
    Promise.all([auditApi("/api/v1/audit/records/search", { body: query }), CH.catalog("departments"),
                 CH.catalog("matters")])
      .then(function (all) {
        var result = all[0];
        if (seq !== state.searchSeq) return;
        $("records-table").setAttribute("aria-busy", "false");
        if (!result.ok) { auditError(CH.errorText(result, CH.t("audit.search_failed"))); return; }
        auditError("");
        var body = $("records-table").tBodies[0];
        if (!more) { CH.clear(body); state.items = []; $("record-detail").hidden = true; }
        state.checkpoint = result.data.checkpoint || null;
        var records = result.data.records || [];
        records.forEach(function (item) {
          state.items.push(item);
          body.appendChild(recordRow(item, state.items.length - 1, all[1], all[2]));
        });
        state.next = result.data.next;
        $("search-more").hidden = !state.next;
        $("search-summary").textContent = CH.t("audit.showing") + body.rows.length + CH.t("audit.records") + (state.next ? CH.t("audit.more_available") : "") +
          CH.t("audit.log_checkpoint_size") + (result.data.size || 0) + CH.t("audit.entries");
      });
  }

  function resultText(r) {
    return CH.resultLabel(r.result) + (r.reason ? CH.t("audit.colon") + CH.refusalLabel(r.reason) : "");
  }
  function position(item) { return item.index === null || item.index === undefined ? CH.t("audit.pending") : "#" + item.index; }

  // The holder's code is masked on screen (identity/masking.py's rule); the
  // full code stays in memory only, for the record's leaf hash.
  function recordRow(item, at, departments, matters) {
    var r = item.record || {};
    var granted = r.result === "granted";
    return el("tr", { "data-result": r.result, "data-kind": r.kind, "data-reason": r.reason || "" },
      el("td", { text: CH.formatTime(r.time) }),
      el("td", { text: CH.nameOf(departments, r.department) }),
      el("td", { class: "mono", text: r.operator }),
      el("td", { class: "mono holder", text: CH.maskHolder(r.subject) }),
      el("td", { text: r.matter ? CH.nameOf(matters, r.matter) : "—" }),
      el("td", { text: r.purpose || "—" }),
      el("td", { text: CH.basisLabel(r.basis) + CH.t("audit.paren_open") + CH.kindLabel(r.kind) + CH.t("audit.paren_close") }),
      el("td", null, el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"), text: resultText(r) })),
      el("td", { class: "num" }, el("button", { type: "button", class: "link-button detail-open", "data-item": String(at),
                                                "aria-label": CH.t("audit.view_record") + position(item) + CH.t("audit.details_and_log_proof"),
                                                text: position(item) + CH.t("audit.details") })));
  }

  /* ------------------------------------------------------------ drill-down */
  // One record with everything it logged, its leaf hash recomputed and its
  // inclusion proof checked here against the checkpoint, whose signature is
  // checked under the verifier keys this browser saved (logconsistency.js).
  function openDetail(at) {
    var item = state.items[at];
    if (!item) return;
    var r = item.record || {};
    Promise.all([CH.catalog("departments"), CH.catalog("matters")]).then(function (all) {
      var list = CH.clear($("detail-fields"));
      function row(label, value) { list.appendChild(el("dt", { text: label })); list.appendChild(el("dd", { text: value })); }
      row(CH.t("audit.time"), CH.formatTime(r.time));
      row(CH.t("audit.using_department"), CH.nameOf(all[0], r.department) + CH.t("audit.paren_open") + r.department + CH.t("audit.paren_close"));
      row(CH.t("audit.operator_id"), r.operator || "—");
      row(CH.t("audit.holder"), CH.maskHolder(r.subject));
      row(CH.t("audit.kind_of_use"), CH.kindLabel(r.kind));
      row(CH.t("audit.legal_basis"), CH.basisLabel(r.basis));
      row(CH.t("audit.matter"), r.matter ? CH.nameOf(all[1], r.matter) + CH.t("audit.paren_open") + r.matter + CH.t("audit.paren_close") : "—");
      row(CH.t("audit.purpose"), r.purpose || "—");
      row(CH.t("audit.case_number"), r.case_number || "—");
      row(CH.t("audit.licences"), (r.licence_ids || []).join(CH.t("audit.comma")) || "—");
      row(CH.t("audit.data_items"), (r.data_items || []).join(CH.t("audit.comma")) || "—");
      row(CH.t("audit.fields_provided"), (r.fields || []).join(CH.t("audit.comma")) || "—");
      row(CH.t("audit.result"), resultText(r));
      row(CH.t("audit.log_position"), position(item));
      row(CH.t("audit.record_hash"), item.leaf_hash || "—");
      var box = $("record-detail");
      box.hidden = false;
      box.dataset.index = item.index === null || item.index === undefined ? "" : String(item.index);
      box.focus();
      checkDetailProof(item);
    });
  }

  function checkDetailProof(item) {
    var out = $("detail-proof");
    out.removeAttribute("data-proof");
    out.className = "";
    out.textContent = CH.t("audit.verifying_the_log_proof_in_this");
    var checkpoint = state.checkpoint ? CH.parseCheckpoint(state.checkpoint) : null;
    var saved = CH.logWatch.saved();
    var keys = saved && saved.keys ? saved.keys : [];
    var signature = checkpoint && keys.length ? CH.logWatch.signedByOneOf(checkpoint, keys) : Promise.resolve(false);
    Promise.all([signature, CH.checkRecord(item, checkpoint)]).then(function (all) {
      var verdict = all[1] === "ok" && !all[0] ? "unsigned" : all[1];
      out.dataset.proof = verdict;
      out.className = verdict === "ok" ? "verify-ok" : verdict === "pending" ? "muted" : "verify-bad";
      out.textContent = {
        ok: CH.t("audit.verified_in_this_browser_the_record") + checkpoint.size + CH.t("audit.entries_and_the_checkpoint_signature_is"),
        pending: CH.t("audit.this_record_is_not_yet_in"),
        unsigned: CH.t("audit.the_inclusion_proof_holds_but_the"),
        present: CH.t("audit.this_browser_does_not_support_webcrypto"),
        bad: CH.t("audit.verification_failed_the_record_or_its"),
      }[verdict] || verdict;
    }, function () {
      out.dataset.proof = "bad";
      out.textContent = CH.t("audit.verification_failed");
    });
  }

  /* ------------------------------------------------------------ CSV export */
  // The export API's JSON lines (checkpoint, records with proofs, end line)
  // as a CSV file: one row per record, the holder masked, the log position
  // and leaf hash kept so each row can be traced back to its proof.
  var CSV_COLUMNS = [CH.t("audit.time"), CH.t("audit.using_department"), CH.t("audit.operator_id"), CH.t("audit.holder_masked"), CH.t("audit.kind_of_use"), CH.t("audit.legal_basis"), CH.t("audit.matter"), CH.t("audit.purpose"),
                     CH.t("audit.case_number"), CH.t("audit.licences"), CH.t("audit.data_items"), CH.t("audit.fields_provided"), CH.t("audit.result"), CH.t("audit.refusal_reason"), CH.t("audit.log_position"), CH.t("audit.record_hash")];
  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    // A cell a spreadsheet would run as a formula (CSV injection) is kept as text.
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function csvRow(line) {
    var r = line.record || {};
    return [r.time, r.department, r.operator, CH.maskHolder(r.subject), r.kind, r.basis, r.matter, r.purpose,
            r.case_number, (r.licence_ids || []).join(" "), (r.data_items || []).join(" "), (r.fields || []).join(" "),
            CH.resultLabel(r.result), r.reason ? CH.refusalLabel(r.reason) : "", line.index, line.leaf_hash].map(csvCell).join(",");
  }

  function exportCsv() {
    var query = currentQuery();
    delete query.limit;
    if (!query.subject && !(query.since && query.until)) {
      var until = query.until ? new Date(query.until) : new Date(Date.now() + 60000);
      query.until = until.toISOString();
      if (!query.since) query.since = new Date(until.getTime() - EXPORT_DAYS * 86400000).toISOString();
    }
    var button = $("export-csv");
    button.disabled = true;
    window.fetch("/api/v1/audit/export", {
      method: "POST", credentials: "omit", cache: "no-store",
      headers: { Authorization: "Bearer " + staff.token(), "Content-Type": "application/json", Accept: "application/x-ndjson" },
      body: JSON.stringify(query),
    }).then(function (response) {
      if (response.status === 401) staff.signOut(CH.t("audit.your_sign_in_has_expired_please"));
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          auditError(CH.t("audit.export_failed") + (body.message || response.status));
        });
      }
      return response.text().then(function (text) {
        var lines = text.split("\n").filter(Boolean).map(function (line) { return JSON.parse(line); });
        var end = lines.length && lines[lines.length - 1].end;
        if (!end) { auditError(CH.t("audit.the_export_is_incomplete_no_closing")); return; }
        auditError("");
        var rows = lines.filter(function (line) { return line.record; }).map(csvRow);
        var csv = "\ufeff" + [CSV_COLUMNS.join(",")].concat(rows).join("\r\n") + "\r\n";
        var link = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" })),
                             download: CH.t("audit.use_records") + CH.shanghaiDay(0) + ".csv" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        CH.announce(CH.t("audit.exported") + rows.length + CH.t("audit.records") + (end.truncated ? CH.t("audit.truncated") : ""));
      });
    }).then(function () { button.disabled = false; }, function () { button.disabled = false; auditError(CH.t("audit.export_failed_2")); });
  }

  /* ------------------------------------------------------------ anomalies */
  function range(days) {
    var until = new Date(Date.now() + 60000);
    var since = new Date(until.getTime() - days * 86400000);
    return "since=" + encodeURIComponent(since.toISOString()) + "&until=" + encodeURIComponent(until.toISOString());
  }

  function loadAnomalies() {
    Promise.all([auditApi("/api/v1/audit/anomalies?" + range(Number($("a-days").value))), CH.catalog("departments")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { auditError(CH.errorText(result, CH.t("audit.could_not_load_the_anomalies"))); return; }
        auditError("");
        var body = CH.clear($("anomalies-table").tBodies[0]);
        var flags = result.data.flags || [];
        $("anomalies-empty").hidden = flags.length > 0;
        $("anomalies-truncated").hidden = !result.data.truncated;
        groupFlags(flags).forEach(function (group) { body.appendChild(anomalyRow(group, all[1])); });
      });
  }

  // One row per kind of flag (a burst of refusals is one lead, not a row per refusal).
  function groupFlags(flags) {
    var groups = {}, order = [];
    flags.forEach(function (flag) {
      if (!groups[flag.flag]) { groups[flag.flag] = { kind: flag.flag, flags: [] }; order.push(flag.flag); }
      groups[flag.flag].flags.push(flag);
    });
    return order.map(function (kind) { return groups[kind]; });
  }
  function distinct(values) { return values.filter(function (v, i) { return values.indexOf(v) === i; }); }

  var FLAG_DETAIL_ROWS = 50;
  function anomalyRow(group, departments) {
    var known = FLAGS[group.kind] || [group.kind, ""];
    var times = group.flags.map(function (f) { return f.time; }).sort();
    var operators = distinct(group.flags.map(function (f) { return f.operator; }));
    var units = distinct(group.flags.map(function (f) { return CH.nameOf(departments, f.department); }));
    var list = el("ul", { class: "flag-list" });
    group.flags.slice(0, FLAG_DETAIL_ROWS).forEach(function (flag) {
      var extra = flag.distinct_subjects ? CH.t("audit.comma") + flag.distinct_subjects + CH.t("audit.operators") : flag.denials ? CH.t("audit.comma") + flag.denials + CH.t("audit.times") : "";
      list.appendChild(el("li", { text: CH.formatTime(flag.time) + " · " + CH.nameOf(departments, flag.department) + " · " +
        flag.operator + extra + " · " + position(flag) }));
    });
    if (group.flags.length > FLAG_DETAIL_ROWS) list.appendChild(el("li", { text: CH.t("audit.and") + (group.flags.length - FLAG_DETAIL_ROWS) + CH.t("audit.entries") }));
    return el("tr", { "data-flag": group.kind, "data-count": String(group.flags.length) },
      el("td", null, el("span", { class: "badge badge-suspended", text: known[0] }), el("div", { class: "small muted", text: known[1] })),
      el("td", { class: "num", text: String(group.flags.length) }),
      el("td", { text: operators.slice(0, 5).join(CH.t("audit.comma")) + (operators.length > 5 ? CH.t("audit.and_2") + operators.length + CH.t("audit.operators") : "") }),
      el("td", { text: units.join(CH.t("audit.comma")) }),
      el("td", { text: CH.formatTime(times[0]) }),
      el("td", { text: CH.formatTime(times[times.length - 1]) }),
      el("td", null, el("details", null, el("summary", { text: CH.t("audit.view_each_record") }), list)));
  }

  /* ------------------------------------------------------------ charts */
  function loadStats() {
    var days = Number($("s-days").value);
    Promise.all([auditApi("/api/v1/audit/stats?" + range(days)), CH.catalog("departments")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { auditError(CH.errorText(result, CH.t("audit.could_not_load_the_statistics"))); return; }
        auditError("");
        drawDepartments(result.data.by_department || {}, all[1]);
        // Every day of the range on the axis (China Standard Time, as the API counts them), zero days too.
        CH.dayChart($("day-chart"), CH.dayRange(CH.shanghaiDay(-days), CH.shanghaiDay(0)), result.data.by_day || {});
      });
  }

  function drawDepartments(byDepartment, departments) {
    var list = CH.clear($("dept-bars"));
    var codes = Object.keys(byDepartment);
    $("stats-empty").hidden = codes.length > 0;
    var total = function (c) { return (byDepartment[c].granted || 0) + (byDepartment[c].denied || 0); };
    codes.sort(function (a, b) { return total(b) - total(a); });
    var max = Math.max.apply(null, codes.map(total).concat([1]));
    codes.forEach(function (code) {
      var counts = byDepartment[code];
      var granted = counts.granted || 0, denied = counts.denied || 0;
      var grantedBar = el("span", { class: "bar-granted" });
      var deniedBar = el("span", { class: "bar-denied" });
      grantedBar.style.width = (100 * granted / max) + "%";
      deniedBar.style.width = (100 * denied / max) + "%";
      list.appendChild(el("li", { class: "bar-row", "data-department": code },
        el("span", { class: "bar-label", text: CH.nameOf(departments, code) }),
        el("span", { class: "bar-track", role: "img",
                     "aria-label": CH.t("audit.provided") + granted + CH.t("audit.times_refused") + denied + CH.t("audit.times") }, grantedBar, deniedBar),
        el("span", { class: "bar-count", text: granted + " / " + denied })));
    });
  }

  /* ------------------------------------------------------------ verify */
  function verifyLog() {
    var button = $("verify-log");
    var box = CH.clear($("verify-result"));
    button.disabled = true;
    box.appendChild(el("p", { text: CH.t("audit.verifying_a_large_log_takes_a") }));
    var key = $("verifier-key").value.trim();
    auditApi("/web/api/verify-log", { body: key ? { key: key } : {} }).then(function (result) {
      button.disabled = false;
      CH.clear(box);
      if (!result.ok) { box.appendChild(el("p", { class: "verify-bad", text: CH.errorText(result, CH.t("audit.the_verification_request_failed")) })); return; }
      var r = result.data;
      box.dataset.ok = r.ok ? "true" : "false";
      var details = el("dl");
      function row(label, value) { details.appendChild(el("dt", { text: label })); details.appendChild(el("dd", { text: value })); }
      if (r.ok) {
        box.appendChild(el("p", { class: "verify-ok", text: CH.t("audit.log_verified") }));
        row(CH.t("audit.log"), r.origin);
        row(CH.t("audit.entries_2"), String(r.size));
        row(CH.t("audit.root_hash"), r.root_hash);
        row(CH.t("audit.checkpoint_signature"), r.signature_ok ? CH.t("audit.valid") : CH.t("audit.invalid"));
        row(CH.t("audit.checked"), r.tiles_checked + CH.t("audit.hash_tiles") + r.entries_checked + CH.t("audit.records"));
        row(CH.t("audit.verification_key"), r.key + (r.key_source === "server" ? CH.t("audit.published_by_this_platform") : CH.t("audit.provided_by_you")));
        CH.announce(CH.t("audit.log_verified_entries") + r.size + CH.t("audit.records"));
      } else {
        box.appendChild(el("p", { class: "verify-bad", text: CH.t("audit.log_verification_failed") }));
        row(CH.t("audit.reason"), (VERIFY_FAILURES[r.code] || CH.t("audit.verification_failed_2")) + CH.t("audit.paren_open") + r.code + CH.t("audit.paren_close"));
        row(CH.t("audit.details_2"), r.message);
        if (r.path) row(CH.t("audit.first_bad_resource"), r.path);
        if (r.index !== null && r.index !== undefined) row(CH.t("audit.first_bad_record"), "#" + r.index);
        CH.announce(CH.t("audit.log_verification_failed_2"));
      }
      box.appendChild(details);
    });
  }

  /* ------------------------------------------------------------ the log only grows */
  // On every visit: the server's checkpoint against the one this browser saved
  // (logconsistency.js), the proof fetched with the auditor's token.
  function fetchConsistency(old, current) {
    return auditApi("/api/v1/audit/proofs/consistency?old=" + old + "&new=" + current).then(function (result) {
      return result.ok && Array.isArray(result.data.proof) ? result.data.proof : null;
    });
  }

  // Each new checkpoint must also meet the witness policy this browser pinned
  // (logproof.js), when the log has witnesses: a split view needs them too.
  if (CH.checkWitnesses) CH.logWatch.addCheck(CH.checkWitnesses);

  function watchLog() {
    var key = $("verifier-key").value.trim();
    return CH.logWatch.check({ fetchConsistency: fetchConsistency, keys: key ? [key] : [] }).then(showLogState);
  }

  function showLogState(result) {
    var line = $("log-state"), alarmBox = CH.clear($("log-alarm"));
    line.dataset.state = result.state;
    alarmBox.hidden = result.state !== "alarm";
    line.hidden = result.state === "alarm";
    if (result.state === "alarm") {
      alarmBox.dataset.code = result.code;
      alarmBox.appendChild(el("strong", { text: CH.t("audit.alert_the_use_log_is_inconsistent") }));
      alarmBox.appendChild(el("span", { text: result.message }));
      if (result.saved) alarmBox.appendChild(el("div", { class: "small", text: CH.t("audit.checkpoint_saved_in_this_browser") + result.saved.size +
        CH.t("audit.entries_root_hash") + result.saved.root + CH.t("audit.checked_at") + CH.formatTime(result.saved.seen_at) + CH.t("audit.the_conflicting_checkpoint_has_been_kept") }));
      CH.announce(CH.t("audit.alert_the_use_log_is_inconsistent_2"));
    } else if (result.state === "first") {
      line.textContent = CH.t("audit.first_log_checkpoint_recorded_in_this") + result.checkpoint.size + CH.t("audit.entries_3") +
        (result.keySource === "server" ? CH.t("audit.verified_with_the_key_published_by") : "") +
        CH.t("audit.next_time_this_page_opens_this");
    } else if (result.state === "consistent") {
      line.textContent = CH.t("audit.verified_in_this_browser_the_log") + result.previous.size + CH.t("audit.entries_checked_last_time_to") +
        result.checkpoint.size + CH.t("audit.entries_history_was_not_rewritten_and");
    } else {
      line.textContent = result.message;
    }
    showSavedCheckpoint();
  }

  function showSavedCheckpoint() {
    var saved = CH.logWatch.saved(), list = CH.clear($("saved-checkpoint"));
    function row(label, value) { list.appendChild(el("dt", { text: label })); list.appendChild(el("dd", { class: "mono", text: value })); }
    if (!saved) { row(CH.t("audit.checkpoint_saved_in_this_browser_2"), CH.t("audit.none")); return; }
    row(CH.t("audit.checkpoint_saved_in_this_browser_2"), saved.size + CH.t("audit.entries_checked_at") + CH.formatTime(saved.seen_at));
    row(CH.t("audit.root_hash"), saved.root);
    row(CH.t("audit.verification_key"), saved.keys.join("\n"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindSignIn();
    $("search-form").addEventListener("submit", function (event) { event.preventDefault(); search(false); });
    $("search-form").addEventListener("reset", function () { window.setTimeout(function () { search(false); }, 0); });
    $("search-more").addEventListener("click", function () { search(true); });
    $("export-csv").addEventListener("click", exportCsv);
    $("records-table").addEventListener("click", function (event) {
      var button = event.target.closest(".detail-open");
      if (button) openDetail(Number(button.dataset.item));
    });
    $("detail-close").addEventListener("click", function () { $("record-detail").hidden = true; });
    $("recheck-log").addEventListener("click", watchLog);
    $("anomaly-form").addEventListener("submit", function (event) { event.preventDefault(); loadAnomalies(); });
    $("stats-form").addEventListener("submit", function (event) { event.preventDefault(); loadStats(); });
    $("verify-log").addEventListener("click", verifyLog);
    CH.tabs(document.querySelector(".tabs"), function (id) {
      if (id === "tab-anomalies") loadAnomalies();
      else if (id === "tab-stats") loadStats();
    });
    var saved = staff.resume();
    if (saved) signedIn(saved);
    else { var first = $("demo-login") || $("staff-id-token"); if (first) first.focus(); }
  });
})();
