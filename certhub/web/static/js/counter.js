/* 窗口核验: a clerk redeems holders' 亮证 codes. The scan input keeps the
   focus so a scanner gun (a keyboard that types the code and Enter) works
   at any moment; camera scanning uses the browser's BarcodeDetector where
   it exists and otherwise jsQR, served by this server and loaded only when
   the camera is opened; an uploaded image is decoded by the server.
   A valid code shows the holder's photo, the matter's checklist of materials
   and only the licences the matter needs. Each person's data leaves the
   screen (removed from the page, not hidden) at "下一位" or after the
   configured delay; the shift's verdicts stay in a masked history. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;

  // Plain-Chinese reasons for every refusal code of the redeem API.
  var REASONS = {
    replayed: ["已使用", "此亮证码已被核验过，请持证人刷新后重新出示。"],
    unknown_short_code: ["数字码无效", "没有与这组数字对应的有效亮证码，请核对后重新输入，或请持证人刷新亮证码。"],
    expired: ["已过期", "亮证码或证照已过期，请持证人刷新亮证码或核实证照有效期。"],
    revoked: ["已吊销", "该证照已被发证部门吊销。"],
    suspended: ["已暂停", "该证照已被暂停使用。"],
    cancelled: ["已注销", "该证照已注销。"],
    superseded: ["证照已变更", "证照信息已更新，请持证人重新亮证。"],
    code_superseded: ["已被新码取代", "持证人已生成新的亮证码，此码作废。请扫描持证人手机上当前显示的二维码。"],
    signature_invalid: ["签名无效", "二维码签名验证失败，可能被篡改或伪造。"],
    unknown_key: ["未知签发机构", "二维码不是由受信任的机构签发。"],
    unknown_signer: ["未知签发机构", "二维码不是由本平台签发的亮证码。"],
    key_not_valid: ["签发密钥无效", "签发二维码的密钥在签发时不可用。"],
    type_not_allowed: ["签发机构无权签发", "签发机构无权签发此类证照。"],
    not_yet_valid: ["尚未生效", "二维码的签发时间晚于当前时间，请核对设备时间。"],
    unknown_presentation: ["未找到亮证记录", "平台中没有与该码对应的亮证记录。"],
    not_a_presentation: ["不是亮证码", "这是证照上的防伪码，不能用于窗口核验取数。"],
    licence_not_found: ["证照不存在", "平台中没有该码所指的证照。"],
    licence_not_presentable: ["证照不可出示", "该证照当前不可出示。"],
    status_unavailable: ["无法确认状态", "暂时无法确认证照状态，请稍后再试。"],
    status_stale: ["无法确认状态", "证照状态信息已过期，请稍后再试。"],
    status_list_untrusted: ["无法确认状态", "证照状态清单不是由信任列表中的密钥签署的，无法确认证照状态。"],
    payload_too_large: ["格式错误", "二维码内容过长，不是有效的亮证码。"],
    prefix_invalid: ["格式错误", "不是本平台的亮证码（前缀不符）。"],
    base45_invalid: ["格式错误", "二维码内容无法解码，请重新扫描。"],
    zlib_invalid: ["格式错误", "二维码内容不完整，请重新扫描。"],
    cose_invalid: ["格式错误", "二维码结构不正确。"],
    claims_invalid: ["格式错误", "二维码内容不正确。"],
    invalid_request: ["格式错误", "提交的内容不完整或格式不正确。"],
    invalid_presentation: ["格式错误", "提交的内容不完整或格式不正确。"],
    image_invalid: ["图片无法识别", "上传的文件不是可读取的图片。"],
    image_too_large: ["图片过大", "请上传较小的图片。"],
    too_large: ["图片过大", "请上传 5 MB 以内的图片。"],
    no_code_found: ["未识别到二维码", "图片中没有找到二维码，请重新拍摄。"],
  };

  // The wallet path's own words (OpenID4VP: the holder's wallet discloses the matter's fields itself).
  var WALLET_TEXT = {
    waiting: "等待持证人在数字钱包中确认出示…",
    verdict: "持证人以数字钱包出示，发证机构签名与证照状态已核验",
    signature: "发证机构签名已核验：",
    seal: "印章 ",
    status: "证照状态：",
    undisclosed: "持证人仅出示了本事项所需的信息",
  };
  var WALLET_REASONS = {
    request_expired: ["出示请求已过期", "持证人未在时限内出示，请重新发起出示请求。"],
    audience_mismatch: ["出示对象不符", "该出示是给其他机构的，不能在本窗口使用。"],
    nonce_mismatch: ["出示已被使用", "该出示不是对本次请求的回应（可能是重放），请重新发起。"],
    disclosure_mismatch: ["出示内容不符", "持证人出示的信息与本事项所需不一致。"],
    disclosure_unreferenced: ["内容被篡改", "出示的信息与发证机构签名不符，可能被篡改。"],
    key_binding_invalid: ["持证人密钥验证失败", "出示未由证照绑定的持证人密钥签署。"],
    key_binding_missing: ["持证人密钥验证失败", "出示缺少持证人密钥签名。"],
  };

  var state = { session: null, setup: null, busy: false, stream: null, decode: null, matter: null,
                shown: 0, clearTimer: null, audio: null, receipt: null, walletRequest: null };
  var HISTORY_KEY = "certhub.counter.history";
  var MAX_HISTORY = 200;

  /* ------------------------------------------------------------ sign-in */
  // A staff session (staff.js): the clerk's own, the operator on every use record signed into it.
  var staff = CH.staffSession({ name: "counter", scope: "presentation:redeem", onSignedIn: signedIn,
                                onSignedOut: clearScreen });

  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("counter-app").hidden = false;
    staff.describe($("whoami"), "经办人：", saved);
    loadMatters();
    renderHistory();
    // The matter and purpose chosen this shift survive a refresh of the session or of the page.
    var setup = loadSetup();
    if (setup) startScanning(setup); else showSetup();
  }

  // Signing out leaves nothing of the shift on the screen: no licence data, no matter, no name.
  function clearScreen() {
    stopCamera();
    nextPerson();
    state.session = null;
    state.setup = null;
    state.matter = null;
    window.sessionStorage.removeItem(HISTORY_KEY);
    renderHistory();
    $("scan-input").value = "";
    $("purpose").value = "";
    $("case-number").value = "";
    $("whoami").textContent = "";
    $("setup-summary").textContent = "";
    $("counter-app").hidden = true;
    $("signin").hidden = false;
  }

  function signOut() { staff.signOut(); }

  /* ------------------------------------------------------------ setup */
  function loadMatters() {
    CH.catalog("matters").then(function (matters) {
      var select = CH.clear($("matter"));
      select.appendChild(el("option", { value: "", text: "请选择办理事项" }));
      Object.keys(matters).sort(function (a, b) {
        return matters[a].name.localeCompare(matters[b].name, "zh-CN");
      }).forEach(function (code) {
        select.appendChild(el("option", { value: code, text: matters[code].name }));
      });
      if (state.setup) select.value = state.setup.matter;
      fillSituations(state.setup && state.setup.situation);
    });
  }

  // A matter with situations (本人申请 / 委托代办 ...) needs the materials of the one chosen.
  function fillSituations(chosen) {
    CH.catalog("matters").then(function (matters) {
      var matter = matters[$("matter").value];
      var situations = (matter && matter.situations) || [];
      var select = CH.clear($("situation"));
      situations.forEach(function (situation) {
        select.appendChild(el("option", { value: situation.key, text: situation.name }));
      });
      if (chosen) select.value = chosen;
      $("situation-field").hidden = situations.length === 0;
    });
  }

  function loadSetup() {
    try { return JSON.parse(window.sessionStorage.getItem("certhub.counter.setup") || "null"); } catch (e) { return null; }
  }

  function showSetup() {
    stopCamera();
    freshResult();  // the person being served leaves the page with the setup they were served under
    $("setup").hidden = false;
    $("scan-area").hidden = true;
    if (state.setup) {
      $("matter").value = state.setup.matter;
      $("purpose").value = state.setup.purpose;
      $("case-number").value = state.setup.caseNumber || "";
    }
    $("matter").focus();
  }

  function bindSetup() {
    $("setup").addEventListener("submit", function (event) {
      event.preventDefault();
      var matter = $("matter").value;
      var purpose = $("purpose").value.trim();
      if (!matter) { CH.showError($("setup-error"), "请选择办理事项。"); $("matter").focus(); return; }
      if (!purpose) { CH.showError($("setup-error"), "请填写用证事由。"); $("purpose").focus(); return; }
      CH.showError($("setup-error"), "");
      var situation = $("situation-field").hidden ? null : $("situation").value || null;
      var setup = { matter: matter, matterName: $("matter").selectedOptions[0].textContent, purpose: purpose,
                    caseNumber: $("case-number").value.trim() || null, situation: situation,
                    situationName: situation ? $("situation").selectedOptions[0].textContent : null };
      window.sessionStorage.setItem("certhub.counter.setup", JSON.stringify(setup));
      startScanning(setup);
    });
    $("matter").addEventListener("change", function () { fillSituations(null); });
    $("change-setup").addEventListener("click", showSetup);
    $("sign-out").addEventListener("click", signOut);
  }

  function startScanning(setup) {
    state.setup = setup;
    $("setup").hidden = true;
    $("scan-area").hidden = false;
    $("setup-summary").textContent = "事项：" + setup.matterName +
      (setup.situationName ? "（" + setup.situationName + "）" : "") + "　事由：" + setup.purpose +
      (setup.caseNumber ? "　办件编号：" + setup.caseNumber : "");
    state.matter = null;
    CH.catalog("matters").then(function (matters) {
      if (state.setup === setup) state.matter = matters[setup.matter] || null;
    });
    focusScan();
  }

  /* ------------------------------------------------------------ scan input */
  function focusScan() {
    var input = $("scan-input");
    if (!$("scan-area").hidden && document.activeElement !== input) input.focus({ preventScroll: true });
  }

  function isControl(node) {
    return !!(node && node !== document.body && node.closest &&
      node.closest("a[href], button, input, select, textarea, summary, label, [tabindex]:not([tabindex='-1'])"));
  }

  // Full-width ASCII (an IME left in full-width mode) back to ASCII; line ends dropped.
  function normalise(text) {
    return text.replace(/[\uFF01-\uFF5E]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xFEE0);
    }).replace(/\u3000/g, " ").replace(/[\r\n\t]/g, "").trim();
  }

  function bindScanInput() {
    var input = $("scan-input");
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault();
      var text = normalise(input.value);
      input.value = "";
      if (text) redeem(text);
    });
    // The numeric fallback: ten digits, spaces and hyphens as the wallet groups them ignored.
    $("numeric-code-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var field = $("numeric-code");
      var digits = normalise(field.value).replace(/[\s-]/g, "");
      if (!/^[0-9]{10}$/.test(digits)) {
        field.setAttribute("aria-invalid", "true");
        $("numeric-code-hint").textContent = "数字核验码是 10 位数字，请核对后重新输入。";
        return;
      }
      field.removeAttribute("aria-invalid");
      field.value = "";
      redeemShortCode(digits);
    });
    input.addEventListener("focus", function () {
      $("scan-state").textContent = "● 等待扫码";
      $("scan-state").classList.remove("is-away");
    });
    input.addEventListener("blur", function () {
      $("scan-state").textContent = "○ 扫码框未激活，点击页面空白处或按任意字符键恢复";
      $("scan-state").classList.add("is-away");
      // Back to the scan input unless the clerk moved to another control on purpose.
      window.setTimeout(function () { if (!isControl(document.activeElement)) focusScan(); }, 0);
    });
    document.addEventListener("click", function (event) { if (!isControl(event.target)) focusScan(); });
    window.addEventListener("focus", function () { window.setTimeout(focusScan, 0); });
    // A scanner gun typing while a button has the focus: send the keys to the scan input.
    document.addEventListener("keydown", function (event) {
      if ($("scan-area").hidden || event.ctrlKey || event.altKey || event.metaKey) return;
      var active = document.activeElement;
      var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
      if (!typing && event.key.length === 1 && event.key !== " ") focusScan();
    }, true);
  }

  /* ------------------------------------------------------------ redeem */
  function redeem(text) {
    send("/api/v1/presentations/redeem", { qr_text: text }, text);
  }

  // The digits typed from the holder's phone: the same code as its QR, redeemed once.
  function redeemShortCode(digits) {
    send("/api/v1/presentations/redeem-short-code", { short_code: digits }, null);
  }

  function send(path, code, text) {
    if (state.busy) return;
    state.busy = true;
    showPending();
    // No operator id: the session names the clerk, and the server takes it from there.
    var body = Object.assign({ matter_code: state.setup.matter, purpose: state.setup.purpose }, code);
    if (state.setup.caseNumber) body.case_number = state.setup.caseNumber;
    CH.api(path, {
      token: staff.token(), body: body,
    }).then(function (result) {
      state.busy = false;
      if (result.ok && result.data && result.data.valid === true) showValid(result.data);
      else if (result.status === 401) { showUnverified(result); window.setTimeout(signOut, 2500); }
      else if (text && result.data && result.data.error === "not_a_presentation") checkStaticCode(text, result);
      else if (!text && result.status === 429) showInvalid("尝试过于频繁", "数字核验码输入错误次数过多，请稍候一分钟再试，或改用扫码。", "rate_limited");
      else showRefusal(result);
      focusScan();
    });
  }

  // The result area emptied for what comes next; a licence rendering still on its way is dropped.
  function freshResult() {
    state.shown += 1;
    window.clearTimeout(state.clearTimer);
    state.clearTimer = null;
    $("next-person").hidden = true;
    if (state.receipt && state.receipt.url) URL.revokeObjectURL(state.receipt.url);
    state.receipt = null;
    return CH.clear($("result"));
  }

  function showPending() {
    var box = freshResult();
    box.appendChild(el("div", { class: "verdict verdict-pending", "data-verdict": "pending" },
      el("span", { class: "verdict-word", text: "核验中…" })));
  }

  var MARKS = { valid: "✓", invalid: "×", unverified: "？" };

  // kind: "valid" / "invalid" (a verdict on the code) or "unverified" (no verdict: a fault on the way).
  function verdict(kind, word, reason, detail) {
    return el("div", { class: "verdict verdict-" + kind, "data-verdict": kind, role: "status" },
      el("span", { class: "verdict-mark", "aria-hidden": "true", text: MARKS[kind] }),
      el("span", { class: "verdict-word", text: word }),
      reason ? el("span", { class: "verdict-reason", "data-reason": "", text: reason }) : null,
      detail ? el("span", { class: "verdict-detail", text: detail }) : null);
  }

  function showInvalid(reason, detail, code) {
    var box = freshResult();
    var node = verdict("invalid", "无效", reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce("无效，" + reason);
    afterVerdict("invalid", { word: "无效", reason: reason });
  }

  // What went wrong on the way, when the answer is no verdict on the code, and what to do.
  var FAULTS = {
    0: ["网络连接中断", "未能连接核验平台，此码是否有效尚不知道。请检查网络后让持证人重新出示并再次扫码。"],
    401: ["登录已失效", "此码尚未核验。请重新登录后再扫码。"],
    403: ["无核验权限", "当前账号没有亮证核验权限，此码尚未核验。请联系管理员开通后再扫码。"],
    429: ["操作过于频繁", "此码尚未核验。请稍等片刻后再次扫码。"],
    503: ["暂停服务", "核验平台暂不可用（用证日志暂不可写入时不提供数据），此码尚未核验。请稍后再次扫码。"],
  };

  function showUnverified(result) {
    var code = result.data && result.data.error;
    var fault = FAULTS[result.status] ||
      (result.status >= 500 ? ["平台内部错误", "此码尚未核验。请稍后再次扫码；仍不成功请联系管理员。"]
        : ["核验未完成", "平台未给出结论（" + (code || result.status) + "），此码尚未核验。请再次扫码；仍不成功请联系管理员。"]);
    showNoVerdict(fault[0], fault[1], code || (result.status ? "http_" + result.status : "network"));
  }

  function showNoVerdict(reason, detail, code) {
    var box = freshResult();
    var node = verdict("unverified", "未能核验", reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce("未能核验，" + reason);
    afterVerdict("unverified", { word: "未能核验", reason: reason });
  }

  // Only a refusal of the code itself (409 or 422 with a reason) is a verdict:
  // anything else (the network, sign-in, the platform) says nothing about it.
  function showRefusal(result) {
    var code = result.data && result.data.error;
    if ((result.status !== 409 && result.status !== 422) || !code) { showUnverified(result); return; }
    var known = REASONS[code === "superseded" && result.status === 422 ? "code_superseded" : code];
    if (known) showInvalid(known[0], known[1], code);
    else showInvalid("核验失败", CH.errorText(result, "核验未成功"), code);
  }

  // An uploaded image or the camera gave no code: no verdict on any code either.
  function showNoCode(result) {
    var code = result.data && result.data.error;
    var known = code && REASONS[code];
    if (known && (result.status === 413 || result.status === 422)) showNoVerdict(known[0], known[1], code);
    else showUnverified(result);
  }

  /* ------------------------------------------------------------ wallet presentation (OpenID4VP) */
  // The counter asks for the matter's fields; the holder's wallet scans the QR (or opens the link on
  // this device), shows them the exact fields and discloses just those; the server verifies the
  // issuer's signature, the key binding and the status, and this page polls for the verdict.
  function askWallet() {
    if (state.busy || !state.setup) return;
    state.busy = true;
    showPending();
    CH.api("/api/v1/oid4vp/counter-requests", {
      token: staff.token(), body: Object.assign({ matter_code: state.setup.matter, purpose: state.setup.purpose },
                                                state.setup.situation ? { situation: state.setup.situation } : {}),
    }).then(function (result) {
      state.busy = false;
      if (!result.ok) { showRefusal(result); return; }
      var data = result.data;
      state.walletRequest = data.request_id;
      $("wallet-request-qr").src = "data:image/png;base64," + data.qr_png_base64;
      $("wallet-request-link").href = data.authorization_request_uri;
      $("wallet-request").dataset.link = data.authorization_request_uri;
      $("wallet-request-state").textContent = WALLET_TEXT.waiting;
      $("wallet-request").hidden = false;
      pollWallet(data.request_id, Date.parse(data.expires_at));
    });
  }

  function endWalletRequest() {
    state.walletRequest = null;
    $("wallet-request").hidden = true;
    $("wallet-request-qr").removeAttribute("src");
    delete $("wallet-request").dataset.link;
  }

  function pollWallet(id, until) {
    if (state.walletRequest !== id) return;
    CH.api("/api/v1/oid4vp/requests/" + encodeURIComponent(id), { token: staff.token() }).then(function (result) {
      if (state.walletRequest !== id) return;
      if (result.ok && result.data.status === "pending" && Date.now() < until) {
        window.setTimeout(function () { pollWallet(id, until); }, 1000);
        return;
      }
      endWalletRequest();
      if (!result.ok) showUnverified(result);
      else if (result.data.status === "verified") showWalletValid(result.data);
      else {
        var code = result.data.error || "request_expired";
        var known = WALLET_REASONS[code] || REASONS[code];
        showInvalid(known ? known[0] : "核验失败", known ? known[1] : code, code);
      }
      focusScan();
    });
  }

  function showWalletValid(data) {
    var shown = state.shown;
    var credentials = data.credentials || {};
    var ids = Object.keys(credentials);
    var typeCodes = ids.map(function (id) { return credentials[id].vct.split("/vct/").pop(); });
    Promise.all(typeCodes.map(CH.licenceType)).then(function (types) {
      if (shown !== state.shown) return;
      var box = freshResult();
      box.appendChild(verdict("valid", "有效", WALLET_TEXT.verdict, WALLET_TEXT.undisclosed));
      ids.forEach(function (id, i) { box.appendChild(walletCard(credentials[id], types[i])); });
      CH.announce("有效，" + WALLET_TEXT.verdict);
      afterVerdict("valid", { word: "有效", reason: types.map(function (t, i) { return t ? t.name : typeCodes[i]; }).join("、"),
                             holder: "", id: data.request_id.slice(0, 12) });
    });
  }

  function walletCard(credential, type) {
    var labels = {};
    ((type && type.fields) || []).forEach(function (f) { labels[f.key] = f.label; });
    var fields = el("dl", { class: "fields" });
    Object.keys(credential.claims).forEach(function (key) {
      var value = credential.claims[key];
      fields.appendChild(el("dt", { text: labels[key] || key }));
      fields.appendChild(el("dd", { text: typeof value === "object" && value !== null ? JSON.stringify(value) : String(value) }));
    });
    var issuer = credential.issuer || {};
    return el("article", { class: "card", "data-wallet-credential": credential.vct },
      el("div", { class: "row-between" }, el("h3", { text: type ? type.name : credential.vct }), CH.badge(credential.status)),
      fields,
      el("p", { class: "small muted", "data-signature-checked": issuer.es_id || "" },
        WALLET_TEXT.signature + issuer.department_code + "　" + WALLET_TEXT.seal, el("code", { text: issuer.es_id }),
        "　" + WALLET_TEXT.status + CH.statusLabel(credential.status)));
  }

  // The licence types are read from the catalog first (which fields are photos); a "下一位"
  // or another code meanwhile drops this rendering.
  function showValid(data) {
    var shown = state.shown;
    var licences = data.licences || [];
    var codes = licences.map(function (l) { return l.type_code; }).filter(function (code, i, all) {
      return all.indexOf(code) === i;
    });
    Promise.all(codes.map(CH.licenceType)).then(function (types) {
      if (shown !== state.shown) return;
      var byCode = {};
      codes.forEach(function (code, i) { byCode[code] = types[i]; });
      renderValid(data, byCode);
    });
  }

  function renderValid(data, types) {
    var box = freshResult();
    var licences = data.licences || [];
    box.appendChild(verdict("valid", "有效", "已核验 " + licences.length + " 张证照，本次用证已记录",
      "核验时间 " + CH.formatTime(data.redeemed_at) + "　信任列表更新于 " +
      CH.formatAge(data.trust_list_age_seconds) + "前　出示范围：" + (data.disclosure === "full" ? "完整信息" : "已隐藏敏感信息")));
    var materials = matterMaterials();
    if (materials) box.appendChild(checklist(materials, licences));
    // Only the licences the matter asks for are shown; the others are named, their data left out.
    var wanted = materials && materials.filter(function (m) { return m.satisfied_by.kind === "licence_type"; })
      .map(function (m) { return m.satisfied_by.code; });
    var others = [];
    licences.forEach(function (licence) {
      if (!wanted || wanted.indexOf(licence.type_code) >= 0) box.appendChild(licenceCard(licence, types[licence.type_code]));
      else others.push(licence.type_name || licence.type_code);
    });
    if (others.length) {
      box.appendChild(el("p", { class: "not-for-matter", "data-not-for-matter": "",
        text: "本码另含与本事项无关的证照，内容不予显示：" + others.join("、") }));
    }
    box.appendChild(el("div", { class: "row-between" },
      el("p", { class: "small muted", "data-presentation-id": data.presentation_id, text: "核验编号 " + data.presentation_id }),
      el("button", { type: "button", id: "download-receipt", class: "btn btn-secondary", text: "下载核验回执（PDF）",
                     onclick: function () { downloadReceipt(data.presentation_id); } })));
    box.appendChild(el("p", { id: "receipt-error", class: "alert alert-error", role: "alert", hidden: "" }));
    CH.announce("有效，已核验 " + licences.length + " 张证照");
    afterVerdict("valid", { word: "有效", reason: licences.map(function (l) { return l.type_name; }).join("、"),
                           holder: licences.length ? maskName(licences[0].holder_name) : "", id: data.presentation_id });
  }

  // The verification receipt (核验回执) for the case file: a PDF signed by the department's seal.
  function downloadReceipt(presentationId) {
    var shown = state.shown;
    CH.api("/api/v1/presentations/redemptions/" + encodeURIComponent(presentationId) + "/receipt.pdf",
      { token: staff.token(), binary: true, headers: { Accept: "application/pdf" } }).then(function (result) {
      if (shown !== state.shown) return;  // the next person is already at the counter
      if (!result.ok) {
        var why = result.data && result.data.error === "pdf_not_signable"
          ? "本部门没有可签署 PDF 的电子印章，无法出具核验回执，请联系管理员。" : CH.errorText(result, "核验回执下载失败");
        CH.showError($("receipt-error"), why);
        return;
      }
      var link = el("a", { href: CH.objectUrl(state.receipt = state.receipt || {}, result.data),
                           download: "核验回执-" + presentationId + ".pdf" });
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  // The materials of the matter (of the situation chosen, when it has situations); null when unknown.
  function matterMaterials() {
    var matter = state.matter;
    if (!matter || !matter.materials) return null;
    var situation = (matter.situations || []).filter(function (s) { return s.key === state.setup.situation; })[0];
    if (!situation) return matter.materials;
    return matter.materials.filter(function (m) { return situation.materials.indexOf(m.key) >= 0; });
  }

  var OTHER_WAYS = {
    data_item: "需通过数据共享查询核验",
    commitment: "可由申请人签署告知承诺书",
    paper: "需另行提交纸质材料",
  };

  // Each licence stands for one material: the applicant's ID card is not the agent's too.
  function checklist(materials, licences) {
    var list = el("ul", { class: "checklist" });
    var unused = licences.slice();
    materials.forEach(function (material) {
      var by = material.satisfied_by;
      var satisfied = false, way;
      if (by.kind === "licence_type") {
        var found = unused.filter(function (l) { return l.type_code === by.code; })[0];
        if (found) unused.splice(unused.indexOf(found), 1);
        satisfied = !!found;
        way = found ? "已满足：亮证核验 " + (found.type_name || by.code) : "未满足：亮证码中没有此证照";
      } else {
        way = "未满足：" + (OTHER_WAYS[by.kind] || "需另行核验");
      }
      list.appendChild(el("li", { "data-material": material.key, "data-satisfied": satisfied ? "true" : "false",
                                  "data-way": by.kind },
        el("span", { class: "mark", "aria-hidden": "true", text: satisfied ? "✓" : by.kind === "licence_type" ? "×" : "○" }),
        el("span", { class: "name", text: material.name + (material.required === false ? "（选填）" : "") }),
        el("span", { class: "way", text: way })));
    });
    var title = "材料清单：" + state.setup.matterName + (state.setup.situationName ? "（" + state.setup.situationName + "）" : "");
    return el("section", { class: "card", id: "checklist", "aria-label": title }, el("h3", { text: title }), list);
  }

  function licenceCard(licence, type) {
    var pictures = ((type && type.fields) || []).filter(function (f) { return f.type === "image"; })
      .map(function (f) { return f.key; });
    var fields = el("dl", { class: "fields" });
    function row(label, value) {
      fields.appendChild(el("dt", { text: label }));
      fields.appendChild(el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value) }));
    }
    row("持证人", licence.holder_name);
    row("证照状态", CH.statusLabel(licence.status));
    row("有效期", CH.formatDate(licence.valid_from) + " 至 " + CH.formatDate(licence.valid_until));
    var labels = licence.labels || {};
    Object.keys(licence.fields || {}).forEach(function (key) {
      if (pictures.indexOf(key) >= 0) return;
      var value = licence.fields[key];
      row(labels[key] || key, typeof value === "object" && value !== null ? JSON.stringify(value) : value);
    });
    var photos = pictures.filter(function (key) { return key in (licence.fields || {}); })
      .map(function (key) { return photo(labels[key] || key, licence.fields[key], licence.holder_name); });
    return el("article", { class: "card", "data-identifier": licence.identifier },
      el("div", { class: "row-between" }, el("h3", { text: licence.type_name || licence.type_code }), CH.badge(licence.status)),
      el("div", { class: "licence-body" }, photos.length ? el.apply(null, ["div", { class: "photos" }].concat(photos)) : null,
        fields),
      el("p", { class: "small muted" }, "证照标识 ", el("code", { text: licence.identifier }),
        licence.sealed ? "　已附电子印章签名" : ""));
  }

  // An image field's base64 picture, drawn only for the formats a browser shows from data: URLs.
  var PICTURE_TYPES = [["iVBORw0KGgo", "image/png"], ["/9j/", "image/jpeg"], ["R0lGOD", "image/gif"], ["UklGR", "image/webp"]];

  function photo(label, value, holderName) {
    var text = typeof value === "string" ? value : "";
    var kind = PICTURE_TYPES.filter(function (t) { return text.indexOf(t[0]) === 0; })[0];
    if (kind && /^[A-Za-z0-9+\/]+={0,2}$/.test(text)) {
      return el("figure", { class: "holder-photo", "data-photo": "" },
        el("img", { src: "data:" + kind[1] + ";base64," + text, alt: label + "：" + holderName }),
        el("figcaption", { text: label }));
    }
    var hidden = /^\*+$/.test(text);
    return el("div", { class: "photo-hidden", "data-photo": hidden ? "masked" : "unreadable",
      text: hidden ? label + "已隐藏（持证人选择隐藏敏感信息）" : label + "无法显示" });
  }

  function maskName(name) {
    var text = String(name || "");
    if (text.indexOf("*") >= 0 || text.length <= 1) return text ? text.charAt(0) + "*" : "";
    if (text.length === 2) return text.charAt(0) + "*";
    return text.charAt(0) + new Array(text.length - 1).join("*") + text.charAt(text.length - 1);
  }

  /* ------------------------------------------------------------ between people */
  // The previous person's data leaves the page (removed from the DOM), ready for the next one.
  function nextPerson() {
    endWalletRequest();
    freshResult();
    $("scan-input").value = "";
    focusScan();
  }

  function autoClearSeconds() {
    var saved = window.localStorage.getItem("certhub.counter.autoclear");
    return saved === null ? 60 : Number(saved) || 0;
  }

  function afterVerdict(kind, entry) {
    $("next-person").hidden = false;
    var seconds = autoClearSeconds();
    if (seconds > 0) state.clearTimer = window.setTimeout(nextPerson, seconds * 1000);
    playVerdictSound(kind);
    addHistory(Object.assign({ at: new Date().toISOString(), verdict: kind }, entry));
  }

  function bindBetweenPeople() {
    $("next-person").addEventListener("click", function () { nextPerson(); CH.announce("请下一位"); });
    var select = $("auto-clear");
    select.value = String(autoClearSeconds());
    select.addEventListener("change", function () {
      window.localStorage.setItem("certhub.counter.autoclear", select.value);
    });
    var mute = $("mute-toggle");
    function syncMute() {
      var muted = isMuted();
      mute.setAttribute("aria-pressed", muted ? "true" : "false");
      mute.textContent = muted ? "提示音：关" : "提示音：开";
    }
    mute.addEventListener("click", function () {
      window.localStorage.setItem("certhub.counter.muted", isMuted() ? "0" : "1");
      syncMute();
    });
    syncMute();
  }

  /* ------------------------------------------------------------ sound */
  function isMuted() { return window.localStorage.getItem("certhub.counter.muted") === "1"; }

  // Rising for 有效, falling and harsh for 无效, one plain tone when no verdict was reached.
  var TONES = { valid: [880, 1320], invalid: [330, 220], unverified: [523] };

  function playVerdictSound(kind) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (isMuted() || !Context) return;
    try {
      if (!state.audio) state.audio = new Context();
      var audio = state.audio;
      if (audio.state === "suspended") audio.resume();
      TONES[kind].forEach(function (frequency, i) {
        var oscillator = audio.createOscillator(), gain = audio.createGain();
        var start = audio.currentTime + i * 0.18;
        oscillator.type = kind === "invalid" ? "square" : "sine";
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.16);
        oscillator.connect(gain);
        gain.connect(audio.destination);
        oscillator.start(start);
        oscillator.stop(start + 0.17);
      });
    } catch (e) { /* no sound on this machine: the verdict is on screen */ }
  }

  /* ------------------------------------------------------------ shift history */
  // This tab's verdicts of the shift (sessionStorage, dropped at sign-out), holder names masked.
  function loadHistory() {
    try { return JSON.parse(window.sessionStorage.getItem(HISTORY_KEY) || "[]"); } catch (e) { return []; }
  }

  function addHistory(entry) {
    var history = loadHistory();
    history.unshift(entry);
    window.sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(0, MAX_HISTORY)));
    renderHistory();
  }

  var VERDICT_WORDS = { valid: "有效", invalid: "无效", unverified: "未能核验" };

  function renderHistory() {
    var history = loadHistory();
    var body = CH.clear($("history-table").tBodies[0]);
    history.forEach(function (entry) {
      body.appendChild(el("tr", { "data-verdict": entry.verdict },
        el("td", { class: "mono", text: CH.formatTime(entry.at) }),
        el("td", { text: VERDICT_WORDS[entry.verdict] + (entry.verdict === "valid" ? "" : "：" + (entry.reason || "")) }),
        el("td", { text: entry.holder || "—" }),
        el("td", { text: entry.verdict === "valid" ? entry.reason : "—" }),
        el("td", { class: "mono", text: entry.id || "—" })));
    });
    $("history-table").hidden = history.length === 0;
    $("history-empty").hidden = history.length > 0;
  }

  // A printed licence's static code: say whether it is genuine; no data is fetched.
  function checkStaticCode(text, refusal) {
    CH.api("/api/v1/verify", { body: { qr_text: text } }).then(function (result) {
      if (!result.ok || !result.data) { showRefusal(refusal); return; }
      var known = REASONS.not_a_presentation;
      var genuine = result.data.valid ? "该防伪码真实有效。" : "该防伪码未通过验证。";
      showInvalid(known[0], known[1] + genuine, "not_a_presentation");
    });
  }

  /* ------------------------------------------------------------ camera */
  // The button shows wherever there is a camera: the browser's BarcodeDetector reads the
  // code where it has one, jsQR (static/vendor/jsqr) everywhere else, e.g. Chromium on
  // Linux and Windows, which has none.
  function setupCamera() {
    var button = $("camera-button");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    Promise.resolve(navigator.mediaDevices.enumerateDevices ? navigator.mediaDevices.enumerateDevices() : [])
      .then(function (devices) {
        if (!devices || !devices.some(function (d) { return d.kind === "videoinput"; })) return;
        button.hidden = false;
        button.addEventListener("click", function () { if (state.stream) stopCamera(); else startCamera(); });
      })
      .catch(function () { /* no camera scanning here */ });
  }

  function nativeDetector() {
    if (!("BarcodeDetector" in window)) return Promise.resolve(null);
    return Promise.resolve(window.BarcodeDetector.getSupportedFormats ? window.BarcodeDetector.getSupportedFormats() : [])
      .then(function (formats) {
        return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      })
      .catch(function () { return null; });
  }

  // jsQR is loaded the first time the camera is opened, never with the page.
  function loadJsQr() {
    function found() {
      var module = window.jsQR;
      return typeof module === "function" ? module : module && module["default"];
    }
    if (found()) return Promise.resolve(found());
    return new Promise(function (resolve, reject) {
      var script = el("script", { id: "qr-decoder", src: $("counter-app").dataset.qrDecoder });
      script.addEventListener("load", function () { if (found()) resolve(found()); else reject(new Error("jsQR")); });
      script.addEventListener("error", function () { reject(new Error("jsQR")); });
      document.head.appendChild(script);
    });
  }

  // A function from the video to a promise of the code's text (null when none is in view).
  function qrDecoder() {
    if (state.decode) return Promise.resolve(state.decode);
    return nativeDetector().then(function (detector) {
      if (detector) {
        state.decode = function (video) {
          return detector.detect(video).then(function (codes) { return (codes && codes[0] && codes[0].rawValue) || null; });
        };
        return state.decode;
      }
      return loadJsQr().then(function (jsQR) {
        var canvas = document.createElement("canvas");
        var context = canvas.getContext("2d", { willReadFrequently: true });
        state.decode = function (video) {
          var width = video.videoWidth, height = video.videoHeight;
          if (!width || !height) return Promise.resolve(null);
          var scale = Math.min(1, 960 / Math.max(width, height));  // a full-HD frame is slow to search
          canvas.width = Math.round(width * scale);
          canvas.height = Math.round(height * scale);
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          var code = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
          return Promise.resolve(code ? code.data : null);
        };
        return state.decode;
      });
    });
  }

  function startCamera() {
    var video = $("camera-view");
    qrDecoder().then(function () {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
        state.stream = stream;
        video.srcObject = stream;
        video.hidden = false;
        $("camera-button").textContent = "关闭摄像头";
        return video.play().then(detectLoop);
      }).catch(function () {
        showNoVerdict("无法打开摄像头", "请检查摄像头权限，或改用扫码枪、上传图片。", null);
        stopCamera();
      });
    }, function () {
      showNoVerdict("扫码组件未能加载", "请刷新页面后重试，或改用扫码枪、上传图片。", null);
    });
  }

  function detectLoop() {
    if (!state.stream) return;
    state.decode($("camera-view")).then(function (found) {
      if (found) { stopCamera(); redeem(normalise(found)); return; }
      window.setTimeout(detectLoop, 200);
    }).catch(function () { window.setTimeout(detectLoop, 500); });
  }

  function stopCamera() {
    if (state.stream) state.stream.getTracks().forEach(function (track) { track.stop(); });
    state.stream = null;
    var video = $("camera-view");
    if (video) { video.srcObject = null; video.hidden = true; }
    var button = $("camera-button");
    if (button) button.textContent = "摄像头扫码";
  }

  /* ------------------------------------------------------------ upload */
  function bindUpload() {
    var input = $("upload-input");
    $("upload-button").addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      if (file.size > 5 * 1024 * 1024) { showNoVerdict("图片过大", "请上传 5 MB 以内的图片。", "too_large"); focusScan(); return; }
      showPending();
      CH.api("/web/api/decode-image", {
        token: staff.token(), body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
      }).then(function (result) {
        if (result.ok && result.data && result.data.text) redeem(normalise(result.data.text));
        else { showNoCode(result); focusScan(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    staff.bind();
    bindSetup();
    bindScanInput();
    bindUpload();
    bindBetweenPeople();
    setupCamera();
    $("wallet-request-button").addEventListener("click", askWallet);
    var saved = staff.resume();
    if (saved) signedIn(saved);
    else { var first = $("demo-login") || $("staff-id-token"); if (first) first.focus(); }
  });
})();
