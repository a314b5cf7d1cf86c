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
    no_matter: ["无办理事项", "提供了数据但没有记录办理事项"],
    off_hours: ["非工作时间", "在工作时间以外提供了数据"],
    many_subjects: ["短时间大量查询", "同一经办人短时间内查询了大量持证人"],
    repeated_denials: ["多次被拒", "同一经办人短时间内多次被拒绝"],
  };

  var VERIFY_FAILURES = {
    missing_checkpoint: "日志尚未发布检查点",
    bad_signature: "检查点签名无效（公钥不符或检查点被篡改）",
    malformed_checkpoint: "检查点格式错误",
    origin_mismatch: "检查点不属于该日志",
    bad_key: "验证公钥格式错误",
    root_mismatch: "根哈希与检查点不一致，哈希分片被篡改",
    tile_mismatch: "哈希分片与上一层不一致，分片被篡改",
    entry_mismatch: "日志条目与其哈希不符，记录被篡改或缺失",
    inconsistent_history: "日志与早前的检查点不一致",
    fetch_failed: "读取日志数据失败",
  };

  // A staff session (staff.js) of a person with the auditor role.
  var staff = CH.staffSession({ name: "audit", scope: "audit:read", onSignedIn: signedIn, onSignedOut: clearScreen });

  function auditApi(path, options) {
    options = Object.assign({ token: staff.token() }, options || {});
    return CH.api(path, options).then(function (result) {
      if (result.status === 401) staff.signOut("登录已失效，请重新登录。");
      return result;
    });
  }
  function auditError(message) { CH.showError($("audit-error"), message); }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("audit-app").hidden = false;
    staff.describe($("whoami"), "当前人员：", saved);
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
        if (!result.ok) { auditError(CH.errorText(result, "检索失败")); return; }
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
        $("search-summary").textContent = "共显示 " + body.rows.length + " 条记录" + (state.next ? "（还有更多）" : "") +
          "　日志检查点共 " + (result.data.size || 0) + " 条";
      });
  }

  function resultText(r) {
    return CH.resultLabel(r.result) + (r.reason ? "：" + CH.refusalLabel(r.reason) : "");
  }
  function position(item) { return item.index === null || item.index === undefined ? "待收录" : "#" + item.index; }

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
      el("td", { text: CH.basisLabel(r.basis) + "（" + CH.kindLabel(r.kind) + "）" }),
      el("td", null, el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"), text: resultText(r) })),
      el("td", { class: "num" }, el("button", { type: "button", class: "link-button detail-open", "data-item": String(at),
                                                "aria-label": "查看记录 " + position(item) + " 详情及日志证明",
                                                text: position(item) + " 详情" })));
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
      row("时间", CH.formatTime(r.time));
      row("用证部门", CH.nameOf(all[0], r.department) + "（" + r.department + "）");
      row("经办人工号", r.operator || "—");
      row("持证人", CH.maskHolder(r.subject));
      row("用证方式", CH.kindLabel(r.kind));
      row("用证依据", CH.basisLabel(r.basis));
      row("办理事项", r.matter ? CH.nameOf(all[1], r.matter) + "（" + r.matter + "）" : "—");
      row("用证事由", r.purpose || "—");
      row("案卷编号", r.case_number || "—");
      row("证照", (r.licence_ids || []).join("，") || "—");
      row("数据项", (r.data_items || []).join("，") || "—");
      row("提供字段", (r.fields || []).join("，") || "—");
      row("结果", resultText(r));
      row("日志位置", position(item));
      row("记录哈希", item.leaf_hash || "—");
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
    out.textContent = "正在本机验证日志证明…";
    var checkpoint = state.checkpoint ? CH.parseCheckpoint(state.checkpoint) : null;
    var saved = CH.logWatch.saved();
    var keys = saved && saved.keys ? saved.keys : [];
    var signature = checkpoint && keys.length ? CH.logWatch.signedByOneOf(checkpoint, keys) : Promise.resolve(false);
    Promise.all([signature, CH.checkRecord(item, checkpoint)]).then(function (all) {
      var verdict = all[1] === "ok" && !all[0] ? "unsigned" : all[1];
      out.dataset.proof = verdict;
      out.className = verdict === "ok" ? "verify-ok" : verdict === "pending" ? "muted" : "verify-bad";
      out.textContent = {
        ok: "✓ 已在本机验证：记录内容与其哈希一致，包含证明通向检查点（" + checkpoint.size + " 条）的根哈希，检查点签名有效。",
        pending: "该记录尚未收录进已签名的检查点，稍后可验证。",
        unsigned: "× 包含证明成立，但检查点签名不能用本机保存的验证公钥验证。",
        present: "此浏览器不支持 WebCrypto，无法在本机验证。",
        bad: "× 验证未通过：记录内容或包含证明与检查点不符。",
      }[verdict] || verdict;
    }, function () {
      out.dataset.proof = "bad";
      out.textContent = "× 验证未通过。";
    });
  }

  /* ------------------------------------------------------------ CSV export */
  // The export API's JSON lines (checkpoint, records with proofs, end line)
  // as a CSV file: one row per record, the holder masked, the log position
  // and leaf hash kept so each row can be traced back to its proof.
  var CSV_COLUMNS = ["时间", "用证部门", "经办人工号", "持证人（脱敏）", "用证方式", "用证依据", "办理事项", "用证事由",
                     "案卷编号", "证照", "数据项", "提供字段", "结果", "拒绝原因", "日志位置", "记录哈希"];
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
      if (response.status === 401) staff.signOut("登录已失效，请重新登录。");
      if (!response.ok) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          auditError("导出失败：" + (body.message || response.status));
        });
      }
      return response.text().then(function (text) {
        var lines = text.split("\n").filter(Boolean).map(function (line) { return JSON.parse(line); });
        var end = lines.length && lines[lines.length - 1].end;
        if (!end) { auditError("导出不完整（未收到结束行），请重试。"); return; }
        auditError("");
        var rows = lines.filter(function (line) { return line.record; }).map(csvRow);
        var csv = "\ufeff" + [CSV_COLUMNS.join(",")].concat(rows).join("\r\n") + "\r\n";
        var link = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" })),
                             download: "用证记录-" + CH.shanghaiDay(0) + ".csv" });
        document.body.appendChild(link);
        link.click();
        link.remove();
        CH.announce("已导出 " + rows.length + " 条记录" + (end.truncated ? "（已截断）" : ""));
      });
    }).then(function () { button.disabled = false; }, function () { button.disabled = false; auditError("导出失败。"); });
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
        if (!result.ok) { auditError(CH.errorText(result, "异常提示加载失败")); return; }
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
      var extra = flag.distinct_subjects ? "，" + flag.distinct_subjects + " 人" : flag.denials ? "，" + flag.denials + " 次" : "";
      list.appendChild(el("li", { text: CH.formatTime(flag.time) + " · " + CH.nameOf(departments, flag.department) + " · " +
        flag.operator + extra + " · " + position(flag) }));
    });
    if (group.flags.length > FLAG_DETAIL_ROWS) list.appendChild(el("li", { text: "……另有 " + (group.flags.length - FLAG_DETAIL_ROWS) + " 条" }));
    return el("tr", { "data-flag": group.kind, "data-count": String(group.flags.length) },
      el("td", null, el("span", { class: "badge badge-suspended", text: known[0] }), el("div", { class: "small muted", text: known[1] })),
      el("td", { class: "num", text: String(group.flags.length) }),
      el("td", { text: operators.slice(0, 5).join("，") + (operators.length > 5 ? " 等 " + operators.length + " 人" : "") }),
      el("td", { text: units.join("，") }),
      el("td", { text: CH.formatTime(times[0]) }),
      el("td", { text: CH.formatTime(times[times.length - 1]) }),
      el("td", null, el("details", null, el("summary", { text: "逐条查看" }), list)));
  }

  /* ------------------------------------------------------------ charts */
  function loadStats() {
    var days = Number($("s-days").value);
    Promise.all([auditApi("/api/v1/audit/stats?" + range(days)), CH.catalog("departments")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { auditError(CH.errorText(result, "统计加载失败")); return; }
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
                     "aria-label": "已提供 " + granted + " 次，已拒绝 " + denied + " 次" }, grantedBar, deniedBar),
        el("span", { class: "bar-count", text: granted + " / " + denied })));
    });
  }

  /* ------------------------------------------------------------ verify */
  function verifyLog() {
    var button = $("verify-log");
    var box = CH.clear($("verify-result"));
    button.disabled = true;
    box.appendChild(el("p", { text: "正在验证，日志较大时需要一些时间…" }));
    var key = $("verifier-key").value.trim();
    auditApi("/web/api/verify-log", { body: key ? { key: key } : {} }).then(function (result) {
      button.disabled = false;
      CH.clear(box);
      if (!result.ok) { box.appendChild(el("p", { class: "verify-bad", text: CH.errorText(result, "验证请求失败") })); return; }
      var r = result.data;
      box.dataset.ok = r.ok ? "true" : "false";
      var details = el("dl");
      function row(label, value) { details.appendChild(el("dt", { text: label })); details.appendChild(el("dd", { text: value })); }
      if (r.ok) {
        box.appendChild(el("p", { class: "verify-ok", text: "✓ 日志验证通过" }));
        row("日志", r.origin);
        row("记录条数", String(r.size));
        row("根哈希", r.root_hash);
        row("检查点签名", r.signature_ok ? "有效" : "无效");
        row("已核对", r.tiles_checked + " 个哈希分片，" + r.entries_checked + " 条记录");
        row("验证公钥", r.key + (r.key_source === "server" ? "（本平台公布）" : "（您提供）"));
        CH.announce("日志验证通过，共 " + r.size + " 条记录");
      } else {
        box.appendChild(el("p", { class: "verify-bad", text: "× 日志验证未通过" }));
        row("原因", (VERIFY_FAILURES[r.code] || "验证失败") + "（" + r.code + "）");
        row("详细信息", r.message);
        if (r.path) row("首个异常资源", r.path);
        if (r.index !== null && r.index !== undefined) row("首个异常记录", "#" + r.index);
        CH.announce("日志验证未通过");
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
      alarmBox.appendChild(el("strong", { text: "⚠ 警报：用证日志与本机上次核对的不一致" }));
      alarmBox.appendChild(el("span", { text: result.message }));
      if (result.saved) alarmBox.appendChild(el("div", { class: "small", text: "本机保存的检查点：" + result.saved.size +
        " 条记录，根哈希 " + result.saved.root + "，核对于 " + CH.formatTime(result.saved.seen_at) + "。已保留冲突的检查点作为证据。" }));
      CH.announce("警报：用证日志与本机上次核对的不一致");
    } else if (result.state === "first") {
      line.textContent = "本机首次记录日志检查点（" + result.checkpoint.size + " 条记录）" +
        (result.keySource === "server" ? "，验证公钥取自本平台公布的公钥（建议在“日志验证”中填入通过其他渠道获得的公钥）" : "") +
        "。下次打开本页时将在本机验证日志只追加、未改写。";
    } else if (result.state === "consistent") {
      line.textContent = "✓ 已在本机验证：日志从上次核对的 " + result.previous.size + " 条记录一致地增长到 " +
        result.checkpoint.size + " 条，历史未被改写，检查点签名有效。";
    } else {
      line.textContent = result.message;
    }
    showSavedCheckpoint();
  }

  function showSavedCheckpoint() {
    var saved = CH.logWatch.saved(), list = CH.clear($("saved-checkpoint"));
    function row(label, value) { list.appendChild(el("dt", { text: label })); list.appendChild(el("dd", { class: "mono", text: value })); }
    if (!saved) { row("本机保存的检查点", "无"); return; }
    row("本机保存的检查点", saved.size + " 条记录，核对于 " + CH.formatTime(saved.seen_at));
    row("根哈希", saved.root);
    row("验证公钥", saved.keys.join("\n"));
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
