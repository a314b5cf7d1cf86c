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
    replayed: [CH.t("counter.already_used"), CH.t("counter.this_code_has_already_been_verified")],
    unknown_short_code: [CH.t("counter.invalid_numeric_code"), CH.t("counter.no_valid_code_matches_these_digits")],
    expired: [CH.t("counter.expired"), CH.t("counter.the_code_or_the_licence_has")],
    revoked: [CH.t("counter.revoked"), CH.t("counter.the_issuing_department_has_revoked_this")],
    suspended: [CH.t("counter.suspended"), CH.t("counter.this_licence_is_suspended")],
    cancelled: [CH.t("counter.cancelled"), CH.t("counter.this_licence_has_been_cancelled")],
    superseded: [CH.t("counter.licence_changed"), CH.t("counter.the_licence_has_been_updated_ask")],
    code_superseded: [CH.t("counter.replaced_by_a_newer_code"), CH.t("counter.the_holder_has_generated_a_newer")],
    signature_invalid: [CH.t("counter.invalid_signature"), CH.t("counter.the_qr_codes_signature_does_not")],
    unknown_key: [CH.t("counter.unknown_issuer"), CH.t("counter.the_qr_code_was_not_issued")],
    unknown_signer: [CH.t("counter.unknown_issuer"), CH.t("counter.the_qr_code_is_not_a")],
    key_not_valid: [CH.t("counter.invalid_signing_key"), CH.t("counter.the_key_that_signed_the_qr")],
    type_not_allowed: [CH.t("counter.issuer_not_authorised"), CH.t("counter.the_issuer_is_not_authorised_to")],
    not_yet_valid: [CH.t("counter.not_yet_valid"), CH.t("counter.the_qr_code_was_issued_later")],
    unknown_presentation: [CH.t("counter.no_presentation_found"), CH.t("counter.the_platform_has_no_presentation_for")],
    not_a_presentation: [CH.t("counter.not_a_presentation_code"), CH.t("counter.this_is_the_licences_anti_counterfeit")],
    licence_not_found: [CH.t("counter.licence_not_found"), CH.t("counter.the_platform_has_no_licence_that")],
    licence_not_presentable: [CH.t("counter.licence_cannot_be_shown"), CH.t("counter.this_licence_cannot_be_shown_at")],
    status_unavailable: [CH.t("counter.status_cannot_be_confirmed"), CH.t("counter.the_licences_status_cannot_be_confirmed")],
    status_stale: [CH.t("counter.status_cannot_be_confirmed"), CH.t("counter.the_licence_status_information_is_out")],
    status_list_untrusted: [CH.t("counter.status_cannot_be_confirmed"), CH.t("counter.the_status_list_was_not_signed")],
    payload_too_large: [CH.t("counter.malformed"), CH.t("counter.the_qr_code_content_is_too")],
    prefix_invalid: [CH.t("counter.malformed"), CH.t("counter.not_a_presentation_code_of_this")],
    base45_invalid: [CH.t("counter.malformed"), CH.t("counter.the_qr_code_content_cannot_be")],
    zlib_invalid: [CH.t("counter.malformed"), CH.t("counter.the_qr_code_content_is_incomplete")],
    cose_invalid: [CH.t("counter.malformed"), CH.t("counter.the_qr_codes_structure_is_wrong")],
    claims_invalid: [CH.t("counter.malformed"), CH.t("counter.the_qr_codes_content_is_wrong")],
    invalid_request: [CH.t("counter.malformed"), CH.t("counter.the_submitted_content_is_incomplete_or")],
    invalid_presentation: [CH.t("counter.malformed"), CH.t("counter.the_submitted_content_is_incomplete_or")],
    image_invalid: [CH.t("counter.image_not_recognised"), CH.t("counter.the_uploaded_file_is_not_a")],
    image_too_large: [CH.t("counter.image_too_large"), CH.t("counter.please_upload_a_smaller_image")],
    too_large: [CH.t("counter.image_too_large"), CH.t("counter.please_upload_an_image_of_at")],
    no_code_found: [CH.t("counter.no_qr_code_found"), CH.t("counter.no_qr_code_was_found_in")],
  };

  // The wallet path's own words (OpenID4VP: the holder's wallet discloses the matter's fields itself).
  var WALLET_TEXT = {
    waiting: CH.t("counter.waiting_for_the_holder_to_confirm"),
    verdict: CH.t("counter.shown_from_the_holders_digital_wallet"),
    signature: CH.t("counter.issuers_signature_verified"),
    seal: CH.t("counter.seal"),
    status: CH.t("counter.licence_status_2"),
    undisclosed: CH.t("counter.the_holder_disclosed_only_what_this"),
  };
  var WALLET_REASONS = {
    request_expired: [CH.t("counter.presentation_request_expired"), CH.t("counter.the_holder_did_not_present_in")],
    audience_mismatch: [CH.t("counter.presented_to_someone_else"), CH.t("counter.this_presentation_was_made_for_another")],
    nonce_mismatch: [CH.t("counter.presentation_already_used"), CH.t("counter.this_presentation_does_not_answer_this")],
    disclosure_mismatch: [CH.t("counter.disclosed_details_do_not_match"), CH.t("counter.what_the_holder_disclosed_is_not")],
    disclosure_unreferenced: [CH.t("counter.content_tampered_with"), CH.t("counter.the_disclosed_details_do_not_match")],
    key_binding_invalid: [CH.t("counter.holder_key_check_failed"), CH.t("counter.not_signed_by_the_holder_key")],
    key_binding_missing: [CH.t("counter.holder_key_check_failed"), CH.t("counter.the_holder_keys_signature_is_missing")],
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
    staff.describe($("whoami"), CH.t("counter.operator"), saved);
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
      select.appendChild(el("option", { value: "", text: CH.t("counter.please_choose_a_matter") }));
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
      if (!matter) { CH.showError($("setup-error"), CH.t("counter.please_choose_a_matter_2")); $("matter").focus(); return; }
      if (!purpose) { CH.showError($("setup-error"), CH.t("counter.please_enter_the_purpose_of_use")); $("purpose").focus(); return; }
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
    $("setup-summary").textContent = CH.t("counter.matter") + setup.matterName +
      (setup.situationName ? CH.t("counter.paren_open") + setup.situationName + CH.t("counter.paren_close") : "") + CH.t("counter.purpose") + setup.purpose +
      (setup.caseNumber ? CH.t("counter.case_number") + setup.caseNumber : "");
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
        $("numeric-code-hint").textContent = CH.t("counter.the_numeric_code_has_10_digits");
        return;
      }
      field.removeAttribute("aria-invalid");
      field.value = "";
      redeemShortCode(digits);
    });
    input.addEventListener("focus", function () {
      $("scan-state").textContent = CH.t("counter.waiting_for_a_scan");
      $("scan-state").classList.remove("is-away");
    });
    input.addEventListener("blur", function () {
      $("scan-state").textContent = CH.t("counter.the_scan_box_is_inactive_click");
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
      else if (!text && result.status === 429) showInvalid(CH.t("counter.too_many_attempts"), CH.t("counter.too_many_wrong_numeric_codes_wait"), "rate_limited");
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
      el("span", { class: "verdict-word", text: CH.t("counter.verifying") })));
  }

  var MARKS = { valid: "✓", invalid: "×", unverified: CH.t("counter.unknown_mark") };

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
    var node = verdict("invalid", CH.t("counter.invalid"), reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce(CH.t("counter.invalid_2") + reason);
    afterVerdict("invalid", { word: CH.t("counter.invalid"), reason: reason });
  }

  // What went wrong on the way, when the answer is no verdict on the code, and what to do.
  var FAULTS = {
    0: [CH.t("counter.network_connection_lost"), CH.t("counter.could_not_reach_the_verification_platform")],
    401: [CH.t("counter.sign_in_expired"), CH.t("counter.this_code_has_not_been_verified")],
    403: [CH.t("counter.not_allowed_to_verify"), CH.t("counter.this_account_may_not_verify_presentations")],
    429: [CH.t("counter.too_many_requests"), CH.t("counter.this_code_has_not_been_verified_2")],
    503: [CH.t("counter.service_paused"), CH.t("counter.the_verification_platform_is_unavailable_no")],
  };

  function showUnverified(result) {
    var code = result.data && result.data.error;
    var fault = FAULTS[result.status] ||
      (result.status >= 500 ? [CH.t("counter.platform_error"), CH.t("counter.this_code_has_not_been_verified_3")]
        : [CH.t("counter.verification_incomplete"), CH.t("counter.the_platform_gave_no_verdict") + (code || result.status) + CH.t("counter.this_code_has_not_been_verified_4")]);
    showNoVerdict(fault[0], fault[1], code || (result.status ? "http_" + result.status : "network"));
  }

  function showNoVerdict(reason, detail, code) {
    var box = freshResult();
    var node = verdict("unverified", CH.t("counter.could_not_verify"), reason, detail);
    if (code) node.dataset.code = code;
    box.appendChild(node);
    CH.announce(CH.t("counter.could_not_verify_2") + reason);
    afterVerdict("unverified", { word: CH.t("counter.could_not_verify"), reason: reason });
  }

  // Only a refusal of the code itself (409 or 422 with a reason) is a verdict:
  // anything else (the network, sign-in, the platform) says nothing about it.
  function showRefusal(result) {
    var code = result.data && result.data.error;
    if ((result.status !== 409 && result.status !== 422) || !code) { showUnverified(result); return; }
    var known = REASONS[code === "superseded" && result.status === 422 ? "code_superseded" : code];
    if (known) showInvalid(known[0], known[1], code);
    else showInvalid(CH.t("counter.verification_failed"), CH.errorText(result, CH.t("counter.verification_did_not_succeed")), code);
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
        showInvalid(known ? known[0] : CH.t("counter.verification_failed"), known ? known[1] : code, code);
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
      box.appendChild(verdict("valid", CH.t("counter.valid"), WALLET_TEXT.verdict, WALLET_TEXT.undisclosed));
      ids.forEach(function (id, i) { box.appendChild(walletCard(credentials[id], types[i])); });
      CH.announce(CH.t("counter.valid_2") + WALLET_TEXT.verdict);
      afterVerdict("valid", { word: CH.t("counter.valid"), reason: types.map(function (t, i) { return t ? t.name : typeCodes[i]; }).join(CH.t("counter.list_comma")),
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
        WALLET_TEXT.signature + issuer.department_code + CH.t("counter.spacer") + WALLET_TEXT.seal, el("code", { text: issuer.es_id }),
        CH.t("counter.spacer") + WALLET_TEXT.status + CH.statusLabel(credential.status)));
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
    box.appendChild(verdict("valid", CH.t("counter.valid"), CH.t("counter.verified") + licences.length + CH.t("counter.licence_s_this_use_has_been"),
      CH.t("counter.verified_at") + CH.formatTime(data.redeemed_at) + CH.t("counter.trust_list_updated") +
      CH.formatAge(data.trust_list_age_seconds) + CH.t("counter.ago_shown") + (data.disclosure === "full" ? CH.t("counter.full_details") : CH.t("counter.sensitive_details_hidden"))));
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
        text: CH.t("counter.this_code_also_carries_licences_unrelated") + others.join(CH.t("counter.list_comma")) }));
    }
    box.appendChild(el("div", { class: "row-between" },
      el("p", { class: "small muted", "data-presentation-id": data.presentation_id, text: CH.t("counter.verification_no") + data.presentation_id }),
      el("button", { type: "button", id: "download-receipt", class: "btn btn-secondary", text: CH.t("counter.download_the_verification_receipt_pdf"),
                     onclick: function () { downloadReceipt(data.presentation_id); } })));
    box.appendChild(el("p", { id: "receipt-error", class: "alert alert-error", role: "alert", hidden: "" }));
    CH.announce(CH.t("counter.valid_verified") + licences.length + CH.t("counter.licence_s"));
    afterVerdict("valid", { word: CH.t("counter.valid"), reason: licences.map(function (l) { return l.type_name; }).join(CH.t("counter.list_comma")),
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
          ? CH.t("counter.your_department_has_no_electronic_seal") : CH.errorText(result, CH.t("counter.could_not_download_the_verification_receipt"));
        CH.showError($("receipt-error"), why);
        return;
      }
      var link = el("a", { href: CH.objectUrl(state.receipt = state.receipt || {}, result.data),
                           download: CH.t("counter.verification_receipt") + presentationId + ".pdf" });
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
    data_item: CH.t("counter.to_be_verified_by_a_data"),
    commitment: CH.t("counter.the_applicant_may_sign_a_declaration"),
    paper: CH.t("counter.to_be_handed_in_on_paper"),
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
        way = found ? CH.t("counter.satisfied_verified_from_the_shown_code") + (found.type_name || by.code) : CH.t("counter.not_satisfied_this_licence_is_not");
      } else {
        way = CH.t("counter.not_satisfied") + (OTHER_WAYS[by.kind] || CH.t("counter.to_be_verified_separately"));
      }
      list.appendChild(el("li", { "data-material": material.key, "data-satisfied": satisfied ? "true" : "false",
                                  "data-way": by.kind },
        el("span", { class: "mark", "aria-hidden": "true", text: satisfied ? "✓" : by.kind === "licence_type" ? "×" : "○" }),
        el("span", { class: "name", text: material.name + (material.required === false ? CH.t("counter.optional") : "") }),
        el("span", { class: "way", text: way })));
    });
    var title = CH.t("counter.required_materials") + state.setup.matterName + (state.setup.situationName ? CH.t("counter.paren_open") + state.setup.situationName + CH.t("counter.paren_close") : "");
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
    row(CH.t("counter.holder"), licence.holder_name);
    row(CH.t("counter.licence_status"), CH.statusLabel(licence.status));
    row(CH.t("counter.validity"), CH.formatDate(licence.valid_from) + CH.t("counter.to") + CH.formatDate(licence.valid_until));
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
      el("p", { class: "small muted" }, CH.t("counter.licence_id"), el("code", { text: licence.identifier }),
        licence.sealed ? CH.t("counter.electronic_seal_signature_attached") : ""));
  }

  // An image field's base64 picture, drawn only for the formats a browser shows from data: URLs.
  var PICTURE_TYPES = [["iVBORw0KGgo", "image/png"], ["/9j/", "image/jpeg"], ["R0lGOD", "image/gif"], ["UklGR", "image/webp"]];

  function photo(label, value, holderName) {
    var text = typeof value === "string" ? value : "";
    var kind = PICTURE_TYPES.filter(function (t) { return text.indexOf(t[0]) === 0; })[0];
    if (kind && /^[A-Za-z0-9+\/]+={0,2}$/.test(text)) {
      return el("figure", { class: "holder-photo", "data-photo": "" },
        el("img", { src: "data:" + kind[1] + ";base64," + text, alt: label + CH.t("counter.colon") + holderName }),
        el("figcaption", { text: label }));
    }
    var hidden = /^\*+$/.test(text);
    return el("div", { class: "photo-hidden", "data-photo": hidden ? "masked" : "unreadable",
      text: hidden ? label + CH.t("counter.hidden_the_holder_chose_to_hide") : label + CH.t("counter.cannot_be_shown") });
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
    $("next-person").addEventListener("click", function () { nextPerson(); CH.announce(CH.t("counter.next_please")); });
    var select = $("auto-clear");
    select.value = String(autoClearSeconds());
    select.addEventListener("change", function () {
      window.localStorage.setItem("certhub.counter.autoclear", select.value);
    });
    var mute = $("mute-toggle");
    function syncMute() {
      var muted = isMuted();
      mute.setAttribute("aria-pressed", muted ? "true" : "false");
      mute.textContent = muted ? CH.t("counter.sound_off") : CH.t("counter.sound_on");
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

  var VERDICT_WORDS = { valid: CH.t("counter.valid"), invalid: CH.t("counter.invalid"), unverified: CH.t("counter.could_not_verify") };

  function renderHistory() {
    var history = loadHistory();
    var body = CH.clear($("history-table").tBodies[0]);
    history.forEach(function (entry) {
      body.appendChild(el("tr", { "data-verdict": entry.verdict },
        el("td", { class: "mono", text: CH.formatTime(entry.at) }),
        el("td", { text: VERDICT_WORDS[entry.verdict] + (entry.verdict === "valid" ? "" : CH.t("counter.colon") + (entry.reason || "")) }),
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
      var genuine = result.data.valid ? CH.t("counter.this_anti_counterfeit_code_is_genuine") : CH.t("counter.this_anti_counterfeit_code_failed_verification");
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
        $("camera-button").textContent = CH.t("counter.close_camera");
        return video.play().then(detectLoop);
      }).catch(function () {
        showNoVerdict(CH.t("counter.cannot_open_the_camera"), CH.t("counter.check_the_camera_permission_or_use"), null);
        stopCamera();
      });
    }, function () {
      showNoVerdict(CH.t("counter.the_qr_decoder_did_not_load"), CH.t("counter.reload_the_page_and_try_again"), null);
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
    if (button) button.textContent = CH.t("counter.scan_with_camera");
  }

  /* ------------------------------------------------------------ upload */
  function bindUpload() {
    var input = $("upload-input");
    $("upload-button").addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      if (file.size > 5 * 1024 * 1024) { showNoVerdict(CH.t("counter.image_too_large"), CH.t("counter.please_upload_an_image_of_at"), "too_large"); focusScan(); return; }
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
