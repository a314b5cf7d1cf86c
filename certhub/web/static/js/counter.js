/* 窗口核验: a clerk redeems holders' 亮证 codes. The scan input keeps the
   focus so a scanner gun (a keyboard that types the code and Enter) works
   at any moment; camera scanning uses the browser's BarcodeDetector where
   it exists, and an uploaded image is decoded by the server. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;

  // Plain-Chinese reasons for every refusal code of the redeem API.
  var REASONS = {
    replayed: ["已使用", "此亮证码已被核验过，请持证人刷新后重新出示。"],
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

  var state = { session: null, setup: null, busy: false, stream: null, detector: null };

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
    // The matter and purpose chosen this shift survive a refresh of the session or of the page.
    var setup = loadSetup();
    if (setup) startScanning(setup); else showSetup();
  }

  // Signing out leaves nothing of the shift on the screen: no licence data, no matter, no name.
  function clearScreen() {
    stopCamera();
    state.session = null;
    state.setup = null;
    CH.clear($("result"));
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
    });
  }

  function loadSetup() {
    try { return JSON.parse(window.sessionStorage.getItem("certhub.counter.setup") || "null"); } catch (e) { return null; }
  }

  function showSetup() {
    stopCamera();
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
      var setup = { matter: matter, matterName: $("matter").selectedOptions[0].textContent, purpose: purpose,
                    caseNumber: $("case-number").value.trim() || null };
      window.sessionStorage.setItem("certhub.counter.setup", JSON.stringify(setup));
      startScanning(setup);
    });
    $("change-setup").addEventListener("click", showSetup);
    $("sign-out").addEventListener("click", signOut);
  }

  function startScanning(setup) {
    state.setup = setup;
    $("setup").hidden = true;
    $("scan-area").hidden = false;
    $("setup-summary").textContent = "事项：" + setup.matterName + "　事由：" + setup.purpose +
      (setup.caseNumber ? "　办件编号：" + setup.caseNumber : "");
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
    if (state.busy) return;
    state.busy = true;
    showPending();
    // No operator id: the session names the clerk, and the server takes it from there.
    var body = { qr_text: text, matter_code: state.setup.matter, purpose: state.setup.purpose };
    if (state.setup.caseNumber) body.case_number = state.setup.caseNumber;
    CH.api("/api/v1/presentations/redeem", {
      token: staff.token(), body: body,
    }).then(function (result) {
      state.busy = false;
      if (result.ok && result.data && result.data.valid === true) showValid(result.data);
      else if (result.status === 401) { showUnverified(result); window.setTimeout(signOut, 2500); }
      else if (result.data && result.data.error === "not_a_presentation") checkStaticCode(text, result);
      else showRefusal(result);
      focusScan();
    });
  }

  function showPending() {
    var box = CH.clear($("result"));
    box.appendChild(el("div", { class: "verdict verdict-pending", "data-verdict": "pending" },
      el("span", { class: "verdict-word", text: "核验中…" })));
  }

  var MARKS = { valid: "✓", invalid: "✗", unverified: "？" };

  // kind: "valid" / "invalid" (a verdict on the code) or "unverified" (no verdict: a fault on the way).
  function verdict(kind, word, reason, detail) {
    return el("div", { class: "verdict verdict-" + kind, "data-verdict": kind, role: "status" },
      el("span", { class: "verdict-mark", "aria-hidden": "true", text: MARKS[kind] }),
      el("span", { class: "verdict-word", text: word }),
      reason ? el("span", { class: "verdict-reason", "data-reason": "", text: reason }) : null,
      detail ? el("span", { class: "verdict-detail", text: detail }) : null);
  }

  function showInvalid(reason, detail, code) {
    var box = CH.clear($("result"));
    var node = verdict("invalid", "无效", reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce("无效，" + reason);
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
    var box = CH.clear($("result"));
    var node = verdict("unverified", "未能核验", reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce("未能核验，" + reason);
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

  function showValid(data) {
    var box = CH.clear($("result"));
    var count = (data.licences || []).length;
    box.appendChild(verdict("valid", "有效", "已核验 " + count + " 张证照，本次用证已记录",
      "核验时间 " + CH.formatTime(data.redeemed_at) + "　信任列表更新于 " +
      CH.formatAge(data.trust_list_age_seconds) + "前　出示范围：" + (data.disclosure === "full" ? "完整信息" : "已隐藏敏感信息")));
    (data.licences || []).forEach(function (licence) { box.appendChild(licenceCard(licence)); });
    box.appendChild(el("p", { class: "small muted", text: "核验编号 " + data.presentation_id }));
    CH.announce("有效，已核验 " + count + " 张证照");
  }

  function licenceCard(licence) {
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
      var value = licence.fields[key];
      row(labels[key] || key, typeof value === "object" && value !== null ? JSON.stringify(value) : value);
    });
    return el("article", { class: "card", "data-identifier": licence.identifier },
      el("div", { class: "row-between" }, el("h3", { text: licence.type_name || licence.type_code }), CH.badge(licence.status)),
      fields,
      el("p", { class: "small muted" }, "证照标识 ", el("code", { text: licence.identifier }),
        licence.sealed ? "　已附电子印章签名" : ""));
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
  function setupCamera() {
    var button = $("camera-button");
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    Promise.resolve(window.BarcodeDetector.getSupportedFormats ? window.BarcodeDetector.getSupportedFormats() : [])
      .then(function (formats) {
        if (formats.indexOf("qr_code") < 0) return null;
        return navigator.mediaDevices.enumerateDevices ? navigator.mediaDevices.enumerateDevices() : [];
      })
      .then(function (devices) {
        if (!devices || !devices.some(function (d) { return d.kind === "videoinput"; })) return;
        state.detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        button.hidden = false;
        button.addEventListener("click", function () { if (state.stream) stopCamera(); else startCamera(); });
      })
      .catch(function () { /* no camera scanning here */ });
  }

  function startCamera() {
    var video = $("camera-view");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
      state.stream = stream;
      video.srcObject = stream;
      video.hidden = false;
      $("camera-button").textContent = "关闭摄像头";
      return video.play().then(detectLoop);
    }).catch(function () {
      showNoVerdict("无法打开摄像头", "请检查摄像头权限，或改用扫码枪、上传图片。", null);
      stopCamera();
    });
  }

  function detectLoop() {
    if (!state.stream) return;
    state.detector.detect($("camera-view")).then(function (codes) {
      var found = codes && codes[0] && codes[0].rawValue;
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
    setupCamera();
    var saved = staff.resume();
    if (saved) signedIn(saved);
    else { var first = $("demo-login") || $("staff-id-token"); if (first) first.focus(); }
  });
})();
