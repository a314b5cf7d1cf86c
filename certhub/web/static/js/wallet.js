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

  /* ------------------------------------------------------------ errors */
  // What a refusal means, in words: never a raw code such as "invalid_dispute".
  var ERROR_TEXT = {
    invalid_request: "填写的内容格式不正确，请检查后重试。",
    invalid_code: "证件号码格式不正确，请核对。",
    licence_not_found: "未找到该证照，或该证照不属于您。",
    invalid_identifier: "证照标识格式不正确，请核对。",
    licence_not_presentable: "该证照当前不可出示（已吊销、暂停或已过期）。",
    invalid_presentation: "亮证请求不符合要求，请重新选择证照后再试。",
    proxy_not_allowed: "您没有代此人办理的有效委托（或委托不包括此证照、此操作）。",
    delegation_not_found: "未找到该委托，可能已被撤销。",
    delegation_inactive: "该委托已撤销或已过期，不能再代办。请联系委托人重新委托。",
    push_endpoint_refused: "本平台不支持此浏览器的推送服务；打开本页时仍会提示新的用证记录。",
    web_push_off: "本平台未开通推送提醒；打开本页时仍会提示新的用证记录。",
    invalid_dispute: "异议内容不符合要求，请检查后重试。",
    too_many_disputes: "该证照待处理的异议已达上限，请等发证部门处理后再提交。",
    dispute_closed: "该异议已处理完毕。",
    dispute_not_found: "未找到该异议。",
    invalid_exchange_request: "授权内容不符合要求，请检查后重试。",
    consent_not_found: "未找到该授权，可能已被撤回。",
    attachment_refused: "附件不符合要求：仅支持 JPG、PNG 或 PDF，每个不超过 2 MB，最多 3 个。",
    not_found: "未找到所请求的内容。",
    forbidden: "当前账号没有此操作的权限。"
  };
  // The server's message says which rule was broken; these say it in Chinese.
  var DETAIL_TEXT = [
    [/attachment: only JPEG/, "附件仅支持 JPG、PNG 或 PDF 文件。"],
    [/attachment: at most \d+ bytes/, "每个附件不能超过 900 KB。"],
    [/attachment: at most \d+ files/, "每条异议最多 3 个附件。"],
    [/attachment: the dispute is no longer open/, "该异议已处理完毕，不能再添加附件。"],
    [/attachment: the file is empty/, "附件是空文件，请重新选择。"],
    [/is required/, "请把必填项填写完整。"],
    [/at most \d+ characters/, "填写的内容过长，请精简后再提交。"],
    [/control characters/, "内容中含有不可见的控制字符，请重新输入。"],
    [/can no longer be corrected/, "该证照已失效，不能再提出异议。"],
    [/is not a field of/, "所选信息项不属于该证照。"],
    [/at most one year/, "授权期限最长一年，请缩短截止日期。"],
    [/valid_until/, "授权截止日期须晚于今天。"],
    [/delegations cover licence types only/, "代办人只能为证照授权；数据项须由本人授权。"],
    [/not held by a holder of your kind/, "所选数据不适用于您的证件类型。"],
    [/active consents/, "有效授权数量已达上限，请先撤回不再需要的授权。"],
    [/is not a department in the catalog|matter:/, "所选事项或部门不在目录中，请重新选择。"]
  ];

  function errorMessage(result, fallback) {
    var prefix = fallback ? fallback + "：" : "";
    var data = result.data || {};
    // A refusal this page knows by its code is said in its words (a proxy's
    // ended delegation is a 403 too); other 403s are the generic answer.
    if (result.status === 403 && ERROR_TEXT[data.error] && data.error !== "forbidden") return prefix + ERROR_TEXT[data.error];
    if ([0, 401, 403, 429, 503].indexOf(result.status) >= 0) return prefix + CH.errorText(result, "");
    var message = typeof data.message === "string" ? data.message : "";
    for (var i = 0; i < DETAIL_TEXT.length; i++) {
      if (DETAIL_TEXT[i][0].test(message)) return prefix + DETAIL_TEXT[i][1];
    }
    return prefix + (ERROR_TEXT[data.error] || "请稍后重试；如仍不成功，请联系发证部门。");
  }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("wallet-app").hidden = false;
    $("greeting").textContent = "您好，" + (saved.name || "持证人");
    renderOffline();
    loadLicences();
    // A use of the holder's data is told here while the wallet is open (and,
    // if the holder allowed it, as a system notification while it is hidden).
    watchUses();
    loadPush();
    if (!state.watch) state.watch = window.setInterval(watchUses, WATCH_SECONDS * 1000);
    if (readConsentRequest()) state.tabs.select("tab-consents");
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
        ? "登录信息不正确，请核对后重试。" : errorMessage(result, "登录失败"));
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
      if (!result.ok) { walletError(errorMessage(result, "证照加载失败")); return; }
      walletError("");
      state.licences = Array.isArray(result.data) ? result.data : (result.data && result.data.licences) || [];
      renderLicences();
      fillDisputeLicences();
      loadReminders();
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
      if (!result.ok) { walletError(errorMessage(result, "证照加载失败")); return; }
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
      if (!result.ok) { walletError(errorMessage(result, "版式文件加载失败")); return; }
      $("layout-image").src = CH.objectUrl(state.blobs.png = state.blobs.png || {}, result.data);
      $("layout-box").hidden = false;
    });
  }

  function downloadPdf() {
    if (!state.detail) return;
    var identifier = state.detail.identifier;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(identifier) + "/layout.pdf",
      { binary: true, headers: { Accept: "application/pdf" } }).then(function (result) {
      if (!result.ok) { walletError(errorMessage(result, "PDF 下载失败")); return; }
      var link = el("a", { href: CH.objectUrl(state.blobs.pdf = state.blobs.pdf || {}, result.data),
                           download: (state.detail.type_name || "licence") + ".pdf" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  /* ------------------------------------------------------------ 亮证 */
  function startPresenting(identifiers, onBehalfOf, principalTypeName) {
    stopPresenting();
    // 亮证 takes the whole panel: on a phone the code is all the clerk should see.
    var returnTo = $("licence-detail").hidden ? "licence-list-view" : "licence-detail";
    state.present = { identifiers: identifiers, onBehalfOf: onBehalfOf || null, refreshes: 0, timer: null, deadline: 0, total: 60, pending: false,
                      current: null, returnTo: returnTo };
    $("licence-list-view").hidden = true;
    $("licence-detail").hidden = true;
    $("present").hidden = false;
    $("present-licences").textContent = "出示：" + identifiers.map(function (id) {
      var found = state.licences.filter(function (l) { return l.identifier === id; })[0];
      return found ? found.type_name : principalTypeName || id;
    }).join("、") + (onBehalfOf ? "（代他人出示）" : "");
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
    var body = { licences: present.identifiers, disclosure: wanted };
    if (present.onBehalfOf) body.on_behalf_of = present.onBehalfOf;
    holderApi("/api/v1/presentations", { body: body })
      .then(function (result) {
        present.pending = false;
        if (state.present !== present) return;
        if (disclosure() !== wanted || (result.ok && result.data.disclosure !== disclosure())) {
          requestCode();  // the holder changed the disclosure meanwhile: this code is not what the screen says
          return;
        }
        if (!result.ok) {
          clearCode("亮证码生成失败：" + errorMessage(result, "请稍后重试"));
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
    var digits = String(data.short_code || "");
    $("short-code").textContent = digits ? digits.replace(/^(\d{3})(\d{3})(\d{4})$/, "$1 $2 $3") : "—";
    $("short-code").dataset.shortCode = digits;
    keepScreenOn();
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
    $("short-code").textContent = "—";
    $("short-code").dataset.shortCode = "";
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
    letScreenSleep();
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
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "visible") return;
      tick();
      // The browser lets a wake lock go when the page is hidden: take it again on return.
      if (state.present && state.present.current) keepScreenOn();
    });
  }

  /* Screen Wake Lock (W3C Screen Wake Lock API) while a code is on screen:
     a phone that dims or locks mid-scan sends the holder back to the start. */
  var wakeLock = null;
  function wakeState(value, text) {
    var node = $("wake-lock-state");
    node.dataset.wakeLock = value;
    node.textContent = text;
  }
  function keepScreenOn() {
    if (wakeLock) return;
    if (!("wakeLock" in navigator)) {
      wakeState("unsupported", "本机浏览器不能保持屏幕常亮，请在出示期间勿让屏幕自动关闭。");
      return;
    }
    navigator.wakeLock.request("screen").then(function (lock) {
      if (!state.present) { lock.release(); return; }
      wakeLock = lock;
      wakeState("held", "亮证期间屏幕保持常亮。");
      lock.addEventListener("release", function () {
        if (wakeLock === lock) wakeLock = null;
        if (state.present) wakeState("released", "屏幕常亮已中断，返回本页后自动恢复。");
      });
    }).catch(function () {
      wakeState("refused", "未能保持屏幕常亮（可能处于省电模式），请在出示期间勿让屏幕自动关闭。");
    });
  }
  function letScreenSleep() {
    var lock = wakeLock;
    wakeLock = null;
    if (lock) lock.release().catch(function () { /* already released */ });
    wakeState("", "");
  }

  /* ------------------------------------------------------------ offline copies */
  // The printed static QR of a licence, kept on this device on the holder's
  // request, so it can be shown with no network (the page itself comes from
  // the service worker's copy). It is what the paper licence carries: the
  // holder's name masked, checked by the counter offline against the trust list.
  var OFFLINE_KEY = "certhub.wallet.offline";

  function offlineCopies() {
    try { return JSON.parse(window.localStorage.getItem(OFFLINE_KEY) || "{}") || {}; } catch (e) { return {}; }
  }

  function keepOfflineCopies(copies) {
    try {
      window.localStorage.setItem(OFFLINE_KEY, JSON.stringify(copies));
      return true;
    } catch (e) { return false; }
  }

  function saveOffline() {
    var licence = state.detail;
    if (!licence) return;
    var note = $("save-offline-state");
    note.textContent = "正在保存…";
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(licence.identifier) + "/static-qr")
      .then(function (result) {
        if (!result.ok) { note.textContent = errorMessage(result, "保存失败"); return; }
        var copies = offlineCopies();
        copies[licence.base_identifier || licence.identifier] = {
          identifier: result.data.identifier, type_name: result.data.type_name, qr_text: result.data.qr_text,
          qr_png_base64: result.data.qr_png_base64, valid_until: result.data.valid_until, saved_at: new Date().toISOString()
        };
        note.textContent = keepOfflineCopies(copies)
          ? "已保存到本机：无网络时打开本页即可出示此证照的静态二维码。"
          : "本机存储空间不足，未能保存。";
        note.dataset.saved = "true";
        renderOffline();
      });
  }

  function renderOffline() {
    var copies = offlineCopies();
    var keys = Object.keys(copies);
    var offline = navigator.onLine === false;
    var section = $("offline");
    section.hidden = keys.length === 0 || (!offline && !!state.session);
    $("offline-state").textContent = offline ? "当前无网络连接：以下为保存在本机的证照二维码。" : "";
    var list = CH.clear($("offline-list"));
    keys.forEach(function (key) {
      var copy = copies[key];
      list.appendChild(el("li", { class: "offline-copy", "data-identifier": copy.identifier },
        el("p", { class: "type-name", text: copy.type_name }),
        el("img", { class: "qr-image", src: "data:image/png;base64," + copy.qr_png_base64,
                    alt: copy.type_name + "的静态二维码" }),
        el("p", { class: "small muted", text: "有效期至 " + CH.formatDate(copy.valid_until) + "　保存于 " + CH.formatTime(copy.saved_at) }),
        el("button", { type: "button", class: "btn btn-secondary", text: "从本机删除", onclick: function () {
          var now = offlineCopies();
          delete now[key];
          keepOfflineCopies(now);
          renderOffline();
        } })));
    });
  }

  function registerServiceWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/wallet-sw.js", { scope: "/wallet" }).then(function () {
      document.body.dataset.offlineReady = "true";
    }).catch(function () { /* no offline copy of the page: the wallet still works online */ });
  }



  /* ------------------------------------------------------------ OpenID4VCI */
  // "Add to wallet": this page is a wallet in the OpenID4VCI 1.0 sense
  // (docs/oid4vci.md). Its key is a WebCrypto P-256 pair made non-extractable
  // and kept in IndexedDB, so the private key never leaves the browser's key
  // store; the credential received, bound to that key, is kept there too.
  var VCI_DB = "certhub-wallet", VCI_KEYS = "keys", VCI_CREDENTIALS = "credentials";
  var PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
  var VCI_TEXT = {
    working: "正在存入钱包…", stored: "已存入本机钱包（SD-JWT VC，绑定本机密钥）。",
    deferred: "证照暂不可发放（暂停或尚未生效），恢复后可再次存入。", failed: "存入钱包失败",
    unsupported: "此浏览器不支持本机钱包（需要 WebCrypto 与 IndexedDB）。"
  };

  function vciDb() {
    return new Promise(function (resolve, reject) {
      var opening = window.indexedDB.open(VCI_DB, 1);
      opening.onupgradeneeded = function () {
        opening.result.createObjectStore(VCI_KEYS);
        opening.result.createObjectStore(VCI_CREDENTIALS);
      };
      opening.onsuccess = function () { resolve(opening.result); };
      opening.onerror = function () { reject(opening.error); };
    });
  }

  function vciStore(db, store, mode, act) {
    return new Promise(function (resolve, reject) {
      var request = act(db.transaction(store, mode).objectStore(store));
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function holderKeyPair(db) {
    return vciStore(db, VCI_KEYS, "readonly", function (s) { return s.get("holder"); }).then(function (pair) {
      if (pair) return pair;
      return window.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])
        .then(function (made) {
          return vciStore(db, VCI_KEYS, "readwrite", function (s) { return s.put(made, "holder"); })
            .then(function () { return made; });
        });
    });
  }

  function b64url(bytes) {
    var text = "";
    new Uint8Array(bytes).forEach(function (b) { text += String.fromCharCode(b); });
    return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlJson(value) { return b64url(new TextEncoder().encode(JSON.stringify(value))); }

  // SPEC: OpenID4VCI 1.0 Appendix F.1. WebCrypto's ECDSA signature is r || s, as JWS ES256 wants.
  function signProof(pair, issuer, nonce) {
    return window.crypto.subtle.exportKey("jwk", pair.publicKey).then(function (jwk) {
      var header = { alg: "ES256", typ: "openid4vci-proof+jwt", jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } };
      var input = b64urlJson(header) + "." + b64urlJson({ aud: issuer, iat: Math.floor(Date.now() / 1000), nonce: nonce });
      return window.crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, new TextEncoder().encode(input))
        .then(function (signature) { return input + "." + b64url(signature); });
    });
  }

  function vciStep(result) {
    if (!result.ok) throw result;
    return result.data;
  }

  function addToWallet() {
    var licence = state.detail, note = $("vci-state");
    if (!licence) return;
    if (!window.indexedDB || !window.crypto || !window.crypto.subtle) { note.textContent = VCI_TEXT.unsupported; return; }
    note.textContent = VCI_TEXT.working;
    delete note.dataset.outcome;
    var offer, db, pair, accessToken;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(licence.identifier) + "/credential-offer",
              { body: { tx_code: false } }).then(vciStep).then(function (data) {
      offer = data.credential_offer;
      return vciDb();
    }).then(function (opened) {
      db = opened;
      return holderKeyPair(db);
    }).then(function (made) {
      pair = made;
      var form = new URLSearchParams();
      form.set("grant_type", PRE_AUTHORIZED);
      form.set("pre-authorized_code", offer.grants[PRE_AUTHORIZED]["pre-authorized_code"]);
      return CH.api("/api/v1/oauth/token", { body: form }).then(vciStep);
    }).then(function (token) {
      accessToken = token.access_token;
      return CH.api("/api/v1/oid4vci/nonce", { method: "POST" }).then(vciStep);
    }).then(function (nonce) {
      return signProof(pair, offer.credential_issuer, nonce.c_nonce);
    }).then(function (proof) {
      return CH.api("/api/v1/oid4vci/credential", { token: accessToken, body: {
        credential_configuration_id: offer.credential_configuration_ids[0], proofs: { jwt: [proof] } } }).then(vciStep);
    }).then(function (answer) {
      if (!answer.credentials) { note.textContent = VCI_TEXT.deferred; note.dataset.outcome = "deferred"; return null; }
      var kept = { identifier: licence.identifier, credential: answer.credentials[0].credential,
                   received_at: new Date().toISOString() };
      return vciStore(db, VCI_CREDENTIALS, "readwrite", function (s) { return s.put(kept, licence.base_identifier || licence.identifier); })
        .then(function () { note.textContent = VCI_TEXT.stored; note.dataset.outcome = "stored"; });
    }).catch(function (failure) {
      note.textContent = failure && failure.status !== undefined ? errorMessage(failure, VCI_TEXT.failed) : VCI_TEXT.failed;
      note.dataset.outcome = "failed";
      note.dataset.error = (failure && failure.data && failure.data.error) || String(failure);
    });
  }

  function showOfferQr() {
    var licence = state.detail;
    if (!licence) return;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(licence.identifier) + "/credential-offer",
              { body: { tx_code: true } }).then(function (result) {
      if (!result.ok) { $("vci-state").textContent = errorMessage(result, VCI_TEXT.failed); return; }
      $("vci-offer-qr").src = "data:image/png;base64," + result.data.qr_png_base64;
      $("vci-offer-link").href = result.data.offer_uri;
      $("vci-tx-code").textContent = result.data.tx_code;
      $("vci-offer").hidden = false;
    });
  }

  /* ------------------------------------------------------------ use records */
  // Every record is fetched once (at most 1000, newest first) and checked
  // against the checkpoint; filters and pages are then this page's work. The
  // holder's own views are one line a day, not one line each.
  var PAGE_SIZE = 20;
  var records = { all: [], checked: null, departments: {}, matters: {}, items: {}, page: 0 };

  function loadRecords() {
    Promise.all([holderApi("/api/v1/holders/me/use-records"), CH.catalog("departments"), CH.catalog("matters"),
                 CH.catalog("data-items"), holderApi("/api/v1/holders/me/delegations")])
      .then(function (all) {
        var result = all[0];
        family.given = {};
        ((all[4].ok && all[4].data.given) || []).forEach(function (d) { family.given[d.id] = d; });
        if (!result.ok) { walletError(errorMessage(result, "用证记录加载失败")); return; }
        var data = result.data || {};
        records.all = data.records || [];
        records.departments = all[1];
        records.matters = all[2];
        records.items = all[3];
        records.page = 0;
        fillRecordFilters();
        CH.checkCheckpoint(data.checkpoint).then(function (checked) {
          records.checked = checked;
          var cp = checked.checkpoint;
          $("records-checkpoint").textContent = cp
            ? "日志检查点：共 " + cp.size + " 条记录　签名" +
              (checked.signature === "ok" ? "已在本机核验 ✓" : checked.signature === "bad" ? "核验失败 ×" : "未在本机核验")
            : "日志尚未发布检查点。";
          $("records-checkpoint").dataset.signature = checked.signature;
          renderRecords();
          showCompleteness(data, checked);
        });
      });
  }

  function baseOf(identifier) {
    var parts = String(identifier || "").split(".");
    return parts.length > 3 ? parts.slice(0, -2).join(".") : String(identifier || "");
  }

  function licenceOf(identifier) {
    var base = baseOf(identifier);
    return state.licences.filter(function (l) {
      return l.base_identifier === base || l.base_identifier === identifier || l.identifier === identifier;
    })[0];
  }

  function fillRecordFilters() {
    var licenceSelect = $("filter-licence"), departmentSelect = $("filter-department");
    var keepLicence = licenceSelect.value, keepDepartment = departmentSelect.value;
    CH.clear(licenceSelect).appendChild(el("option", { value: "", text: "全部证照" }));
    state.licences.forEach(function (licence) {
      licenceSelect.appendChild(el("option", { value: licence.base_identifier, text: licence.type_name }));
    });
    CH.clear(departmentSelect).appendChild(el("option", { value: "", text: "全部部门" }));
    var seen = {};
    records.all.forEach(function (item) {
      var code = (item.record || {}).department;
      if (!code || seen[code]) return;
      seen[code] = true;
      departmentSelect.appendChild(el("option", { value: code, text: CH.nameOf(records.departments, code) }));
    });
    licenceSelect.value = keepLicence;
    departmentSelect.value = keepDepartment;
  }

  function isSelfView(r) { return r.kind === "holder_access" && r.basis === "holder_self"; }

  function filteredRecords() {
    var licence = $("filter-licence").value, department = $("filter-department").value;
    var from = $("filter-from").value, to = $("filter-to").value;
    return records.all.filter(function (item) {
      var r = item.record || {};
      var day = localDay(r.time);
      if (licence && !(r.licence_ids || []).some(function (id) { return baseOf(id) === licence; })) return false;
      if (department && r.department !== department) return false;
      if (from && day < from) return false;
      if (to && day > to) return false;
      return true;
    });
  }

  function localDay(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.getFullYear() + "-" + CH.pad(d.getMonth() + 1) + "-" + CH.pad(d.getDate());
  }

  // Others' uses one by one; the holder's own views folded into one entry per day.
  function groupedRecords(items) {
    var rows = [], selfByDay = {};
    items.forEach(function (item) {
      var r = item.record || {};
      if (!isSelfView(r)) { rows.push({ item: item }); return; }
      var day = localDay(r.time);
      if (!selfByDay[day]) { selfByDay[day] = { self: [], day: day }; rows.push(selfByDay[day]); }
      selfByDay[day].self.push(item);
    });
    return rows;
  }

  function renderRecords() {
    var rows = groupedRecords(filteredRecords());
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    records.page = Math.min(records.page, pages - 1);
    var shown = rows.slice(records.page * PAGE_SIZE, (records.page + 1) * PAGE_SIZE);
    var list = CH.clear($("records"));
    $("records-empty").hidden = rows.length > 0;
    $("records-empty").textContent = records.all.length ? "没有符合筛选条件的记录。" : "暂无用证记录。";
    var others = rows.filter(function (row) { return row.item; }).length;
    $("records-summary").textContent = "共 " + others + " 次他人用证" +
      (rows.length > others ? "，本人查看 " + (rows.length - others) + " 天（已合并显示）" : "");
    $("records-page").textContent = "第 " + (records.page + 1) + " / " + pages + " 页";
    $("records-prev").disabled = records.page === 0;
    $("records-next").disabled = records.page >= pages - 1;
    shown.forEach(function (row) {
      if (row.item) {
        var node = recordNode(row.item);
        list.appendChild(node);
        checkProof(row.item, node.querySelector(".proof"));
        showAnswerCheck(node, row.item);
      } else {
        list.appendChild(selfViewsNode(row));
      }
    });
  }

  function checkProof(item, proof) {
    var checked = records.checked;
    var cp = checked && checked.checkpoint;
    CH.checkRecord(item, checked && checked.signature === "bad" ? null : cp).then(function (status) {
      proof.dataset.proof = status;
      if (status === "ok") { proof.className = "proof proof-ok small"; proof.textContent = "日志证明：已核验 ✓（第 " + (item.index + 1) + " 条，检查点共 " + cp.size + " 条）"; }
      else if (status === "present") { proof.className = "proof proof-ok small"; proof.textContent = "日志证明：已收录（检查点共 " + cp.size + " 条）"; }
      else if (status === "pending") { proof.className = "proof proof-pending small"; proof.textContent = "日志证明：等待下一个检查点收录"; }
      else { proof.className = "proof proof-bad small"; proof.textContent = "日志证明：核验失败 ×"; }
    });
  }

  function selfViewsNode(group) {
    var latest = group.self[0].record;
    var names = {};
    group.self.forEach(function (item) {
      (item.record.licence_ids || []).forEach(function (id) {
        var licence = licenceOf(id);
        names[licence ? licence.type_name : "证照"] = true;
      });
    });
    var details = el("details", { class: "self-views" },
      el("summary", { text: group.day + "　您本人查看 " + group.self.length + " 次（最近 " +
        CH.formatTime(latest.time).slice(11, 16) + "）" }),
      el("p", { class: "small muted", text: "查看的证照：" + Object.keys(names).join("、") }));
    return el("li", { class: "record record-self", "data-kind": "holder_access", "data-self-count": String(group.self.length) },
      details);
  }

  // "face.address" / "face.address:masked" / "sealed_record": said in words, with the catalog's labels.
  var RECORD_FIELDS = { holder_name: "持证人姓名", sealed_record: "电子证照原件（含签章）",
                        "static_qr.identifier": "证照标识", "static_qr.holder_name_masked": "姓名（遮蔽）",
                        "static_qr.validity": "有效期" };
  function fieldText(fields, labels) {
    return (fields || []).map(function (name) {
      var plain = name.replace(/:masked$/, "");
      if (RECORD_FIELDS[plain]) return RECORD_FIELDS[plain] + (plain !== name ? "（已遮蔽）" : "");
      var masked = /:masked$/.test(name);
      var key = name.replace(/:masked$/, "").replace(/^face\./, "");
      if (key === "*") return masked ? "全部信息（部分遮蔽）" : "全部信息";
      return (labels[key] || key) + (masked ? "（已遮蔽）" : "");
    }).join("、");
  }

  function recordNode(item) {
    var r = item.record || {};
    var granted = r.result === "granted";
    var who = CH.nameOf(records.departments, r.department);
    var licenceNames = (r.licence_ids || []).map(function (id) { var l = licenceOf(id); return l ? l.type_name : id; });
    var fieldsLine = el("div", { class: "small record-fields" });
    var first = licenceOf((r.licence_ids || [])[0]);
    if ((r.fields || []).length) {
      fieldsLine.textContent = "提供的信息：" + fieldText(r.fields, {});
      if (first) CH.licenceType(first.type_code).then(function (type) {
        fieldsLine.textContent = "提供的信息：" + fieldText(r.fields, CH.fieldLabels(type));
      });
    }
    return el("li", { class: "record", "data-kind": r.kind, "data-result": r.result, "data-department": r.department },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: who }),
        el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"), text: CH.resultLabel(r.result) })),
      el("div", { class: "small", text: CH.formatTime(r.time) + "　" + CH.kindLabel(r.kind) +
        (r.operator && r.operator !== "holder" ? "　经办人 " + r.operator : "") }),
      licenceNames.length ? el("div", { class: "small record-licences", text: "证照：" + licenceNames.join("、") }) : null,
      (r.data_items || []).length ? el("div", { class: "small", text: "数据：" + r.data_items.map(function (code) {
        return CH.nameOf(records.items || {}, code);
      }).join("、") }) : null,
      (r.fields || []).length ? fieldsLine : null,
      r.matter ? el("div", { class: "small", text: "事项：" + CH.nameOf(records.matters, r.matter) }) : null,
      r.purpose ? el("div", { class: "small", text: "事由：" + r.purpose }) : null,
      proxyLine(r),
      el("div", { class: "small", text: "依据：" + CH.basisLabel(r.basis) +
        (r.basis === "supervision_mandate" ? "（监管执法查询，无需您授权）" : "") +
        (r.reason ? "　拒绝原因：" + (REFUSAL_TEXT[r.reason] || "未通过核验") : "") }),
      el("div", { class: "proof proof-pending small", text: "日志证明：核验中…" }),
      r.answer ? el("div", { class: "answer small proof-pending", text: "披露内容：核验中…" }) : null);
  }

  // A use by someone the holder delegated to: who, through which delegation.
  function proxyLine(r) {
    var match = /^delegation:(\d+)$/.exec(r.basis || "");
    if (!match) return null;
    var d = family.given[match[1]];
    return el("div", { class: "small record-proxy", "data-delegation": match[1],
      text: "代办人 " + (d ? d.proxy_code + "（" + (RELATION[d.relation] || d.relation) + "）" : "") +
        "依据您的委托查看了您的证照" });
  }

  /* What went out about the holder, checked here against the record's
     commitment (answercheck.js, where the page loads it). */
  var ANSWER_TEXT = {
    verified: ["proof-ok", "披露内容：已核验 ✓（与日志记录的承诺一致）"],
    mismatch: ["proof-bad", "披露内容：与日志记录的承诺不符 ×"],
    missing: ["proof-pending", "披露内容：未保存，无法核对"],
    unchecked: ["proof-pending", "披露内容：本机浏览器无法核验"]
  };
  function showAnswerCheck(node, item) {
    var line = node.querySelector(".answer");
    if (!line || !CH.checkAnswer) return;
    CH.checkAnswer(item.record, item.disclosed).then(function (status) {
      var shown = ANSWER_TEXT[status] || ANSWER_TEXT.mismatch;
      line.dataset.answer = status;
      line.className = "answer small " + shown[0];
      line.textContent = shown[1] + ((item.disclosed && item.disclosed.values) ? "，共 " + item.disclosed.values.length + " 项" : "");
    });
  }

  /* Whether the list is provably all of the holder's uses up to the checkpoint
     (logcompleteness.js, where the page loads it), and how many uses a covert
     mandate still withholds. */
  function showCompleteness(data, checked) {
    var node = $("records-completeness");
    if (!node || !CH.checkCompleteness) return;
    node.textContent = "完整性证明：核验中…";
    CH.checkCompleteness(data, checked).then(function (result) {
      node.dataset.complete = result.status;
      var withheld = result.embargoed ? "其中 " + result.embargoed + " 条为监管执法保密期内的使用，保密期满后显示内容。" : "";
      if (result.status === "ok") {
        node.textContent = "完整性证明：已核验 ✓ 截至该检查点，日志中涉及您的使用共 " + result.count + " 条，均已列出。" + withheld;
      } else if (result.status === "bad") {
        node.textContent = "完整性证明：核验失败 × 列出的记录与日志承诺的数量不符，可能有使用未向您显示。";
      } else if (result.status === "unavailable") {
        node.textContent = "完整性证明：暂不可用（检查点未包含按主体的索引，或记录过多）。";
      } else {
        node.textContent = "完整性证明：本浏览器无法核验。";
      }
    });
  }

  var REFUSAL_TEXT = {
    replayed: "二维码已被使用过", expired: "二维码已过期", superseded: "已出示了更新的二维码",
    revoked: "证照已吊销", suspended: "证照已暂停", consent_missing: "未获您授权", consent_withdrawn: "您已撤回授权",
    consent_expired: "授权已过期", delegation_ended: "代办委托已结束", unknown_short_code: "数字码不正确",
    rate_limited: "尝试过于频繁"
  };

  function bindRecords() {
    ["filter-licence", "filter-department", "filter-from", "filter-to"].forEach(function (id) {
      $(id).addEventListener("change", function () { records.page = 0; renderRecords(); });
    });
    $("records-prev").addEventListener("click", function () { records.page -= 1; renderRecords(); });
    $("records-next").addEventListener("click", function () { records.page += 1; renderRecords(); });
  }

  /* ------------------------------------------------------------ reminders and use notices */
  var REMIND_DAYS = 60;
  var WATCH_SECONDS = 30;

  function loadReminders() {
    holderApi("/api/v1/holders/me/licences/expiring?days=" + REMIND_DAYS).then(function (result) {
      var list = CH.clear($("reminders"));
      var items = result.ok && Array.isArray(result.data) ? result.data : [];
      var today = new Date(localDay(new Date().toISOString()) + "T00:00:00");
      items.forEach(function (licence) {
        var left = Math.round((new Date(licence.valid_until + "T00:00:00") - today) / 86400000);
        var name = (licenceOf(licence.base_identifier) || {}).type_name || "证照";
        list.appendChild(el("li", { class: "alert reminder", "data-base": licence.base_identifier, "data-days": String(left),
          text: name + "将于 " + licence.valid_until + " 到期（还有 " + left + " 天），请及时向发证部门申请续办。" }));
      });
      state.licences.filter(function (l) { return l.status === "expired"; }).forEach(function (licence) {
        list.appendChild(el("li", { class: "alert alert-error reminder", "data-base": licence.base_identifier, "data-days": "0",
          text: licence.type_name + "已于 " + CH.formatDate(licence.valid_until) + " 过期，请尽快续办。" }));
      });
      list.hidden = list.children.length === 0;
    });
  }

  // Where this tab's feed of use notices stands (GET /api/v1/holders/me/use-notices).
  var SEEN_KEY = "certhub.wallet.seen";

  function watchUses() {
    if (!state.session || document.visibilityState !== "visible" || state.watching) return;
    var cursor = window.sessionStorage.getItem(SEEN_KEY);
    state.watching = true;
    Promise.all([holderApi("/api/v1/holders/me/use-notices" + (cursor === null ? "" : "?after=" + encodeURIComponent(cursor))),
                 CH.catalog("departments")]).then(function (all) {
      state.watching = false;
      var result = all[0];
      if (!result.ok || !state.session) return;
      window.sessionStorage.setItem(SEEN_KEY, String(result.data.cursor));
      var fresh = result.data.notices || [];
      if (!fresh.length) return;
      var r = fresh[fresh.length - 1];
      var names = (r.licence_ids || []).map(function (id) { var l = licenceOf(id); return l ? l.type_name : "证照"; });
      var who = r.kind === "proxy_access" ? "您委托的代办人" : CH.nameOf(all[1], r.department);
      var text = who + (r.kind === "proxy_access" ? "查看了您的" : r.result === "granted" ? "使用了您的" : "尝试使用您的") +
        (names.join("、") || "数据") + "（" + CH.formatTime(r.time) + "）" +
        (fresh.length > 1 ? "，另有 " + (fresh.length - 1) + " 条新记录" : "") + "。如非本人办理，请提出异议或撤回授权。";
      var notice = $("use-notice");
      notice.textContent = text;
      notice.dataset.department = r.department || "";
      notice.hidden = false;
      CH.announce(text);
      if (window.Notification && window.Notification.permission === "granted" && document.hidden) {
        try { new window.Notification("用证提醒", { body: text }); } catch (e) { /* page notifications unavailable */ }
      }
    }, function () { state.watching = false; });
  }

  /* ------------------------------------------------------------ Web Push */
  // The same notices as the feed above, pushed to this device while the
  // wallet is closed: the service worker subscribes with the platform's
  // VAPID key (PushManager.subscribe), the subscription goes to the holder
  // API, and wallet-sw.js shows each message (docs/web.md "Use notices").
  var PUSH_TEXT = {
    off: "开启后，您的证照或数据每被使用一次，本机都会收到提醒（内容加密传送）。",
    on: "已开启：您的证照或数据被使用时，本机会收到提醒。",
    denied: "浏览器未允许通知，无法开启提醒。可在浏览器设置中允许本网站的通知后重试。",
    failed: "此浏览器暂时无法开启推送提醒；打开本页时仍会提示新的用证记录。"
  };

  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function showPush(on, text) {
    var button = $("push-toggle");
    button.dataset.on = on ? "true" : "false";
    button.textContent = on ? "关闭用证提醒" : "开启用证提醒";
    button.disabled = false;
    $("push-state").textContent = text || (on ? PUSH_TEXT.on : PUSH_TEXT.off);
  }

  function loadPush() {
    if (!pushSupported()) return;
    holderApi("/api/v1/holders/me/web-push").then(function (result) {
      if (!result.ok || !result.data.enabled) { $("push-box").hidden = true; return; }
      state.pushKey = result.data.public_key;
      $("push-box").hidden = false;
      navigator.serviceWorker.ready.then(function (registration) {
        return registration.pushManager.getSubscription();
      }).then(function (subscription) {
        showPush(!!subscription && result.data.subscriptions > 0);
      }, function () { showPush(false); });
    });
  }

  // The VAPID key as PushManager wants it: the bytes of the base64url text.
  function keyBytes(text) {
    var binary = window.atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function enablePush() {
    $("push-toggle").disabled = true;
    window.Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { showPush(false, PUSH_TEXT.denied); return null; }
      return navigator.serviceWorker.ready.then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(state.pushKey) });
      }).then(function (subscription) {
        return holderApi("/api/v1/holders/me/web-push/subscriptions", { body: subscription.toJSON() })
          .then(function (result) {
            if (result.ok) { showPush(true); CH.announce(PUSH_TEXT.on); return; }
            showPush(false, errorMessage(result));
            // Refused here: the browser's registration with its push service is of no use.
            return subscription.unsubscribe().catch(function () { /* already gone */ });
          });
      });
    }).catch(function () { showPush(false, PUSH_TEXT.failed); });
  }

  function disablePush() {
    $("push-toggle").disabled = true;
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return holderApi("/api/v1/holders/me/web-push/subscriptions/remove", { body: { endpoint: endpoint } });
      });
    }).then(function () { showPush(false); }, function () { showPush(false, PUSH_TEXT.failed); });
  }

  function bindPush() {
    $("push-toggle").addEventListener("click", function () {
      if ($("push-toggle").dataset.on === "true") disablePush(); else enablePush();
    });
  }

  /* ------------------------------------------------------------ consents */
  function loadConsents() {
    Promise.all([holderApi("/api/v1/holders/me/consents"), CH.catalog("departments"), CH.catalog("matters"),
                 CH.catalog("licence-types"), CH.catalog("data-items")]).then(function (all) {
      var result = all[0];
      var list = CH.clear($("consents"));
      if (!result.ok) {
        $("consents-empty").hidden = false;
        $("consents-empty").textContent = result.status === 404 ? "本平台未开通授权管理。" : errorMessage(result, "授权加载失败");
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
            if (!result.ok) { walletError(errorMessage(result, "撤回失败")); event.target.disabled = false; return; }
            CH.announce("已撤回授权");
            loadConsents();
          });
      } }));
    }
    return node;
  }

  /* ------------------------------------------------------------ granting consent */
  // The form says exactly what goes to whom, for which matter, until when,
  // before the holder confirms. A department's system may ask for a consent
  // by linking the holder to /wallet#consent-request=<base64url JSON of
  // {matter, items, valid_until}>: the request waits in this tab until the
  // holder approves or declines it (docs/web.md).
  var REQUEST_KEY = "certhub.wallet.consent-request";
  var MAX_CONSENT_DAYS = 365;
  var consentForm = { matters: {}, departments: {}, types: {}, items: {}, proxies: [] };

  function dayAfter(days) {
    var d = new Date(Date.now() + days * 86400000);
    return d.getFullYear() + "-" + CH.pad(d.getMonth() + 1) + "-" + CH.pad(d.getDate());
  }

  function untilInstant(day) {
    // The end of the chosen day, China time (the date the holder picked is a local date there).
    return day ? day + "T23:59:59+08:00" : "";
  }

  function readConsentRequest() {
    var match = /(?:^#|&)consent-request=([A-Za-z0-9_\-]+)/.exec(window.location.hash || "");
    if (match) {
      try {
        var json = decodeURIComponent(escape(window.atob(match[1].replace(/-/g, "+").replace(/_/g, "/"))));
        window.sessionStorage.setItem(REQUEST_KEY, JSON.stringify(JSON.parse(json)));
      } catch (e) { /* not a request this page can read: ignored */ }
      window.history.replaceState(null, "", window.location.pathname);
    }
    try { return JSON.parse(window.sessionStorage.getItem(REQUEST_KEY) || "null"); } catch (e) { return null; }
  }

  function itemName(code) {
    return CH.nameOf(consentForm.types[code] ? consentForm.types : consentForm.items, code);
  }

  function prepareConsentForm() {
    return Promise.all([CH.catalog("matters"), CH.catalog("departments"), CH.catalog("licence-types"),
                        CH.catalog("data-items"), holderApi("/api/v1/holders/me/delegations")]).then(function (all) {
      consentForm.matters = all[0]; consentForm.departments = all[1];
      consentForm.types = all[2]; consentForm.items = all[3];
      consentForm.proxies = all[4].ok ? (all[4].data.received || []).filter(function (d) {
        return d.active && d.actions.indexOf("consent") >= 0;
      }) : [];
      var matter = $("consent-matter");
      if (!matter.options.length) {
        matter.appendChild(el("option", { value: "", text: "请选择办理事项" }));
        Object.keys(consentForm.matters).forEach(function (code) {
          var m = consentForm.matters[code];
          matter.appendChild(el("option", { value: code, text: m.name + "（" + CH.nameOf(consentForm.departments, m.department) + "）" }));
        });
      }
      var who = CH.clear($("consent-for"));
      who.appendChild(el("option", { value: "", text: "本人" }));
      consentForm.proxies.forEach(function (d) {
        who.appendChild(el("option", { value: String(d.id), text: "代 " + d.principal_code + "（" + RELATION[d.relation] + "）" }));
      });
      $("consent-for-field").hidden = consentForm.proxies.length === 0;
      var chosen = null;
      if (state.consentFor) {  // "代为授权" from the family tab: for that person, that licence
        who.value = state.consentFor.delegation;
        chosen = [state.consentFor.type];
        state.consentFor = null;
      }
      if (!$("consent-until").value) $("consent-until").value = dayAfter(90);
      $("consent-until").min = dayAfter(1);
      $("consent-until").max = dayAfter(MAX_CONSENT_DAYS);
      fillConsentItems(chosen);
      showConsentRequest();
    });
  }

  function fillConsentItems(chosen) {
    var box = $("consent-items");
    Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (node) { node.remove(); });
    var seen = {};
    var codes = state.licences.filter(function (l) { return isLive(l); }).map(function (l) { return l.type_code; });
    (chosen || []).forEach(function (code) { codes.push(code); });
    codes.forEach(function (code) {
      if (seen[code]) return;
      seen[code] = true;
      var input = el("input", { type: "checkbox", value: code, name: "consent-item" });
      input.checked = !!(chosen && chosen.indexOf(code) >= 0);
      input.addEventListener("change", summariseConsent);
      box.appendChild(el("label", { class: "choice" }, input, itemName(code)));
    });
    summariseConsent();
  }

  function consentChoice() {
    var matter = consentForm.matters[$("consent-matter").value];
    var items = Array.prototype.map.call(document.querySelectorAll('input[name="consent-item"]:checked'),
                                         function (box) { return box.value; });
    return { matter: matter, items: items, until: $("consent-until").value, proxy: $("consent-for").value };
  }

  function summariseConsent() {
    var choice = consentChoice();
    $("consent-department").textContent = choice.matter ? CH.nameOf(consentForm.departments, choice.matter.department) : "—";
    $("consent-summary").textContent = choice.matter && choice.items.length && choice.until
      ? "您将允许“" + CH.nameOf(consentForm.departments, choice.matter.department) + "”在办理“" + choice.matter.name +
        "”时使用：" + choice.items.map(itemName).join("、") + "，至 " + choice.until + " 止。可随时撤回。"
      : "";
  }

  function grantConsent(choice) {
    var message = $("consent-message");
    if (!choice.matter || !choice.items.length || !choice.until) {
      message.className = "alert alert-error";
      message.textContent = "请选择办理事项和至少一项证照或数据，并填写截止日期。";
      return Promise.resolve(false);
    }
    var body = { department: choice.matter.department, matter: choice.matter.code, items: choice.items,
                 valid_until: untilInstant(choice.until) };
    var delegation = consentForm.proxies.filter(function (d) { return String(d.id) === choice.proxy; })[0];
    // For another person: their code comes from the delegation's listing, never typed.
    var principal = !delegation ? Promise.resolve(null)
      : family.principals[delegation.id] ? Promise.resolve(family.principals[delegation.id]) : principalOf(delegation);
    return principal.then(function (data) {
      if (data) body.on_behalf_of = { code: data.principal.code, code_type: data.principal.code_type };
      return sendConsent(body, choice, message);
    }, function (result) {
      message.className = "alert alert-error";
      message.textContent = errorMessage(result, "授权未成功");
      return false;
    });
  }

  function sendConsent(body, choice, message) {
    return holderApi("/api/v1/holders/me/consents", { body: body }).then(function (result) {
      if (!result.ok) {
        message.className = "alert alert-error";
        message.textContent = errorMessage(result, "授权未成功");
        return false;
      }
      message.className = "alert alert-ok";
      message.textContent = "已授权“" + CH.nameOf(consentForm.departments, body.department) + "”，至 " + choice.until + " 止。";
      loadConsents();
      return true;
    });
  }

  function showConsentRequest() {
    var request = readConsentRequest();
    var box = $("consent-request");
    var matter = request && consentForm.matters[request.matter];
    if (!request || !matter || !Array.isArray(request.items) || !request.items.length) { box.hidden = true; return; }
    var until = String(request.valid_until || "").slice(0, 10) || dayAfter(90);
    $("consent-request-text").textContent = "“" + CH.nameOf(consentForm.departments, matter.department) + "”请求在办理“" +
      matter.name + "”时使用您的：" + request.items.map(itemName).join("、") + "，至 " + until + " 止。";
    box.hidden = false;
    box.dataset.matter = matter.code;
    state.request = { matter: matter, items: request.items.slice(0, 50), until: until, proxy: "" };
  }

  function bindConsentForm() {
    $("consent-matter").addEventListener("change", summariseConsent);
    $("consent-until").addEventListener("change", summariseConsent);
    $("consent-for").addEventListener("change", summariseConsent);
    $("consent-form").addEventListener("submit", function (event) {
      event.preventDefault();
      grantConsent(consentChoice());
    });
    $("consent-request-approve").addEventListener("click", function () {
      if (!state.request) return;
      grantConsent(state.request).then(function (granted) {
        if (!granted) return;
        window.sessionStorage.removeItem(REQUEST_KEY);
        state.request = null;
        $("consent-request").hidden = true;
      });
    });
    $("consent-request-decline").addEventListener("click", function () {
      window.sessionStorage.removeItem(REQUEST_KEY);
      state.request = null;
      $("consent-request").hidden = true;
      CH.announce("已拒绝该授权请求");
    });
  }

  /* ------------------------------------------------------------ family and proxies */
  var RELATION = { guardian: "监护", agent: "委托代理", family: "家属" };
  var ACTION = { present: "亮证", consent: "授权" };
  var MAX_DELEGATION_DAYS = 5 * 365;
  // The delegations this holder gave, by id: their use records name the proxy through them.
  var family = { given: {}, principals: {} };

  function delegationNode(d, given) {
    var node = el("li", { class: "record", "data-delegation": String(d.id), "data-active": d.active ? "true" : "false" },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: (given ? "受托人 " + d.proxy_code : "委托人 " + d.principal_code) + "（" + (RELATION[d.relation] || d.relation) + "）" }),
        el("span", { class: "badge " + (d.active ? "badge-valid" : "badge-revoked"), text: d.active ? "生效中" : d.status === "revoked" ? "已撤销" : "已失效" })),
      el("div", { class: "small", text: "可代办：" + d.actions.map(function (a) { return ACTION[a] || a; }).join("、") +
        "　证照：" + d.type_codes.map(itemName).join("、") }),
      el("div", { class: "small muted", text: "有效期 " + CH.formatTime(d.valid_from) + " 至 " + CH.formatTime(d.valid_until) }));
    if (given && d.active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-danger", text: "撤销委托", onclick: function (event) {
        if (!window.confirm("确定撤销对 " + d.proxy_code + " 的委托吗？撤销后其代为作出的授权随即失效。")) return;
        event.target.disabled = true;
        holderApi("/api/v1/holders/me/delegations/" + d.id + "/revoke", { method: "POST" }).then(function (result) {
          if (!result.ok) { walletError(errorMessage(result, "撤销失败")); event.target.disabled = false; return; }
          CH.announce("已撤销委托");
          loadDelegations();
        });
      } }));
    }
    if (!given && d.active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-secondary act-for", text: "为其代办",
                                      onclick: function () { actFor(d); } }));
    }
    return node;
  }

  // The principal's licences of the delegated types (the server records the
  // listing in their use records). Kept for this page: what 亮证 and consent
  // name in on_behalf_of comes from here, never typed.
  function principalOf(delegation) {
    return holderApi("/api/v1/holders/me/delegations/" + delegation.id + "/licences").then(function (result) {
      if (!result.ok) {
        delete family.principals[delegation.id];
        throw result;
      }
      family.principals[delegation.id] = result.data;
      return result.data;
    });
  }

  function actFor(d) {
    principalOf(d).then(function (data) {
      walletError("");
      state.actingFor = data;
      var principal = data.principal;
      $("acting-for").hidden = false;
      $("acting-for").dataset.delegation = String(d.id);
      $("acting-for-title").textContent = "代办：" + (principal.name || "") + "（" + principal.code_masked + "）";
      $("acting-for-scope").textContent = "委托范围：" + d.actions.map(function (a) { return ACTION[a] || a; }).join("、") +
        "，有效期至 " + CH.formatTime(d.valid_until);
      var list = CH.clear($("acting-for-licences"));
      data.licences.forEach(function (licence) { list.appendChild(proxyLicenceNode(data, licence)); });
      $("acting-for-empty").hidden = data.licences.length > 0;
      $("acting-for-title").focus();
    }, function (result) {
      $("acting-for").hidden = true;
      state.actingFor = null;
      walletError(errorMessage(result, "无法代办"));
      loadDelegations();
    });
  }

  function proxyLicenceNode(data, licence) {
    var d = data.delegation;
    var node = el("li", { class: "record", "data-identifier": licence.identifier, "data-status": licence.status },
      el("div", { class: "row-between" }, el("span", { class: "who", text: licence.type_name }), CH.badge(licence.status)),
      el("div", { class: "small muted", text: "有效期至 " + CH.formatDate(licence.valid_until) }));
    var row = el("div", { class: "row" });
    if (d.actions.indexOf("present") >= 0 && isLive(licence)) {
      row.appendChild(el("button", { type: "button", class: "btn proxy-present", text: "代为亮证", onclick: function () {
        state.tabs.select("tab-licences");
        startPresenting([licence.identifier], data.principal.code, licence.type_name);
      } }));
    }
    if (d.actions.indexOf("consent") >= 0) {
      row.appendChild(el("button", { type: "button", class: "btn btn-secondary proxy-consent", text: "代为授权", onclick: function () {
        state.consentFor = { delegation: String(d.id), type: licence.type_code };
        state.tabs.select("tab-consents");
      } }));
    }
    if (row.children.length) node.appendChild(row);
    return node;
  }

  function loadDelegations() {
    Promise.all([holderApi("/api/v1/holders/me/delegations"), CH.catalog("licence-types"), CH.catalog("data-items")])
      .then(function (all) {
        var result = all[0];
        consentForm.types = all[1]; consentForm.items = all[2];
        if (!result.ok) { walletError(errorMessage(result, "委托加载失败")); return; }
        var given = CH.clear($("delegations-given")), received = CH.clear($("delegations-received"));
        (result.data.given || []).forEach(function (d) { given.appendChild(delegationNode(d, true)); });
        (result.data.received || []).forEach(function (d) { received.appendChild(delegationNode(d, false)); });
        $("delegations-given-empty").hidden = given.children.length > 0;
        $("delegations-received-empty").hidden = received.children.length > 0;
        fillDelegationTypes();
      });
  }

  // The types the holder may delegate: those of their own licences.
  function fillDelegationTypes() {
    var box = $("delegation-types");
    Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (label) { label.remove(); });
    var seen = {};
    state.licences.forEach(function (licence) {
      if (seen[licence.type_code]) return;
      seen[licence.type_code] = true;
      box.appendChild(el("label", { class: "choice" },
        el("input", { type: "checkbox", name: "delegation-type", value: licence.type_code }), licence.type_name));
    });
    if (!$("delegation-until").value) $("delegation-until").value = dayAfter(365);
    $("delegation-until").min = dayAfter(1);
    $("delegation-until").max = dayAfter(MAX_DELEGATION_DAYS);
  }

  function checkedValues(name) {
    return Array.prototype.map.call(document.querySelectorAll('input[name="' + name + '"]:checked'),
                                    function (box) { return box.value; });
  }

  function delegate(event) {
    event.preventDefault();
    var message = $("delegation-message");
    var body = { proxy: { code: $("delegation-proxy").value.trim().toUpperCase(), code_type: "111" },
                 relation: $("delegation-relation").value, type_codes: checkedValues("delegation-type"),
                 actions: checkedValues("delegation-action"), valid_until: untilInstant($("delegation-until").value) };
    if (!body.proxy.code || !body.type_codes.length || !body.actions.length || !$("delegation-until").value) {
      message.className = "alert alert-error";
      message.textContent = "请填写受托人证件号码，并选择至少一类证照、一项代办事项和截止日期。";
      return;
    }
    holderApi("/api/v1/holders/me/delegations", { body: body }).then(function (result) {
      if (!result.ok) {
        message.className = "alert alert-error";
        message.textContent = errorMessage(result, "委托未成功");
        return;
      }
      message.className = "alert alert-ok";
      message.textContent = "已委托 " + result.data.proxy_code + " 代办，至 " + $("delegation-until").value + " 止。可随时撤销。";
      $("delegation-proxy").value = "";
      loadDelegations();
    });
  }

  function bindFamily() {
    $("acting-for-close").addEventListener("click", function () {
      state.actingFor = null;
      $("acting-for").hidden = true;
      CH.clear($("acting-for-licences"));
    });
    $("delegation-form").addEventListener("submit", delegate);
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
      var files = Array.prototype.slice.call($("dispute-files").files || []);
      var problem = attachmentProblem(files);
      if (problem) {
        message.className = "alert alert-error";
        message.textContent = problem;
        return;
      }
      holderApi("/api/v1/holders/me/disputes", { body: body }).then(function (result) {
        if (!result.ok) {
          message.className = "alert alert-error";
          message.textContent = errorMessage(result, "提交失败");
          return;
        }
        var due = CH.formatTime(result.data.due_at);
        uploadAttachments(result.data.id, files).then(function (failed) {
          message.className = failed ? "alert alert-error" : "alert alert-ok";
          message.textContent = "异议已提交，发证部门将在 " + due + " 前处理。" +
            (files.length ? (failed ? "但附件未能上传：" + failed : "已附 " + files.length + " 个证明材料。") : "");
          message.dataset.attached = failed ? "" : String(files.length);
        });
        $("dispute-reason").value = "";
        $("dispute-value").value = "";
        $("dispute-files").value = "";
        loadDisputes();
      });
    });
  }

  var ATTACHMENT_TYPES = ["image/jpeg", "image/png", "application/pdf"];
  var ATTACHMENT_MAX_BYTES = 900 * 1024;
  var ATTACHMENTS_MAX = 3;

  // Checked here so the holder hears it before anything is sent; the server checks again.
  function attachmentProblem(files) {
    if (files.length > ATTACHMENTS_MAX) return "每条异议最多 3 个附件。";
    for (var i = 0; i < files.length; i++) {
      if (ATTACHMENT_TYPES.indexOf(files[i].type) < 0) return "附件“" + files[i].name + "”不是 JPG、PNG 或 PDF 文件。";
      if (files[i].size > ATTACHMENT_MAX_BYTES) return "附件“" + files[i].name + "”超过 900 KB，请压缩后再上传。";
    }
    return "";
  }

  // One after the other; resolves with the first failure in words, or "".
  function uploadAttachments(disputeId, files) {
    return files.reduce(function (previous, file) {
      return previous.then(function (failed) {
        if (failed) return failed;
        return holderApi("/api/v1/holders/me/disputes/" + disputeId + "/attachments",
                         { method: "POST", body: file, headers: { "Content-Type": file.type } })
          .then(function (result) { return result.ok ? "" : errorMessage(result, ""); });
      });
    }, Promise.resolve(""));
  }

  function loadDisputes() {
    holderApi("/api/v1/holders/me/disputes").then(function (result) {
      var list = CH.clear($("disputes"));
      if (!result.ok) { walletError(errorMessage(result, "异议加载失败")); return; }
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
    $("save-offline").addEventListener("click", saveOffline);
    $("add-to-wallet").addEventListener("click", addToWallet);
    $("offer-to-wallet").addEventListener("click", showOfferQr);
    $("detail-title").setAttribute("tabindex", "-1");
    bindRecords();
    bindConsentForm();
    bindFamily();
    bindPush();
    state.tabs = CH.tabs(document.querySelector(".tabs"), function (id) {
      if (id !== "tab-licences") stopPresenting();  // no codes made for a screen nobody sees
      if (id === "tab-records") loadRecords();
      else if (id === "tab-consents") { loadConsents(); prepareConsentForm(); }
      else if (id === "tab-family") loadDelegations();
      else if (id === "tab-disputes") loadDisputes();
      else if (id === "tab-licences") loadLicences();
    });
    window.addEventListener("online", renderOffline);
    window.addEventListener("offline", renderOffline);
    document.addEventListener("visibilitychange", watchUses);
    registerServiceWorker();
    renderOffline();
    var saved = CH.loadToken(TOKEN);
    if (saved) signedIn(saved);
    else if ($("holder-code")) $("holder-code").focus();
  });
})();
