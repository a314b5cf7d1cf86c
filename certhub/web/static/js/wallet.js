/* 我的证照: the holder's wallet, phone first. Signs in, lists licences as
   cards, shows one licence with its layout document, makes the one-time
   亮证 code (refreshed before it expires), and shows use records with
   their log proofs, consents and disputes. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  var TOKEN = "holder";
  var MAX_AUTO_REFRESHES = 20; // about 25 minutes of 亮证 at the default 60 s (each code accepted 90 s)
  var state = { session: null, licences: [], selected: {}, detail: null, present: null, blobs: {}, tabs: null };

  function holderApi(path, options) {
    options = Object.assign({ token: state.session && state.session.token }, options || {});
    return CH.api(path, options).then(function (result) {
      if (result.status === 401) expired();
      return result;
    });
  }

  function walletError(message) { CH.showError($("wallet-error"), message); }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("wallet-app").hidden = false;
    $("greeting").textContent = "您好，" + (saved.name || "持证人");
    loadLicences();
  }

  function expired() {
    CH.dropToken(TOKEN);
    stopPresenting();
    state.session = null;
    $("wallet-app").hidden = true;
    $("signin").hidden = false;
    CH.showError($("signin-error"), "登录已失效，请重新登录。");
  }

  function onSession(result) {
    if (!result.ok) {
      CH.showError($("signin-error"), result.status === 401 || result.status === 422
        ? "登录信息不正确，请核对后重试。" : CH.errorText(result, "登录失败"));
      return;
    }
    CH.showError($("signin-error"), "");
    var data = result.data;
    signedIn(CH.saveToken(TOKEN, data.session_token, data.expires_in, { name: data.holder && data.holder.name }));
  }

  function bindSignIn() {
    var dev = $("dev-login");
    if (dev) {
      dev.addEventListener("submit", function (event) {
        event.preventDefault();
        var code = $("holder-code").value.trim().toUpperCase();
        var name = $("holder-name").value.trim();
        if (!code || !name) { CH.showError($("signin-error"), "请填写证件号码和姓名。"); return; }
        CH.api("/api/v1/holders/dev-login", {
          body: { holder_code: code, name: name, holder_code_type: $("holder-type").value },
        }).then(onSession);
      });
    }
    var oidc = $("oidc-login");
    if (oidc) {
      oidc.addEventListener("submit", function (event) {
        event.preventDefault();
        var token = $("id-token").value.trim();
        if (!token) { CH.showError($("signin-error"), "请填入身份令牌。"); return; }
        CH.api("/api/v1/holders/session", { body: { id_token: token } }).then(function (result) {
          $("id-token").value = "";
          onSession(result);
        });
      });
    }
    $("sign-out").addEventListener("click", function () {
      CH.dropToken(TOKEN);
      window.location.reload();
    });
  }

  /* ------------------------------------------------------------ licences */
  function loadLicences() {
    holderApi("/api/v1/holders/me/licences").then(function (result) {
      if (!result.ok) { walletError(CH.errorText(result, "证照加载失败")); return; }
      walletError("");
      state.licences = Array.isArray(result.data) ? result.data : (result.data && result.data.licences) || [];
      renderLicences();
      fillDisputeLicences();
    });
  }

  function isLive(licence) { return licence.status === "valid"; }

  function renderLicences() {
    var list = CH.clear($("licence-list"));
    $("licence-empty").hidden = state.licences.length > 0;
    state.licences.forEach(function (licence) {
      var pick = null;
      if (isLive(licence)) {
        var box = el("input", { type: "checkbox", "aria-label": "选择" + licence.type_name + "用于亮证" });
        box.checked = !!state.selected[licence.identifier];
        box.addEventListener("change", function () {
          if (box.checked) state.selected[licence.identifier] = true; else delete state.selected[licence.identifier];
          updateSelection();
        });
        pick = el("label", { class: "licence-pick" }, box, "选择此证亮证");
      }
      var card = el("button", {
        type: "button", class: "licence-card" + (isLive(licence) ? "" : " is-inactive"),
        "data-identifier": licence.identifier, "data-status": licence.status,
        onclick: function () { openLicence(licence.identifier); },
      },
        el("span", { class: "row-between" }, el("span", { class: "type-name", text: licence.type_name }), CH.badge(licence.status)),
        el("span", { class: "meta", text: "有效期至 " + CH.formatDate(licence.valid_until) }),
        el("span", { class: "meta", text: "版本 " + (licence.current_version || 1) +
          (licence.open_disputes ? "　异议处理中" : "") }));
      list.appendChild(el("li", null, card, pick));
    });
    updateSelection();
  }

  function updateSelection() {
    var count = Object.keys(state.selected).length;
    $("selected-count").textContent = String(count);
    $("present-selected").disabled = count === 0;
  }

  function openLicence(identifier) {
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(identifier)).then(function (result) {
      if (!result.ok) { walletError(CH.errorText(result, "证照加载失败")); return; }
      walletError("");
      state.detail = result.data;
      renderDetail(result.data);
    });
  }

  function renderDetail(licence) {
    $("licence-list-view").hidden = true;
    $("licence-detail").hidden = false;
    $("layout-box").hidden = true;
    $("detail-title").textContent = licence.type_name || licence.type_code;
    var badge = $("detail-status");
    badge.className = "badge badge-" + (CH.STATUS[licence.status] ? licence.status : "info");
    badge.textContent = CH.statusLabel(licence.status);
    $("detail-identifier").textContent = licence.identifier;
    $("detail-versions").textContent = "当前版本 " + licence.current_version + "，共 " + (licence.versions || []).length +
      " 个版本　有效期 " + CH.formatDate(licence.valid_from) + " 至 " + CH.formatDate(licence.valid_until);
    $("present-this").disabled = !isLive(licence);
    CH.licenceType(licence.type_code).then(function (type) {
      var labels = CH.fieldLabels(type);
      var fields = CH.clear($("detail-fields"));
      fields.appendChild(el("dt", { text: "持证人" }));
      fields.appendChild(el("dd", { text: licence.holder_name }));
      Object.keys(licence.face || {}).forEach(function (key) {
        fields.appendChild(el("dt", { text: labels[key] || key }));
        var value = licence.face[key];
        fields.appendChild(el("dd", { text: value === null || value === undefined ? "—" : String(value) }));
      });
    });
    var disputes = CH.clear($("detail-disputes"));
    (licence.open_disputes || []).forEach(function (dispute) {
      disputes.appendChild(el("p", { class: "alert small", text: "异议处理中：" + dispute.field + "（" + dispute.reason + "）" }));
    });
    $("detail-title").focus();
  }

  function backToList() {
    $("licence-detail").hidden = true;
    $("licence-list-view").hidden = false;
    state.detail = null;
    loadLicences();
  }

  function showLayout() {
    if (!state.detail) return;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(state.detail.identifier) + "/layout.png",
      { binary: true, headers: { Accept: "image/png" } }).then(function (result) {
      if (!result.ok) { walletError(CH.errorText(result, "版式文件加载失败")); return; }
      $("layout-image").src = CH.objectUrl(state.blobs.png = state.blobs.png || {}, result.data);
      $("layout-box").hidden = false;
    });
  }

  function downloadPdf() {
    if (!state.detail) return;
    var identifier = state.detail.identifier;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(identifier) + "/layout.pdf",
      { binary: true, headers: { Accept: "application/pdf" } }).then(function (result) {
      if (!result.ok) { walletError(CH.errorText(result, "PDF 下载失败")); return; }
      var link = el("a", { href: CH.objectUrl(state.blobs.pdf = state.blobs.pdf || {}, result.data),
                           download: (state.detail.type_name || "licence") + ".pdf" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  /* ------------------------------------------------------------ 亮证 */
  function startPresenting(identifiers) {
    stopPresenting();
    // 亮证 takes the whole panel: on a phone the code is all the clerk should see.
    var returnTo = $("licence-detail").hidden ? "licence-list-view" : "licence-detail";
    state.present = { identifiers: identifiers, refreshes: 0, timer: null, deadline: 0, total: 60, pending: false,
                      current: null, returnTo: returnTo };
    $("licence-list-view").hidden = true;
    $("licence-detail").hidden = true;
    $("present").hidden = false;
    $("present-licences").textContent = "出示：" + identifiers.map(function (id) {
      var found = state.licences.filter(function (l) { return l.identifier === id; })[0];
      return found ? found.type_name : id;
    }).join("、");
    requestCode();
    $("present").scrollIntoView({ block: "start" });
    $("present-title").setAttribute("tabindex", "-1");
    $("present-title").focus({ preventScroll: true });
  }

  function disclosure() {
    var checked = document.querySelector('input[name="disclosure"]:checked');
    return checked ? checked.value : "masked";
  }

  var DISCLOSURE_LABELS = { full: "完整信息", masked: "隐藏敏感信息" };

  // Asks for a new code. From that moment the code on screen is no longer
  // the current one (the registry supersedes it when it makes the new one),
  // so it leaves the screen at once. One request at a time, so the registry
  // makes the codes in the order the page asked for them; an answer that no
  // longer matches the disclosure chosen is dropped and asked for again.
  function requestCode() {
    var present = state.present;
    if (!present) return;
    clearCode("正在生成亮证码…");
    if (present.pending) return;  // the answer in flight is checked against the choice when it comes
    present.pending = true;
    var sentAt = Date.now();
    var wanted = disclosure();
    holderApi("/api/v1/presentations", { body: { licences: present.identifiers, disclosure: wanted } })
      .then(function (result) {
        present.pending = false;
        if (state.present !== present) return;
        if (disclosure() !== wanted || (result.ok && result.data.disclosure !== disclosure())) {
          requestCode();  // the holder changed the disclosure meanwhile: this code is not what the screen says
          return;
        }
        if (!result.ok) {
          clearCode("亮证码生成失败：" + CH.errorText(result, "请稍后重试"));
          return;
        }
        showCode(present, result.data, sentAt);
      });
  }

  function showCode(present, data, sentAt) {
    var image = $("qr-image");
    image.src = "data:image/png;base64," + data.qr_png_base64;
    image.hidden = false;
    image.dataset.presentationId = data.id;
    var text = $("qr-text");
    text.textContent = data.qr_text;
    text.dataset.qrText = data.qr_text;
    text.dataset.presentationId = data.id;
    text.dataset.disclosure = data.disclosure;
    text.dataset.acceptedUntil = data.accepted_until || "";
    var label = $("present-disclosure");
    label.textContent = "本码出示范围：" + (DISCLOSURE_LABELS[data.disclosure] || data.disclosure);
    label.dataset.disclosure = data.disclosure;
    // Count down to the instant the counter stops accepting the code, on this
    // device's clock (the server's may differ): from when the request left,
    // which is no later than the server's answer, so the page never runs past it.
    var left = Number(data.seconds_left);
    present.total = Math.max(5, isFinite(left) && left > 0 ? left : Number(data.ttl_seconds) || 60);
    present.deadline = sentAt + present.total * 1000;
    present.current = data.id;
    if (!present.timer) present.timer = window.setInterval(tick, 1000);
    tick();
    CH.announce("亮证码已生成，" + present.total + " 秒内有效");
  }

  function tick() {
    var present = state.present;
    if (!present) return;
    var left = Math.max(0, Math.ceil((present.deadline - Date.now()) / 1000));
    if (present.current) {
      if (left === 0) {
        clearCode("亮证码已过期。点击“立即刷新”重新生成。");
      } else {
        $("countdown").textContent = "剩余 " + left + " 秒";
        var bar = $("countdown-bar");
        bar.firstElementChild.style.width = Math.round((100 * left) / present.total) + "%";
        bar.classList.toggle("is-low", left <= 10);
      }
    }
    // Refresh ahead of the end, so the code on screen is always usable.
    var margin = Math.max(5, Math.round(present.total * 0.15));
    if (left <= margin && !present.pending && document.visibilityState === "visible") {
      if (present.refreshes >= MAX_AUTO_REFRESHES) return;
      present.refreshes += 1;
      requestCode();
    }
  }

  // Takes the code off the screen: image, text and countdown alike.
  function clearCode(message) {
    if (state.present) state.present.current = null;
    var image = $("qr-image");
    image.hidden = true;
    image.removeAttribute("src");
    image.dataset.presentationId = "";
    var text = $("qr-text");
    text.textContent = "";
    text.dataset.qrText = "";
    text.dataset.presentationId = "";
    text.dataset.disclosure = "";
    text.dataset.acceptedUntil = "";
    var label = $("present-disclosure");
    label.textContent = "出示范围：" + (DISCLOSURE_LABELS[disclosure()] || "");
    label.dataset.disclosure = "";
    $("countdown").textContent = message;
    var bar = $("countdown-bar");
    bar.firstElementChild.style.width = "0%";
    bar.classList.remove("is-low");
  }

  function stopPresenting() {
    var present = state.present;
    if (!present) return;
    if (present.timer) window.clearInterval(present.timer);
    clearCode("--");
    state.present = null;
    $("present").hidden = true;
    $(present.returnTo).hidden = false;
  }

  function bindPresenting() {
    $("present-selected").addEventListener("click", function () { startPresenting(Object.keys(state.selected)); });
    $("present-this").addEventListener("click", function () {
      if (state.detail) startPresenting([state.detail.identifier]);
    });
    $("present-refresh").addEventListener("click", function () {
      if (!state.present) return;
      state.present.refreshes = 0;
      requestCode();
    });
    $("present-close").addEventListener("click", function () {
      var back = state.present && state.present.returnTo;
      stopPresenting();
      CH.announce("已结束亮证");
      if (back === "licence-detail") $("present-this").focus(); else $("present-selected").focus();
    });
    Array.prototype.forEach.call(document.querySelectorAll('input[name="disclosure"]'), function (radio) {
      radio.addEventListener("change", function () { if (state.present) requestCode(); });
    });
    document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") tick(); });
  }

  /* ------------------------------------------------------------ use records */
  function loadRecords() {
    Promise.all([holderApi("/api/v1/holders/me/use-records"), CH.catalog("departments"), CH.catalog("matters")])
      .then(function (all) {
        var result = all[0], departments = all[1], matters = all[2];
        if (!result.ok) { walletError(CH.errorText(result, "用证记录加载失败")); return; }
        var data = result.data || {};
        var records = data.records || [];
        $("records-empty").hidden = records.length > 0;
        var list = CH.clear($("records"));
        CH.checkCheckpoint(data.checkpoint).then(function (checked) {
          var cp = checked.checkpoint;
          $("records-checkpoint").textContent = cp
            ? "日志检查点：共 " + cp.size + " 条记录　签名" +
              (checked.signature === "ok" ? "已在本机核验 ✓" : checked.signature === "bad" ? "核验失败 ✗" : "未在本机核验")
            : "日志尚未发布检查点。";
          $("records-checkpoint").dataset.signature = checked.signature;
          records.forEach(function (item) {
            var node = recordNode(item, departments, matters);
            list.appendChild(node);
            CH.checkRecord(item, checked.signature === "bad" ? null : cp).then(function (status) {
              var proof = node.querySelector(".proof");
              proof.dataset.proof = status;
              if (status === "ok") { proof.className = "proof proof-ok"; proof.textContent = "日志证明：已核验 ✓（第 " + (item.index + 1) + " 条，检查点共 " + cp.size + " 条）"; }
              else if (status === "present") { proof.className = "proof proof-ok"; proof.textContent = "日志证明：已收录（检查点共 " + cp.size + " 条）"; }
              else if (status === "pending") { proof.className = "proof proof-pending"; proof.textContent = "日志证明：等待下一个检查点收录"; }
              else { proof.className = "proof proof-bad"; proof.textContent = "日志证明：核验失败 ✗"; }
            });
            showAnswerCheck(node, item);
          });
          showCompleteness(data, checked);
        });
      });
  }

  /* What went out about the holder, checked here against the record's commitment (answercheck.js). */
  var ANSWER_TEXT = {
    verified: ["proof-ok", "披露内容：已核验 ✓（与日志记录的承诺一致）"],
    mismatch: ["proof-bad", "披露内容：与日志记录的承诺不符 ✗"],
    missing: ["proof-pending", "披露内容：未保存，无法核对"],
    unchecked: ["proof-pending", "披露内容：本机浏览器无法核验"]
  };
  function showAnswerCheck(node, item) {
    var line = node.querySelector(".answer");
    if (!line) return;
    CH.checkAnswer(item.record, item.disclosed).then(function (status) {
      var shown = ANSWER_TEXT[status] || ANSWER_TEXT.mismatch;
      line.dataset.answer = status;
      line.className = "answer small " + shown[0];
      line.textContent = shown[1] + ((item.disclosed && item.disclosed.values) ? "，共 " + item.disclosed.values.length + " 项" : "");
    });
  }

  /* Whether the list is provably all of the holder's uses up to the checkpoint
     (logcompleteness.js), and how many uses a covert mandate still withholds. */
  function showCompleteness(data, checked) {
    var node = $("records-completeness");
    node.textContent = "完整性证明：核验中…";
    CH.checkCompleteness(data, checked).then(function (result) {
      node.dataset.complete = result.status;
      var withheld = result.embargoed ? "其中 " + result.embargoed + " 条为监管执法保密期内的使用，保密期满后显示内容。" : "";
      if (result.status === "ok") {
        node.textContent = "完整性证明：已核验 ✓ 截至该检查点，日志中涉及您的使用共 " + result.count + " 条，均已列出。" + withheld;
      } else if (result.status === "bad") {
        node.textContent = "完整性证明：核验失败 ✗ 列出的记录与日志承诺的数量不符，可能有使用未向您显示。";
      } else if (result.status === "unavailable") {
        node.textContent = "完整性证明：暂不可用（检查点未包含按主体的索引，或记录过多）。";
      } else {
        node.textContent = "完整性证明：本浏览器无法核验。";
      }
    });
  }

  function recordNode(item, departments, matters) {
    var r = item.record || {};
    var granted = r.result === "granted";
    var who = CH.nameOf(departments, r.department);
    return el("li", { class: "record", "data-kind": r.kind, "data-result": r.result },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: who }),
        el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"), text: CH.resultLabel(r.result) })),
      el("div", { class: "small", text: CH.formatTime(r.time) + "　" + CH.kindLabel(r.kind) +
        (r.operator && r.operator !== "holder" ? "　经办人 " + r.operator : "") }),
      r.matter ? el("div", { class: "small", text: "事项：" + CH.nameOf(matters, r.matter) }) : null,
      r.purpose ? el("div", { class: "small", text: "事由：" + r.purpose }) : null,
      el("div", { class: "small", text: "依据：" + CH.basisLabel(r.basis) +
        (r.basis === "supervision_mandate" ? "（监管执法查询，无需您授权）" : "") +
        (r.reason ? "　拒绝原因：" + r.reason : "") }),
      el("div", { class: "proof proof-pending small", text: "日志证明：核验中…" }),
      r.answer ? el("div", { class: "answer small proof-pending", text: "披露内容：核验中…" }) : null);
  }

  /* ------------------------------------------------------------ consents */
  function loadConsents() {
    Promise.all([holderApi("/api/v1/holders/me/consents"), CH.catalog("departments"), CH.catalog("matters"),
                 CH.catalog("licence-types"), CH.catalog("data-items")]).then(function (all) {
      var result = all[0];
      var list = CH.clear($("consents"));
      if (!result.ok) {
        $("consents-empty").hidden = false;
        $("consents-empty").textContent = result.status === 404 ? "本平台未开通授权管理。" : CH.errorText(result, "授权加载失败");
        return;
      }
      var consents = Array.isArray(result.data) ? result.data : [];
      $("consents-empty").hidden = consents.length > 0;
      consents.forEach(function (consent) { list.appendChild(consentNode(consent, all[1], all[2], all[3], all[4])); });
    });
  }

  function consentNode(consent, departments, matters, types, items) {
    var active = consent.status === "active";
    var names = (consent.items || []).map(function (code) { return CH.nameOf(types[code] ? types : items, code); });
    var node = el("li", { class: "record", "data-consent": consent.id, "data-status": consent.status },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: CH.nameOf(departments, consent.department) }),
        el("span", { class: "badge " + (active ? "badge-valid" : "badge-revoked"),
                     text: active ? "生效中" : consent.status === "withdrawn" ? "已撤回" : "已失效" })),
      el("div", { class: "small", text: "事项：" + CH.nameOf(matters, consent.matter) }),
      el("div", { class: "small", text: "授权内容：" + names.join("、") }),
      el("div", { class: "small", text: "有效期：" + CH.formatTime(consent.valid_from) + " 至 " + CH.formatTime(consent.valid_until) +
        (consent.granted_by_proxy ? "　（由代办人授权）" : "") }));
    if (active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-danger", text: "撤回授权", onclick: function (event) {
        if (!window.confirm("确定撤回对“" + CH.nameOf(departments, consent.department) + "”的授权吗？")) return;
        event.target.disabled = true;
        holderApi("/api/v1/holders/me/consents/" + encodeURIComponent(consent.id) + "/withdraw", { method: "POST" })
          .then(function (result) {
            if (!result.ok) { walletError(CH.errorText(result, "撤回失败")); event.target.disabled = false; return; }
            CH.announce("已撤回授权");
            loadConsents();
          });
      } }));
    }
    return node;
  }

  /* ------------------------------------------------------------ disputes */
  function fillDisputeLicences() {
    var select = CH.clear($("dispute-licence"));
    state.licences.forEach(function (licence) {
      select.appendChild(el("option", { value: licence.identifier, "data-type": licence.type_code,
                                        text: licence.type_name + "（" + CH.statusLabel(licence.status) + "）" }));
    });
    fillDisputeFields();
  }

  function fillDisputeFields() {
    var select = $("dispute-licence");
    var option = select.selectedOptions[0];
    var fields = CH.clear($("dispute-field"));
    if (!option) return;
    CH.licenceType(option.dataset.type).then(function (type) {
      ((type && type.fields) || []).forEach(function (field) {
        fields.appendChild(el("option", { value: field.key, text: field.label }));
      });
    });
  }

  function bindDisputes() {
    $("dispute-licence").addEventListener("change", fillDisputeFields);
    $("dispute-this").addEventListener("click", function () {
      if (!state.detail) return;
      state.tabs.select("tab-disputes");
      $("dispute-licence").value = state.detail.identifier;
      fillDisputeFields();
      $("dispute-field").focus();
    });
    $("dispute-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var message = $("dispute-message");
      var body = { identifier: $("dispute-licence").value, field: $("dispute-field").value,
                   reason: $("dispute-reason").value.trim() };
      var proposed = $("dispute-value").value.trim();
      if (proposed) body.proposed_value = proposed;
      if (!body.identifier || !body.field || !body.reason) {
        message.className = "alert alert-error";
        message.textContent = "请选择证照和信息项，并填写异议理由。";
        return;
      }
      holderApi("/api/v1/holders/me/disputes", { body: body }).then(function (result) {
        if (!result.ok) {
          message.className = "alert alert-error";
          message.textContent = CH.errorText(result, "提交失败");
          return;
        }
        message.className = "alert alert-ok";
        message.textContent = "异议已提交，发证部门将在 " + CH.formatTime(result.data.due_at) + " 前处理。";
        $("dispute-reason").value = "";
        $("dispute-value").value = "";
        loadDisputes();
      });
    });
  }

  function loadDisputes() {
    holderApi("/api/v1/holders/me/disputes").then(function (result) {
      var list = CH.clear($("disputes"));
      if (!result.ok) { walletError(CH.errorText(result, "异议加载失败")); return; }
      var disputes = Array.isArray(result.data) ? result.data : [];
      $("disputes-empty").hidden = disputes.length > 0;
      var labels = { open: "处理中", accepted: "已更正", rejected: "未采纳" };
      disputes.forEach(function (d) {
        var licence = state.licences.filter(function (l) { return l.base_identifier && d.licence_identifier.indexOf(l.base_identifier) === 0; })[0];
        var who = el("span", { class: "who", text: (licence ? licence.type_name + "：" : "") + d.field });
        if (licence) {
          CH.licenceType(licence.type_code).then(function (type) {
            who.textContent = licence.type_name + "：" + (CH.fieldLabels(type)[d.field] || d.field);
          });
        }
        list.appendChild(el("li", { class: "record", "data-dispute": d.id, "data-status": d.status },
          el("div", { class: "row-between" },
            who,
            el("span", { class: "badge " + (d.status === "rejected" ? "badge-revoked" : d.status === "accepted" ? "badge-valid" : "badge-suspended"),
                         text: (labels[d.status] || d.status) + (d.overdue ? "（已超期）" : "") })),
          el("div", { class: "small", text: "理由：" + d.reason + (d.proposed_value ? "　建议改为：" + d.proposed_value : "") }),
          el("div", { class: "small muted", text: "提交于 " + CH.formatTime(d.created_at) + "　处理期限 " + CH.formatTime(d.due_at) }),
          d.decision_reason ? el("div", { class: "small", text: "处理意见：" + d.decision_reason }) : null));
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    bindSignIn();
    bindPresenting();
    bindDisputes();
    $("back-to-list").addEventListener("click", backToList);
    $("show-layout").addEventListener("click", showLayout);
    $("download-pdf").addEventListener("click", downloadPdf);
    $("detail-title").setAttribute("tabindex", "-1");
    state.tabs = CH.tabs(document.querySelector(".tabs"), function (id) {
      if (id !== "tab-licences") stopPresenting();  // no codes made for a screen nobody sees
      if (id === "tab-records") loadRecords();
      else if (id === "tab-consents") loadConsents();
      else if (id === "tab-disputes") loadDisputes();
      else if (id === "tab-licences") loadLicences();
    });
    var saved = CH.loadToken(TOKEN);
    if (saved) signedIn(saved);
    else if ($("holder-code")) $("holder-code").focus();
  });
})();
