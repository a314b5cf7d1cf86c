/* What the auditor page and the public statistics page both show of the
   use log: refusal codes in plain Chinese, holder codes masked as
   identity/masking.py masks them, and the per-day chart (an SVG, no chart
   library) on a continuous day axis: every day of the range is drawn, the
   days without a use as zero. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});
  var SVG = "http://www.w3.org/2000/svg";

  // Every reason_code a denied use record carries (exchange/query policy and
  // fetch refusals, consent, mandates; the redeem API's verification codes).
  CH.REFUSALS = {
    no_policy: "无适用的共享依据",
    no_agreement: "无共享协议",
    agreement_pending: "共享申请待审批",
    agreement_expired: "共享协议已过期",
    agreement_revoked: "共享协议已被撤销",
    matter_not_agreed: "事项不在共享协议范围内",
    field_not_agreed: "字段不在共享协议范围内",
    field_unknown: "未知字段",
    item_not_shared: "不予共享",
    item_unknown: "未知数据项",
    not_unconditional: "非无条件共享数据",
    subject_kind_mismatch: "持证主体类型不符",
    subject_invalid: "证件号码无效",
    consent_missing: "未获持证人授权",
    no_consent: "未获持证人授权",
    consent_expired: "持证人授权已过期",
    consent_withdrawn: "持证人已撤回授权",
    no_mandate: "无监管执法授权",
    provider_not_connected: "提供部门系统未接入",
    provider_unavailable: "提供部门系统不可用",
    provider_error: "提供部门系统返回异常",
    replayed: "亮证码已使用",
    expired: "已过期",
    revoked: "证照已吊销",
    suspended: "证照已暂停",
    cancelled: "证照已注销",
    superseded: "证照已变更",
    code_superseded: "亮证码已被新码取代",
    signature_invalid: "签名无效",
    unknown_key: "未知签发机构",
    unknown_signer: "未知签发机构",
    key_not_valid: "签发密钥无效",
    type_not_allowed: "签发机构无权签发",
    not_yet_valid: "尚未生效",
    unknown_presentation: "未找到亮证记录",
    not_a_presentation: "不是亮证码",
    licence_not_found: "证照不存在",
    licence_not_presentable: "证照不可出示",
    status_unavailable: "无法确认证照状态",
    status_stale: "证照状态信息已过期",
    status_list_untrusted: "证照状态清单不可信",
    log_unavailable: "用证日志不可用",
    error: "系统错误",
    unknown: "未说明原因",
  };
  /* The Chinese label, the code beside it so an auditor can still search for it. */
  CH.refusalLabel = function (code) {
    var label = CH.REFUSALS[code || "unknown"];
    return label ? label + "（" + code + "）" : String(code);
  };

  // As identity/masking.py's id_number rule: the first four and last four
  // characters kept (3501**********1234); shorter codes wholly masked.
  CH.maskHolder = function (code) {
    if (!code) return "—";
    code = String(code);
    if (code.length <= 8) return new Array(code.length + 1).join("*");
    return code.slice(0, 4) + new Array(code.length - 7).join("*") + code.slice(-4);
  };

  /* Every day from first to last (YYYY-MM-DD, inclusive). */
  CH.dayRange = function (first, last) {
    var days = [];
    var at = new Date(first + "T00:00:00Z"), end = new Date(last + "T00:00:00Z");
    while (at <= end && days.length < 400) {
      days.push(at.toISOString().slice(0, 10));
      at = new Date(at.getTime() + 86400000);
    }
    return days;
  };
  /* Today in China Standard Time (the log's statistics count days there). */
  CH.shanghaiDay = function (offsetDays) {
    return new Date(Date.now() + 8 * 3600000 + (offsetDays || 0) * 86400000).toISOString().slice(0, 10);
  };

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }
  // A suppressed count ("<5") adds nothing to the scale; it is drawn as a
  // short pale stub, so such a day does not look empty, and named in the tooltip.
  function suppressed(value) { return typeof value === "string"; }
  function drawn(value) { return typeof value === "number" ? value : 0; }
  var STUB = 3;
  function barHeight(value, scale) { return suppressed(value) ? STUB : drawn(value) * scale; }

  /* The per-day chart: days is the full axis (every day, in order), counts
     maps a day to {granted, denied}; a missing day is a day of zero uses. */
  CH.dayChart = function (box, days, counts) {
    CH.clear(box);
    if (!days.length) { box.appendChild(CH.el("p", { class: "muted", text: "暂无数据。" })); return; }
    var width = 640, height = 200, pad = 28;
    function of(day) { return counts[day] || { granted: 0, denied: 0 }; }
    var max = Math.max.apply(null, days.map(function (d) { return drawn(of(d).granted) + drawn(of(d).denied); }).concat([1]));
    var total = days.reduce(function (n, d) { return n + drawn(of(d).granted) + drawn(of(d).denied); }, 0);
    var step = (width - pad) / days.length, barWidth = Math.min(40, Math.max(2, step * 0.7));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "day-chart", role: "img",
                             "data-days": String(days.length),
                             "aria-label": "每日用证次数，" + days[0] + " 至 " + days[days.length - 1] + "，共 " +
                               days.length + " 天，合计 " + total + " 次" });
    chart.appendChild(svg("line", { x1: pad, y1: height - pad, x2: width, y2: height - pad, stroke: "#9aa5b1" }));
    var top = svg("text", { x: 0, y: 12 });
    top.textContent = String(max);
    chart.appendChild(top);
    var scale = (height - 2 * pad) / max;
    var every = days.length <= 14 ? 1 : Math.ceil(days.length / 10);
    days.forEach(function (day, i) {
      var c = of(day);
      var x = pad + i * step + (step - barWidth) / 2;
      var gH = barHeight(c.granted, scale), dH = barHeight(c.denied, scale);
      var granted = c.granted === undefined ? 0 : c.granted, denied = c.denied === undefined ? 0 : c.denied;
      var group = svg("g", { "data-day": day, "data-granted": String(granted), "data-denied": String(denied) });
      var title = svg("title");
      title.textContent = day + "：已提供 " + granted + "，已拒绝 " + denied;
      group.appendChild(title);
      group.appendChild(svg("rect", { x: x, y: height - pad - gH, width: barWidth, height: gH, fill: "#13733a",
                                      "fill-opacity": suppressed(c.granted) ? 0.45 : 1 }));
      group.appendChild(svg("rect", { x: x, y: height - pad - gH - dH, width: barWidth, height: dH, fill: "#b3261e",
                                      "fill-opacity": suppressed(c.denied) ? 0.45 : 1 }));
      chart.appendChild(group);
      if (i % every === 0) {
        var label = svg("text", { x: x, y: height - 8 });
        label.textContent = day.slice(5);
        chart.appendChild(label);
      }
    });
    box.appendChild(chart);
  };
})();
