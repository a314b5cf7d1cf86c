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
    no_policy: CH.t("usage.no_applicable_sharing_basis"),
    no_agreement: CH.t("usage.no_sharing_agreement"),
    agreement_pending: CH.t("usage.sharing_request_awaiting_approval"),
    agreement_expired: CH.t("usage.sharing_agreement_expired"),
    agreement_revoked: CH.t("usage.sharing_agreement_revoked"),
    matter_not_agreed: CH.t("usage.matter_outside_the_sharing_agreement"),
    field_not_agreed: CH.t("usage.field_outside_the_sharing_agreement"),
    field_unknown: CH.t("usage.unknown_field"),
    item_not_shared: CH.t("usage.not_shared"),
    item_unknown: CH.t("usage.unknown_data_item"),
    not_unconditional: CH.t("usage.not_unconditionally_shared_data"),
    subject_kind_mismatch: CH.t("usage.wrong_kind_of_holder"),
    subject_invalid: CH.t("usage.invalid_id_number"),
    consent_missing: CH.t("usage.no_consent_from_the_holder"),
    no_consent: CH.t("usage.no_consent_from_the_holder"),
    consent_expired: CH.t("usage.the_holders_consent_has_expired"),
    consent_withdrawn: CH.t("usage.the_holder_withdrew_consent"),
    no_mandate: CH.t("usage.no_supervision_mandate"),
    provider_not_connected: CH.t("usage.providers_system_not_connected"),
    provider_unavailable: CH.t("usage.providers_system_unavailable"),
    provider_error: CH.t("usage.providers_system_answered_with_an_error"),
    replayed: CH.t("usage.code_already_used"),
    expired: CH.t("usage.expired"),
    revoked: CH.t("usage.licence_revoked"),
    suspended: CH.t("usage.licence_suspended"),
    cancelled: CH.t("usage.licence_cancelled"),
    superseded: CH.t("usage.licence_changed"),
    code_superseded: CH.t("usage.code_replaced_by_a_newer_one"),
    signature_invalid: CH.t("usage.invalid_signature"),
    unknown_key: CH.t("usage.unknown_issuer"),
    unknown_signer: CH.t("usage.unknown_issuer"),
    key_not_valid: CH.t("usage.invalid_signing_key"),
    type_not_allowed: CH.t("usage.issuer_not_authorised"),
    not_yet_valid: CH.t("usage.not_yet_valid"),
    unknown_presentation: CH.t("usage.no_presentation_found"),
    not_a_presentation: CH.t("usage.not_a_presentation_code"),
    licence_not_found: CH.t("usage.licence_not_found"),
    licence_not_presentable: CH.t("usage.licence_cannot_be_shown"),
    status_unavailable: CH.t("usage.status_cannot_be_confirmed"),
    status_stale: CH.t("usage.licence_status_information_out_of_date"),
    status_list_untrusted: CH.t("usage.status_list_not_trusted"),
    log_unavailable: CH.t("usage.use_log_unavailable"),
    error: CH.t("usage.system_error"),
    unknown: CH.t("usage.no_reason_given"),
  };
  /* The Chinese label, the code beside it so an auditor can still search for it. */
  CH.refusalLabel = function (code) {
    var label = CH.REFUSALS[code || "unknown"];
    return label ? label + CH.t("usage.paren_open") + code + CH.t("usage.paren_close") : String(code);
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
    if (!days.length) { box.appendChild(CH.el("p", { class: "muted", text: CH.t("usage.no_data_yet") })); return; }
    var width = 640, height = 200, pad = 28;
    function of(day) { return counts[day] || { granted: 0, denied: 0 }; }
    var max = Math.max.apply(null, days.map(function (d) { return drawn(of(d).granted) + drawn(of(d).denied); }).concat([1]));
    var total = days.reduce(function (n, d) { return n + drawn(of(d).granted) + drawn(of(d).denied); }, 0);
    var step = (width - pad) / days.length, barWidth = Math.min(40, Math.max(2, step * 0.7));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "day-chart", role: "img",
                             "data-days": String(days.length),
                             "aria-label": CH.t("usage.uses_per_day") + days[0] + CH.t("usage.to") + days[days.length - 1] + CH.t("usage.comma") +
                               days.length + CH.t("usage.days_total") + total + CH.t("usage.times") });
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
      title.textContent = day + CH.t("usage.provided") + granted + CH.t("usage.refused") + denied;
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
