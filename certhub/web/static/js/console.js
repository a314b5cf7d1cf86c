/* 部门管理: a department officer's console. Every action is a call to the
   same public API a department system uses, with the officer's staff session
   token (staff.js): the department is always the signed-in person's, taken
   from the token by the server, never chosen on this page. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  var state = { session: null, tabs: null };

  // A staff session (staff.js) of a person with the officer role.
  var staff = CH.staffSession({ name: "console", scope: "usage:read", onSignedIn: signedIn, onSignedOut: clearScreen });

  function consoleApi(path, options) {
    options = Object.assign({ token: staff.token() }, options || {});
    return CH.api(path, options).then(function (result) {
      if (result.status === 401) staff.signOut(CH.t("console.your_sign_in_has_expired_please"));
      return result;
    });
  }
  function consoleError(message) { CH.showError($("console-error"), message); if (message) CH.showError($("console-ok"), ""); }
  function consoleOk(message) { CH.showError($("console-ok"), message); if (message) { CH.showError($("console-error"), ""); CH.announce(message); } }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("console-app").hidden = false;
    staff.describe($("whoami"), CH.t("console.signed_in_as"), saved);
    loadUsage();
  }

  // Signing out leaves nothing of the department on the screen.
  function clearScreen() {
    state.session = null;
    $("console-app").hidden = true;
    $("signin").hidden = false;
    $("whoami").textContent = "";
    $("licence-view").hidden = true;
    hideSecret();
    $("lv-layout").removeAttribute("src");
    licences.shown = null;
    Array.prototype.forEach.call(document.querySelectorAll("#console-app tbody, #console-app ul, #console-app .clearable"),
      function (node) { CH.clear(node); });
  }

  /* ------------------------------------------------------------ usage statistics */
  function range(days) {
    var until = new Date(Date.now() + 60000);
    var since = new Date(until.getTime() - days * 86400000);
    return "since=" + encodeURIComponent(since.toISOString()) + "&until=" + encodeURIComponent(until.toISOString());
  }

  function loadUsage() {
    Promise.all([consoleApi("/api/v1/usage/stats?" + range(Number($("u-days").value))), CH.catalog("matters")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_statistics"))); return; }
        consoleError("");
        var data = result.data, totals = data.totals || {};
        var granted = totals.granted || 0, denied = totals.denied || 0;
        var box = $("usage-totals");
        box.dataset.granted = String(granted);
        box.dataset.denied = String(denied);
        box.textContent = CH.t("console.total") + (granted + denied) + CH.t("console.times_provided") + granted + CH.t("console.times_refused") + denied + CH.t("console.times");
        $("usage-truncated").hidden = !data.truncated;
        $("usage-empty").hidden = granted + denied > 0;
        drawBars($("usage-matters"), data.by_matter || {}, function (code) {
          return code ? CH.nameOf(all[1], code) : CH.t("console.no_matter");
        });
        drawBars($("usage-kinds"), data.by_kind || {}, CH.kindLabel);
        var body = CH.clear($("usage-days").tBodies[0]);
        Object.keys(data.by_day || {}).sort().reverse().forEach(function (day) {
          var counts = data.by_day[day];
          body.appendChild(el("tr", { "data-day": day }, el("td", { text: day }),
            el("td", { class: "num", text: String(counts.granted || 0) }),
            el("td", { class: "num", text: String(counts.denied || 0) })));
        });
      });
  }

  function drawBars(list, counts, label) {
    CH.clear(list);
    var keys = Object.keys(counts);
    var total = function (k) { return (counts[k].granted || 0) + (counts[k].denied || 0); };
    keys.sort(function (a, b) { return total(b) - total(a); });
    var max = Math.max.apply(null, keys.map(total).concat([1]));
    keys.forEach(function (key) {
      var granted = counts[key].granted || 0, denied = counts[key].denied || 0;
      var grantedBar = el("span", { class: "bar-granted" });
      var deniedBar = el("span", { class: "bar-denied" });
      grantedBar.style.width = (100 * granted / max) + "%";
      deniedBar.style.width = (100 * denied / max) + "%";
      list.appendChild(el("li", { class: "bar-row", "data-key": key },
        el("span", { class: "bar-label", text: label(key) }),
        el("span", { class: "bar-track", role: "img", "aria-label": CH.t("console.provided") + granted + CH.t("console.times_refused") + denied + CH.t("console.times") },
           grantedBar, deniedBar),
        el("span", { class: "bar-count", text: granted + " / " + denied })));
    });
  }

  /* ------------------------------------------------------------ sharing agreements (as provider) */
  var AGREEMENT_STATUS = { pending: CH.t("console.pending_approval"), approved: CH.t("console.approved"), refused: CH.t("console.refused"), revoked: CH.t("console.revoked"),
                           withdrawn: CH.t("console.withdrawn"), expired: CH.t("console.expired") };
  var AGREEMENT_BADGE = { pending: "badge-suspended", approved: "badge-valid", refused: "badge-denied",
                          revoked: "badge-revoked", withdrawn: "badge-cancelled", expired: "badge-expired" };

  // The shared item's name and field labels: a licence type's or a data item's, from the public catalog.
  function itemOf(agreement) {
    if (agreement.item_kind === "licence_type") return CH.licenceType(agreement.item);
    return CH.catalog("data-items").then(function (items) { return items[agreement.item] || null; });
  }

  function loadAgreements() {
    var status = $("ag-status").value;
    var query = "?role=provider" + (status ? "&status=" + encodeURIComponent(status) : "");
    Promise.all([consoleApi("/api/v1/exchange/agreements" + query), CH.catalog("departments"), CH.catalog("matters")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_sharing_requests"))); return; }
        var rows = result.data || [];
        // The items first, then the cards in the API's order (newest first).
        Promise.all(rows.map(itemOf)).then(function (items) {
          var list = CH.clear($("agreements-list"));
          $("agreements-empty").hidden = rows.length > 0;
          rows.forEach(function (agreement, i) { list.appendChild(agreementCard(agreement, items[i], all[1], all[2])); });
        });
      });
  }

  function checkboxes(name, id, values, label) {
    var box = el("fieldset", { id: id }, el("legend", { text: name }));
    values.forEach(function (value) {
      box.appendChild(el("label", { class: "choice" },
        el("input", { type: "checkbox", value: value, checked: "checked" }), label(value)));
    });
    return box;
  }

  function checked(box) {
    return Array.prototype.filter.call(box.querySelectorAll("input[type=checkbox]"), function (input) {
      return input.checked;
    }).map(function (input) { return input.value; });
  }

  function agreementCard(agreement, item, departments, matters) {
    var labels = CH.fieldLabels(item);
    var fieldLabel = function (key) { return labels[key] || key; };
    var matterLabel = function (code) { return CH.nameOf(matters, code); };
    var id = "ag-" + agreement.id;
    var card = el("article", { class: "card agreement", id: id, "data-agreement": String(agreement.id),
                               "data-status": agreement.status, "aria-labelledby": id + "-title" },
      el("div", { class: "row-between" },
        el("h3", { id: id + "-title", text: CH.nameOf(departments, agreement.consumer) + CH.t("console.requests_sharing_of") +
                                           ((item && item.name) || agreement.item) }),
        el("span", { class: "badge " + (AGREEMENT_BADGE[agreement.status] || "badge-info"),
                     text: AGREEMENT_STATUS[agreement.status] || agreement.status })),
      el("dl", { class: "fields" },
        el("dt", { text: CH.t("console.reason_for_the_request") }), el("dd", { text: agreement.reason }),
        el("dt", { text: CH.t("console.requested_at") }), el("dd", { text: CH.formatTime(agreement.created_at) }),
        el("dt", { text: CH.t("console.valid_until") }), el("dd", { text: CH.formatTime(agreement.valid_until) }),
        agreement.clear_fields.length ? el("dt", { text: CH.t("console.plain_text_fields_requested") }) : null,
        agreement.clear_fields.length ? el("dd", { text: agreement.clear_fields.map(fieldLabel).join(CH.t("console.list_comma")) }) : null,
        agreement.decision_reason ? el("dt", { text: CH.t("console.decision_notes") }) : null,
        agreement.decision_reason ? el("dd", { class: "decision-reason", text: agreement.decision_reason }) : null));
    if (agreement.status !== "pending") {
      card.appendChild(el("p", { class: "small", text: CH.t("console.matters") + agreement.matters.map(matterLabel).join(CH.t("console.list_comma")) }));
      card.appendChild(el("p", { class: "small", text: CH.t("console.shared_fields") + agreement.fields.map(fieldLabel).join(CH.t("console.list_comma")) }));
      return card;
    }
    var matterBox = checkboxes(CH.t("console.matters_approved"), id + "-matter", agreement.matters, matterLabel);
    var fieldBox = checkboxes(CH.t("console.fields_approved_for_sharing"), id + "-field", agreement.fields, fieldLabel);
    var reasonId = id + "-reason";
    var reason = el("textarea", { id: reasonId, maxlength: "500", rows: "2" });
    card.appendChild(el("form", { class: "decision", novalidate: "novalidate", onsubmit: function (e) { e.preventDefault(); } },
      el("div", { class: "grid-2" }, matterBox, fieldBox),
      el("div", { class: "field" },
        el("label", { for: reasonId, text: CH.t("console.decision_notes"), }, el("span", { class: "hint", text: CH.t("console.required_when_refusing_state_the_legal") })),
        reason),
      el("div", { class: "row" },
        el("button", { type: "button", class: "btn approve", text: CH.t("console.approve"),
                       onclick: function () { decide(agreement, "approve", reason.value, checked(matterBox), checked(fieldBox)); } }),
        el("button", { type: "button", class: "btn btn-danger refuse", text: CH.t("console.refuse"),
                       onclick: function () { decide(agreement, "refuse", reason.value); } }))));
    return card;
  }

  function decide(agreement, decision, reason, matters, fields) {
    reason = (reason || "").trim();
    var body = { decision: decision };
    if (decision === "refuse") {
      if (!reason) { consoleError(CH.t("console.refusing_a_sharing_request_requires_the")); return; }
    } else {
      if (!matters.length || !fields.length) { consoleError(CH.t("console.keep_at_least_one_matter_and")); return; }
      // Send only what narrows the application: the server refuses anything wider.
      if (matters.length < agreement.matters.length) body.matters = matters;
      if (fields.length < agreement.fields.length) body.fields = fields;
    }
    if (reason) body.reason = reason;
    consoleApi("/api/v1/exchange/agreements/" + agreement.id + "/decision", { body: body }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.the_decision_did_not_succeed"))); return; }
      consoleOk(decision === "approve" ? CH.t("console.approved_sharing_request") + agreement.id : CH.t("console.refused_sharing_request") + agreement.id);
      loadAgreements();
    });
  }

  /* ------------------------------------------------------------ disputes of the department's licences */
  var DISPUTE_STATUS = { open: CH.t("console.open"), accepted: CH.t("console.accepted"), rejected: CH.t("console.rejected") };

  function loadDisputes() {
    var status = $("d-status").value;
    consoleApi("/api/v1/licences/disputes" + (status ? "?status=" + encodeURIComponent(status) : "")).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_corrections"))); return; }
      var rows = result.data || [];
      // The API gives the oldest deadline first; overdue ones go first of all (they are open and late).
      rows = rows.filter(function (d) { return d.overdue; }).concat(rows.filter(function (d) { return !d.overdue; }));
      // Each licence once: its type's field labels and the field's value now.
      var identifiers = rows.map(function (d) { return d.licence_identifier; }).filter(function (v, i, all) {
        return all.indexOf(v) === i;
      });
      Promise.all(identifiers.map(function (identifier) {
        return consoleApi("/api/v1/licences/" + encodeURIComponent(identifier)).then(function (answer) {
          if (!answer.ok) return null;
          return CH.licenceType(answer.data.type_code).then(function (type) { return { licence: answer.data, type: type }; });
        });
      })).then(function (licences) {
        var byIdentifier = {};
        identifiers.forEach(function (identifier, i) { byIdentifier[identifier] = licences[i]; });
        var list = CH.clear($("disputes-list"));
        $("disputes-empty").hidden = rows.length > 0;
        rows.forEach(function (dispute) { list.appendChild(disputeCard(dispute, byIdentifier[dispute.licence_identifier])); });
      });
    });
  }

  function disputeCard(dispute, found) {
    var labels = CH.fieldLabels(found && found.type);
    var face = (found && found.licence.face) || {};
    var id = "dp-" + dispute.id;
    var open = dispute.status === "open";
    var badge = dispute.overdue ? el("span", { class: "badge badge-denied", text: CH.t("console.overdue") })
      : el("span", { class: "badge " + (open ? "badge-suspended" : dispute.status === "accepted" ? "badge-valid" : "badge-info"),
                     text: DISPUTE_STATUS[dispute.status] || dispute.status });
    var current = face[dispute.field];
    var card = el("article", { class: "card dispute", id: id, "data-dispute": String(dispute.id), "data-status": dispute.status,
                               "data-overdue": dispute.overdue ? "true" : "false", "aria-labelledby": id + "-title" },
      el("div", { class: "row-between" },
        el("h3", { id: id + "-title", text: ((found && found.licence.type_name) || CH.t("console.licences")) + CH.t("console.colon") +
                                           (labels[dispute.field] || dispute.field) }), badge),
      el("dl", { class: "fields" },
        el("dt", { text: CH.t("console.licence_id") }), el("dd", { class: "mono", text: dispute.licence_identifier }),
        found ? el("dt", { text: CH.t("console.holder") }) : null, found ? el("dd", { text: found.licence.holder_name }) : null,
        el("dt", { text: CH.t("console.raised_by") }), el("dd", { text: dispute.raised_by === "holder" ? CH.t("console.holder") : CH.t("console.department") + dispute.raised_by_code + CH.t("console.paren_close") }),
        el("dt", { text: CH.t("console.reason_for_correction") }), el("dd", { text: dispute.reason }),
        el("dt", { text: CH.t("console.current_value") }), el("dd", { text: current === undefined || current === null ? CH.t("console.empty") : String(current) }),
        el("dt", { text: CH.t("console.proposed_value") }), el("dd", { text: dispute.proposed_value || CH.t("console.none_proposed") }),
        el("dt", { text: CH.t("console.due_by") }), el("dd", { class: "due", text: CH.formatTime(dispute.due_at) }),
        dispute.decision_reason ? el("dt", { text: CH.t("console.decision_notes_2") }) : null,
        dispute.decision_reason ? el("dd", { text: dispute.decision_reason }) : null));
    if (!open) return card;
    var valueId = id + "-value", reasonId = id + "-reason";
    var value = el("input", { type: "text", id: valueId, maxlength: "2000", autocomplete: "off",
                              value: dispute.proposed_value || (current === undefined || current === null ? "" : String(current)) });
    var reason = el("textarea", { id: reasonId, maxlength: "2000", rows: "2" });
    card.appendChild(el("form", { class: "decision", novalidate: "novalidate", onsubmit: function (e) { e.preventDefault(); } },
      el("div", { class: "field" }, el("label", { for: valueId, text: CH.t("console.corrected_value") },
        el("span", { class: "hint", text: CH.t("console.when_accepted_the_field_takes_this") })), value),
      el("div", { class: "field" }, el("label", { for: reasonId, text: CH.t("console.decision_notes_2") },
        el("span", { class: "hint", text: CH.t("console.required_when_rejecting") })), reason),
      el("div", { class: "row" },
        el("button", { type: "button", class: "btn accept", text: CH.t("console.accept_and_correct"),
                       onclick: function () { decideDispute(dispute, "accept", value.value, reason.value); } }),
        el("button", { type: "button", class: "btn btn-danger reject", text: CH.t("console.rejected"),
                       onclick: function () { decideDispute(dispute, "reject", null, reason.value); } }))));
    return card;
  }

  function decideDispute(dispute, action, value, reason) {
    reason = (reason || "").trim();
    var body = {};
    if (action === "reject") {
      if (!reason) { consoleError(CH.t("console.rejecting_requires_a_reason")); return; }
      body.reason = reason;
    } else {
      value = (value || "").trim();
      if (!value) { consoleError(CH.t("console.please_enter_the_corrected_value")); return; }
      body.value = value;
      if (reason) body.reason = reason;
    }
    consoleApi("/api/v1/licences/disputes/" + dispute.id + "/" + action, { body: body }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.the_correction_was_not_processed"))); return; }
      consoleOk(action === "accept" ? CH.t("console.accepted_correction") + dispute.id + CH.t("console.a_new_version_was_issued") : CH.t("console.rejected_correction") + dispute.id);
      loadDisputes();
    });
  }

  /* ------------------------------------------------------------ licences: issue, change, suspend, resume, revoke */
  var licences = { types: [], type: null, shown: null, layout: {} };

  function loadLicenceTypes() {
    var department = state.session && state.session.department;
    CH.api("/api/v1/catalog/licence-types").then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_licence_types"))); return; }
      // The types this department issues (the catalog lists the issuers of each).
      licences.types = (result.data || []).filter(function (type) { return (type.issuers || []).indexOf(department) >= 0; });
      var select = CH.clear($("i-type"));
      licences.types.forEach(function (type) { select.appendChild(el("option", { value: type.code, text: type.name })); });
      chooseType();
    });
  }

  function chooseType() {
    var code = $("i-type").value;
    licences.type = licences.types.filter(function (type) { return type.code === code; })[0] || null;
    var box = CH.clear($("i-face-fields"));
    if (!licences.type) return;
    $("i-holder-type").value = licences.type.holder_kind === "natural_person" ? "111" : "001";
    $("i-validity").hidden = !(licences.type.validity && licences.type.validity.kind === "given");
    licences.type.fields.forEach(function (field) { box.appendChild(fieldInput("i-f-", field, undefined)); });
  }

  // One face field as a labelled input: its type's control, its limits, its current value (a change).
  function fieldInput(prefix, field, value) {
    var id = prefix + field.key, input;
    if (field.type === "enum") {
      input = el("select", { id: id }, el("option", { value: "", text: field.required ? CH.t("console.please_choose") : CH.t("console.empty") }));
      (field.options || []).forEach(function (option) { input.appendChild(el("option", { value: option, text: option })); });
    } else if (field.type === "image") {
      input = el("input", { type: "file", id: id, accept: "image/png,image/jpeg" });
    } else {
      input = el("input", { type: field.type === "date" ? "date" : field.type === "number" ? "number" : "text", id: id,
                            autocomplete: "off", maxlength: field.max_length ? String(field.max_length) : null });
    }
    if (value !== undefined && value !== null && field.type !== "image") input.value = String(value);
    input.dataset.key = field.key;
    input.dataset.kind = field.type;
    if (field.required) input.required = true;
    return el("div", { class: "field" }, el("label", { for: id, text: field.label + (field.required ? "" : CH.t("console.optional")) }), input);
  }

  // The face the inputs hold; a picture is read as base64 (what an image field stores).
  function faceOf(box) {
    var inputs = Array.prototype.slice.call(box.querySelectorAll("[data-key]"));
    return Promise.all(inputs.map(function (input) {
      if (input.dataset.kind === "image") {
        var file = input.files && input.files[0];
        if (!file) return [input.dataset.key, undefined];
        return new Promise(function (resolve) {
          var reader = new FileReader();
          reader.onload = function () { resolve([input.dataset.key, String(reader.result).replace(/^data:[^,]*,/, "")]); };
          reader.onerror = function () { resolve([input.dataset.key, undefined]); };
          reader.readAsDataURL(file);
        });
      }
      var value = input.value.trim();
      if (value === "") return [input.dataset.key, undefined];
      return [input.dataset.key, input.dataset.kind === "number" ? Number(value) : value];
    })).then(function (pairs) {
      var face = {};
      pairs.forEach(function (pair) { if (pair[1] !== undefined) face[pair[0]] = pair[1]; });
      return face;
    });
  }

  function issueLicence(event) {
    event.preventDefault();
    if (!licences.type) { consoleError(CH.t("console.your_department_has_no_licence_types")); return; }
    var holder = { name: $("i-holder-name").value.trim(), code: $("i-holder-code").value.trim().toUpperCase(),
                   code_type: $("i-holder-type").value };
    if (!holder.name || !holder.code) { consoleError(CH.t("console.please_enter_the_holders_name_and")); return; }
    faceOf($("i-face-fields")).then(function (face) {
      var missing = licences.type.fields.filter(function (field) { return field.required && face[field.key] === undefined; });
      if (missing.length) { consoleError(CH.t("console.please_fill_in") + missing.map(function (f) { return f.label; }).join(CH.t("console.list_comma"))); return; }
      var body = { type_code: licences.type.code, holder: holder, face: face };
      if (!$("i-validity").hidden) {
        if ($("i-valid-from").value) body.valid_from = $("i-valid-from").value;
        if ($("i-valid-until").value) body.valid_until = $("i-valid-until").value;
      }
      consoleApi("/api/v1/licences", { body: body }).then(function (result) {
        if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.issuing_did_not_succeed"))); return; }
        consoleOk(CH.t("console.issued") + result.data.type_name + CH.t("console.licence_id_2") + result.data.identifier);
        $("issue-form").reset();
        chooseType();
        showLicence(result.data);
      });
    });
  }

  function openLicence(identifier) {
    consoleApi("/api/v1/licences/" + encodeURIComponent(identifier)).then(function (result) {
      if (!result.ok) { consoleError(result.status === 404 ? CH.t("console.your_department_has_no_such_licence") : CH.errorText(result, CH.t("console.could_not_load_the_licence"))); return; }
      consoleError("");
      // An older version's identifier opens the licence as it is now: that is what the actions act on.
      var current = result.data.versions.filter(function (v) { return !v.superseded; })[0];
      if (result.data.superseded && current && current.identifier !== identifier) { openLicence(current.identifier); return; }
      showLicence(result.data);
    });
  }

  function showLicence(licence) {
    licences.shown = licence;
    var view = $("licence-view");
    view.hidden = false;
    view.dataset.identifier = licence.identifier;
    view.dataset.status = licence.status;
    $("lv-title").textContent = licence.type_name + CH.t("console.version") + licence.version + CH.t("console.version_suffix");
    CH.clear($("lv-status")).appendChild(CH.badge(licence.status));
    CH.licenceType(licence.type_code).then(function (type) {
      if (licences.shown !== licence) return;
      var labels = CH.fieldLabels(type);
      var list = CH.clear($("lv-fields"));
      [[CH.t("console.licence_id"), licence.identifier], [CH.t("console.holder_2"), licence.holder_name + CH.t("console.paren_open") + licence.holder_code + CH.t("console.paren_close")],
       [CH.t("console.validity"), CH.formatDate(licence.valid_from) + CH.t("console.to") + CH.formatDate(licence.valid_until)]]
        .concat(Object.keys(licence.face).filter(function (key) {
          return !((type && type.fields) || []).some(function (f) { return f.key === key && f.type === "image"; });
        }).map(function (key) { return [labels[key] || key, String(licence.face[key])]; }))
        .forEach(function (pair) { list.appendChild(el("dt", { text: pair[0] })); list.appendChild(el("dd", { text: pair[1] })); });
      var box = CH.clear($("c-face-fields"));
      ((type && type.fields) || []).forEach(function (field) { box.appendChild(fieldInput("c-f-", field, licence.face[field.key])); });
    });
    var live = licence.status === "valid" || licence.status === "suspended";
    $("change-form").hidden = licence.status !== "valid";
    $("do-suspend").hidden = licence.status !== "valid";
    $("do-resume").hidden = licence.status !== "suspended";
    $("do-revoke").hidden = !live;
    $("s-confirm-revoke").parentNode.hidden = !live;
    $("status-form").hidden = !live;
    $("status-form").reset();
    $("c-reason").value = "";
    previewLayout(licence);
  }

  function previewLayout(licence) {
    var image = $("lv-layout");
    image.hidden = true;
    delete image.dataset.identifier;
    consoleApi("/api/v1/licences/" + encodeURIComponent(licence.identifier) + "/layout.png", { binary: true }).then(function (result) {
      if (licences.shown !== licence) return;
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_preview_the_layout_document"))); return; }
      image.onload = function () { image.dataset.identifier = licence.identifier; };
      image.src = CH.objectUrl(licences.layout, result.data);
      image.hidden = false;
    });
  }

  function changeLicence(event) {
    event.preventDefault();
    var licence = licences.shown;
    if (!licence) return;
    faceOf($("c-face-fields")).then(function (face) {
      // Only what changed: a field left empty that had a value is removed (null).
      var changes = {}, count = 0;
      Object.keys(face).forEach(function (key) {
        if (String(face[key]) !== String(licence.face[key])) { changes[key] = face[key]; count++; }
      });
      Array.prototype.forEach.call($("c-face-fields").querySelectorAll("[data-key]"), function (input) {
        var key = input.dataset.key;
        if (input.dataset.kind !== "image" && face[key] === undefined && licence.face[key] !== undefined) { changes[key] = null; count++; }
      });
      if (!count) { consoleError(CH.t("console.the_licence_details_have_not_changed")); return; }
      var body = { face: changes };
      var reason = $("c-reason").value.trim();
      if (reason) body.reason = reason;
      consoleApi("/api/v1/licences/" + encodeURIComponent(licence.identifier) + "/versions", { body: body }).then(function (result) {
        if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.the_change_did_not_succeed"))); return; }
        consoleOk(CH.t("console.issued_version") + result.data.version + CH.t("console.licence_id_3") + result.data.identifier);
        showLicence(result.data);
      });
    });
  }

  function transition(action) {
    var licence = licences.shown;
    if (!licence) return;
    var reason = $("s-reason").value.trim();
    if (action === "revoke") {
      if (!reason) { consoleError(CH.t("console.revoking_requires_a_reason")); return; }
      if (!$("s-confirm-revoke").checked) { consoleError(CH.t("console.revoking_cannot_be_undone_tick_confirm")); return; }
    }
    var body = reason ? { reason: reason } : {};
    consoleApi("/api/v1/licences/" + encodeURIComponent(licence.identifier) + "/" + action, { body: body }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.the_operation_did_not_succeed"))); return; }
      consoleOk({ suspend: CH.t("console.licence_suspended"), resume: CH.t("console.licence_reinstated"), revoke: CH.t("console.licence_revoked") }[action]);
      showLicence(result.data);
    });
  }

  /* ------------------------------------------------------------ push subscriptions and API clients */
  var EVENTS = { issued: CH.t("console.issue"), changed: CH.t("console.change"), suspended: CH.t("console.suspend"), resumed: CH.t("console.reinstate"), revoked: CH.t("console.revoke"),
                 cancelled: CH.t("console.cancel"), expired: CH.t("console.expire") };
  var SUBSCRIPTION_STATUS = { active: CH.t("console.valid"), cancelled: CH.t("console.cancelled"), paused: CH.t("console.suspended") };
  var AUTH_METHODS = { client_secret: CH.t("console.secret"), private_key_jwt: CH.t("console.signed_assertion_private_key_jwt") };

  function loadSystems() {
    loadClients();
    loadSubscriptions();
    fillSubscribeForm();
  }

  // A new secret, shown once: never kept in storage, gone when closed or signed out.
  function showSecret(title, secret) {
    $("secret-title").textContent = title;
    $("secret-value").textContent = secret;
    $("secret-box").hidden = false;
    $("secret-done").focus();
  }
  function hideSecret() {
    $("secret-value").textContent = "";
    $("secret-title").textContent = "";
    $("secret-box").hidden = true;
  }

  // A step that cannot be undone takes a second press of the same button.
  function armed(button, confirmText, act) {
    return function () {
      if (button.dataset.armed !== "true") {
        button.dataset.armed = "true";
        button.dataset.label = button.textContent;
        button.textContent = confirmText;
        CH.announce(confirmText);
        return;
      }
      button.dataset.armed = "false";
      button.textContent = button.dataset.label;
      act();
    };
  }

  function loadClients() {
    consoleApi("/api/v1/clients").then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_api_clients"))); return; }
      var body = CH.clear($("clients-table").tBodies[0]);
      result.data.forEach(function (client) {
        var actions = el("td");
        if (client.active && client.auth_method === "client_secret") {
          actions.appendChild(el("button", { type: "button", class: "btn btn-secondary rotate", text: CH.t("console.rotate_secret"),
            onclick: function () { rotateClient(client); } }));
        }
        if (client.active) {
          var disable = el("button", { type: "button", class: "btn btn-danger disable", text: CH.t("console.disable") });
          disable.addEventListener("click", armed(disable, CH.t("console.click_again_to_confirm_disabling"), function () { disableClient(client); }));
          actions.appendChild(disable);
        }
        body.appendChild(el("tr", { "data-client": client.client_id, "data-active": client.active ? "true" : "false" },
          el("td", { class: "mono", text: client.client_id }),
          el("td", { text: client.name }),
          el("td", { class: "small", text: client.scopes.join(" ") }),
          el("td", { text: AUTH_METHODS[client.auth_method] || client.auth_method }),
          el("td", null, el("span", { class: "badge " + (client.active ? "badge-valid" : "badge-revoked"),
                                      text: client.active ? CH.t("console.active") : CH.t("console.disabled") })),
          el("td", { text: client.last_used_at ? CH.formatTime(client.last_used_at) : CH.t("console.never_used") }),
          actions));
      });
    });
  }

  function rotateClient(client) {
    consoleApi("/api/v1/clients/" + encodeURIComponent(client.client_id) + "/secret", { method: "POST" }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.rotating_the_secret_did_not_succeed"))); return; }
      consoleOk(CH.t("console.rotated_the_secret_of_client") + client.client_id + CH.t("console.the_old_secret_no_longer_works"));
      showSecret(CH.t("console.client") + client.client_id + CH.t("console.client_secret_suffix"), result.data.client_secret);
      loadClients();
    });
  }

  function disableClient(client) {
    consoleApi("/api/v1/clients/" + encodeURIComponent(client.client_id) + "/disable", { method: "POST" }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.disabling_did_not_succeed"))); return; }
      consoleOk(CH.t("console.disabled_client") + client.client_id);
      loadClients();
    });
  }

  function loadSubscriptions() {
    Promise.all([consoleApi("/api/v1/exchange/subscriptions"), CH.catalog("licence-types")]).then(function (all) {
      var result = all[0];
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_push_subscriptions"))); return; }
      var body = CH.clear($("subscriptions-table").tBodies[0]);
      $("subscriptions-empty").hidden = result.data.length > 0;
      result.data.forEach(function (subscription) {
        var actions = el("td");
        if (subscription.status !== "cancelled") {
          actions.appendChild(el("button", { type: "button", class: "btn btn-secondary rotate", text: CH.t("console.rotate_secret"),
            onclick: function () { rotateSubscription(subscription); } }));
          var cancel = el("button", { type: "button", class: "btn btn-danger cancel", text: CH.t("console.unsubscribe") });
          cancel.addEventListener("click", armed(cancel, CH.t("console.click_again_to_confirm_unsubscribing"), function () { cancelSubscription(subscription); }));
          actions.appendChild(cancel);
        }
        actions.appendChild(el("button", { type: "button", class: "btn btn-secondary dead", text: CH.t("console.failed_deliveries"),
          onclick: function () { loadDeadLetters(subscription); } }));
        body.appendChild(el("tr", { "data-subscription": String(subscription.id), "data-status": subscription.status },
          el("td", { class: "num", text: "#" + subscription.id }),
          el("td", { class: "mono", text: subscription.callback_url }),
          el("td", { text: subscription.event_kinds.map(function (k) { return EVENTS[k] || k; }).join(CH.t("console.list_comma")) }),
          el("td", { text: subscription.licence_type_codes.map(function (c) { return CH.nameOf(all[1], c); }).join(CH.t("console.list_comma")) }),
          el("td", { text: SUBSCRIPTION_STATUS[subscription.status] || subscription.status }),
          actions));
      });
    });
  }

  function fillSubscribeForm() {
    var events = $("sub-events");
    if (!events.querySelector("input")) {
      Object.keys(EVENTS).forEach(function (kind) {
        events.appendChild(el("label", { class: "choice" }, el("input", { type: "checkbox", value: kind }), EVENTS[kind]));
      });
    }
    CH.catalog("licence-types").then(function (types) {
      var box = $("sub-types");
      if (box.querySelector("input")) return;
      Object.keys(types).sort(function (a, b) { return types[a].name.localeCompare(types[b].name, "zh-CN"); })
        .forEach(function (code) {
          box.appendChild(el("label", { class: "choice" }, el("input", { type: "checkbox", value: code }), types[code].name));
        });
    });
  }

  function subscribe(event) {
    event.preventDefault();
    var url = $("sub-url").value.trim();
    var kinds = checked($("sub-events")), types = checked($("sub-types"));
    if (!url || !kinds.length || !types.length) { consoleError(CH.t("console.please_enter_the_callback_url_and")); return; }
    consoleApi("/api/v1/exchange/subscriptions", { body: { callback_url: url, event_kinds: kinds, licence_type_codes: types } })
      .then(function (result) {
        if (!result.ok) {
          var code = result.data && result.data.error;
          consoleError(code === "unsafe_callback_url" ? CH.t("console.callback_url_not_accepted_only_public")
            : code === "no_agreement" ? CH.t("console.your_department_has_no_valid_sharing")
            : CH.errorText(result, CH.t("console.subscribing_did_not_succeed")));
          return;
        }
        consoleOk(CH.t("console.created_push_subscription") + result.data.id);
        showSecret(CH.t("console.push_subscription") + result.data.id + CH.t("console.signing_secret"), result.data.secret);
        $("subscribe-form").reset();
        loadSubscriptions();
      });
  }

  function rotateSubscription(subscription) {
    consoleApi("/api/v1/exchange/subscriptions/" + subscription.id + "/secret", { method: "POST" }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.rotating_the_secret_did_not_succeed"))); return; }
      consoleOk(CH.t("console.rotated_the_signing_secret_of_push") + subscription.id + CH.t("console.signing_secret"));
      showSecret(CH.t("console.push_subscription") + subscription.id + CH.t("console.new_signing_secret"), result.data.secret);
    });
  }

  function cancelSubscription(subscription) {
    consoleApi("/api/v1/exchange/subscriptions/" + subscription.id, { method: "DELETE" }).then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.unsubscribing_did_not_succeed"))); return; }
      consoleOk(CH.t("console.cancelled_push_subscription") + subscription.id);
      loadSubscriptions();
    });
  }

  function loadDeadLetters(subscription) {
    consoleApi("/api/v1/exchange/subscriptions/" + subscription.id + "/dead-letters").then(function (result) {
      if (!result.ok) { consoleError(CH.errorText(result, CH.t("console.could_not_load_the_failed_deliveries"))); return; }
      var box = CH.clear($("dead-letters"));
      box.appendChild(el("h3", { text: CH.t("console.push_subscription") + subscription.id + CH.t("console.failed_deliveries_2") }));
      if (!result.data.length) { box.appendChild(el("p", { class: "muted", text: CH.t("console.no_failed_deliveries") })); return; }
      var list = el("ul");
      result.data.forEach(function (letter) {
        list.appendChild(el("li", { "data-delivery": String(letter.id) },
          CH.formatTime(letter.created_at) + CH.t("console.attempts") + letter.attempts + CH.t("console.times_suffix") + (letter.last_error || "") + CH.t("console.spacer"),
          letter.status === "dead" ? el("button", { type: "button", class: "link-button", text: CH.t("console.redeliver"), onclick: function () {
            consoleApi("/api/v1/exchange/subscriptions/" + subscription.id + "/dead-letters/" + letter.id + "/redeliver",
                       { method: "POST" }).then(function (answer) {
              if (!answer.ok) { consoleError(CH.errorText(answer, CH.t("console.redelivery_did_not_succeed"))); return; }
              consoleOk(CH.t("console.delivery_rescheduled"));
              loadDeadLetters(subscription);
            });
          } }) : el("span", { class: "muted", text: CH.t("console.waiting_for_delivery") })));
      });
      box.appendChild(list);
    });
  }

  /* ------------------------------------------------------------ start */
  // Each flow registers itself: { tab: id, load: function, bind: function }.
  var flows = [{ tab: "tab-usage", load: loadUsage, bind: function () {
    $("usage-form").addEventListener("submit", function (event) { event.preventDefault(); loadUsage(); });
  } }];
  flows.push({ tab: "tab-agreements", load: loadAgreements, bind: function () {
    $("agreements-form").addEventListener("submit", function (event) { event.preventDefault(); loadAgreements(); });
  } });

  flows.push({ tab: "tab-disputes", load: loadDisputes, bind: function () {
    $("disputes-form").addEventListener("submit", function (event) { event.preventDefault(); loadDisputes(); });
  } });

  flows.push({ tab: "tab-licences", load: loadLicenceTypes, bind: function () {
    $("i-type").addEventListener("change", chooseType);
    $("issue-form").addEventListener("submit", issueLicence);
    $("find-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var identifier = $("find-identifier").value.trim();
      if (identifier) openLicence(identifier);
    });
    $("change-form").addEventListener("submit", changeLicence);
    ["suspend", "resume", "revoke"].forEach(function (action) {
      $("do-" + action).addEventListener("click", function () { transition(action); });
    });
  } });

  flows.push({ tab: "tab-systems", load: loadSystems, bind: function () {
    $("secret-done").addEventListener("click", hideSecret);
    $("subscribe-form").addEventListener("submit", subscribe);
  } });

  document.addEventListener("DOMContentLoaded", function () {
    staff.bind();
    $("sign-out").addEventListener("click", function () { staff.signOut(); });
    flows.forEach(function (flow) { if (flow.bind) flow.bind(); });
    state.tabs = CH.tabs(document.querySelector("#console-app .tabs"), function (id) {
      consoleError("");
      CH.showError($("console-ok"), "");
      flows.forEach(function (flow) { if (flow.tab === id && flow.load) flow.load(); });
    });
    var saved = staff.resume();
    if (saved) signedIn(saved);
    else { var first = $("demo-login") || $("staff-id-token"); if (first) first.focus(); }
  });
})();
