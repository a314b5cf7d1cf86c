/* 用证审计: search the authorized-use log, anomaly flags, per-department
   charts (plain HTML bars and an SVG, no chart library), and verifying the
   whole log with the same checks as `certhub audit verify`. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  var SVG = "http://www.w3.org/2000/svg";
  var state = { session: null, next: null, query: null };

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
  }

  // Signing out leaves no record on the screen.
  function clearScreen() {
    state.session = null;
    $("audit-app").hidden = true;
    $("signin").hidden = false;
    $("whoami").textContent = "";
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
    Promise.all([auditApi("/api/v1/audit/records/search", { body: query }), CH.catalog("departments"),
                 CH.catalog("matters")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { auditError(CH.errorText(result, "检索失败")); return; }
        auditError("");
        var body = $("records-table").tBodies[0];
        if (!more) CH.clear(body);
        var records = result.data.records || [];
        records.forEach(function (item) { body.appendChild(recordRow(item, all[1], all[2])); });
        state.next = result.data.next;
        $("search-more").hidden = !state.next;
        $("search-summary").textContent = "共显示 " + body.rows.length + " 条记录" + (state.next ? "（还有更多）" : "") +
          "　日志检查点共 " + (result.data.size || 0) + " 条";
      });
  }

  function recordRow(item, departments, matters) {
    var r = item.record || {};
    var granted = r.result === "granted";
    return el("tr", { "data-subject": r.subject || "", "data-result": r.result, "data-kind": r.kind },
      el("td", { text: CH.formatTime(r.time) }),
      el("td", { text: CH.nameOf(departments, r.department) }),
      el("td", { class: "mono", text: r.operator }),
      el("td", { class: "mono", text: r.subject || "—" }),
      el("td", { text: r.matter ? CH.nameOf(matters, r.matter) : "—" }),
      el("td", { text: r.purpose || "—" }),
      el("td", { text: CH.basisLabel(r.basis) + "（" + CH.kindLabel(r.kind) + "）" }),
      el("td", null, el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"),
                                  text: CH.resultLabel(r.result) + (r.reason ? "：" + r.reason : "") })),
      el("td", { class: "num", text: item.index === null || item.index === undefined ? "待收录" : "#" + item.index }));
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
        flags.forEach(function (flag) {
          var known = FLAGS[flag.flag] || [flag.flag, ""];
          var note = known[1];
          if (flag.distinct_subjects) note += "（" + flag.distinct_subjects + " 人）";
          if (flag.denials) note += "（" + flag.denials + " 次）";
          body.appendChild(el("tr", { "data-flag": flag.flag },
            el("td", null, el("span", { class: "badge badge-suspended", text: known[0] })),
            el("td", { text: CH.formatTime(flag.time) }),
            el("td", { text: CH.nameOf(all[1], flag.department) }),
            el("td", { class: "mono", text: flag.operator }),
            el("td", { text: note }),
            el("td", { class: "num", text: flag.index === null || flag.index === undefined ? "待收录" : "#" + flag.index })));
        });
      });
  }

  /* ------------------------------------------------------------ charts */
  function loadStats() {
    Promise.all([auditApi("/api/v1/audit/stats?" + range(Number($("s-days").value))), CH.catalog("departments")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { auditError(CH.errorText(result, "统计加载失败")); return; }
        auditError("");
        drawDepartments(result.data.by_department || {}, all[1]);
        drawDays(result.data.by_day || {});
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

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function drawDays(byDay) {
    var box = CH.clear($("day-chart"));
    var days = Object.keys(byDay).sort();
    if (!days.length) { box.appendChild(el("p", { class: "muted", text: "暂无数据。" })); return; }
    var width = 640, height = 200, pad = 28;
    var max = Math.max.apply(null, days.map(function (d) { return (byDay[d].granted || 0) + (byDay[d].denied || 0); }).concat([1]));
    var step = (width - pad) / days.length, barWidth = Math.min(40, Math.max(2, step * 0.7));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "day-chart", role: "img",
                             "aria-label": "每日用证次数，共 " + days.length + " 天" });
    chart.appendChild(svg("line", { x1: pad, y1: height - pad, x2: width, y2: height - pad, stroke: "#9aa5b1" }));
    var top = svg("text", { x: 0, y: 12 });
    top.textContent = String(max);
    chart.appendChild(top);
    days.forEach(function (day, i) {
      var granted = byDay[day].granted || 0, denied = byDay[day].denied || 0;
      var scale = (height - 2 * pad) / max;
      var x = pad + i * step + (step - barWidth) / 2;
      var gH = granted * scale, dH = denied * scale;
      var g = svg("rect", { x: x, y: height - pad - gH, width: barWidth, height: gH, fill: "#13733a" });
      var d = svg("rect", { x: x, y: height - pad - gH - dH, width: barWidth, height: dH, fill: "#b3261e" });
      var title = svg("title");
      title.textContent = day + "：已提供 " + granted + "，已拒绝 " + denied;
      g.appendChild(title);
      chart.appendChild(g);
      chart.appendChild(d);
      if (days.length <= 14 || i % Math.ceil(days.length / 10) === 0) {
        var label = svg("text", { x: x, y: height - 8 });
        label.textContent = day.slice(5);
        chart.appendChild(label);
      }
    });
    box.appendChild(chart);
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
        box.appendChild(el("p", { class: "verify-bad", text: "✗ 日志验证未通过" }));
        row("原因", (VERIFY_FAILURES[r.code] || "验证失败") + "（" + r.code + "）");
        row("详细信息", r.message);
        if (r.path) row("首个异常资源", r.path);
        if (r.index !== null && r.index !== undefined) row("首个异常记录", "#" + r.index);
        CH.announce("日志验证未通过");
      }
      box.appendChild(details);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindSignIn();
    $("search-form").addEventListener("submit", function (event) { event.preventDefault(); search(false); });
    $("search-form").addEventListener("reset", function () { window.setTimeout(function () { search(false); }, 0); });
    $("search-more").addEventListener("click", function () { search(true); });
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
