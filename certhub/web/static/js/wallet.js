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
    invalid_request: CH.t("wallet.some_of_what_you_entered_is"),
    invalid_code: CH.t("wallet.the_id_number_is_not_in"),
    licence_not_found: CH.t("wallet.licence_not_found_or_it_does"),
    invalid_identifier: CH.t("wallet.the_licence_id_is_not_in"),
    licence_not_presentable: CH.t("wallet.this_licence_cannot_be_shown_now"),
    invalid_presentation: CH.t("wallet.the_presentation_request_is_not_acceptable"),
    proxy_not_allowed: CH.t("wallet.you_have_no_valid_delegation_to"),
    delegation_not_found: CH.t("wallet.delegation_not_found_it_may_have"),
    delegation_inactive: CH.t("wallet.this_delegation_has_been_revoked_or"),
    push_endpoint_refused: CH.t("wallet.this_platform_does_not_support_this"),
    web_push_off: CH.t("wallet.alerts_are_not_offered_on_this"),
    invalid_dispute: CH.t("wallet.the_dispute_is_not_acceptable_please"),
    too_many_disputes: CH.t("wallet.this_licence_has_reached_the_limit"),
    dispute_closed: CH.t("wallet.this_dispute_has_already_been_resolved"),
    dispute_not_found: CH.t("wallet.dispute_not_found"),
    invalid_exchange_request: CH.t("wallet.the_consent_is_not_acceptable_please"),
    consent_not_found: CH.t("wallet.consent_not_found_it_may_have"),
    attachment_refused: CH.t("wallet.attachments_not_accepted_only_jpg_png"),
    not_found: CH.t("wallet.the_requested_item_was_not_found"),
    forbidden: CH.t("wallet.your_account_is_not_allowed_to")
  };
  // The server's message says which rule was broken; these say it in Chinese.
  var DETAIL_TEXT = [
    [/attachment: only JPEG/, CH.t("wallet.attachments_must_be_jpg_png_or")],
    [/attachment: at most \d+ bytes/, CH.t("wallet.each_attachment_must_be_at_most")],
    [/attachment: at most \d+ files/, CH.t("wallet.at_most_3_attachments_per_dispute")],
    [/attachment: the dispute is no longer open/, CH.t("wallet.this_dispute_has_been_resolved_no")],
    [/attachment: the file is empty/, CH.t("wallet.the_attachment_is_an_empty_file")],
    [/is required/, CH.t("wallet.please_fill_in_all_required_fields")],
    [/at most \d+ characters/, CH.t("wallet.what_you_entered_is_too_long")],
    [/control characters/, CH.t("wallet.the_text_contains_invisible_control_characters")],
    [/can no longer be corrected/, CH.t("wallet.this_licence_is_no_longer_valid")],
    [/is not a field of/, CH.t("wallet.the_chosen_item_does_not_belong")],
    [/at most one year/, CH.t("wallet.a_consent_lasts_at_most_one")],
    [/valid_until/, CH.t("wallet.the_consents_end_date_must_be")],
    [/delegations cover licence types only/, CH.t("wallet.a_proxy_can_only_consent_for")],
    [/not held by a holder of your kind/, CH.t("wallet.the_chosen_data_does_not_apply")],
    [/active consents/, CH.t("wallet.you_have_reached_the_limit_of")],
    [/is not a department in the catalog|matter:/, CH.t("wallet.the_chosen_matter_or_department_is")]
  ];

  function errorMessage(result, fallback) {
    var prefix = fallback ? fallback + CH.t("wallet.colon") : "";
    var data = result.data || {};
    // A refusal this page knows by its code is said in its words (a proxy's
    // ended delegation is a 403 too); other 403s are the generic answer.
    if (result.status === 403 && ERROR_TEXT[data.error] && data.error !== "forbidden") return prefix + ERROR_TEXT[data.error];
    if ([0, 401, 403, 429, 503].indexOf(result.status) >= 0) return prefix + CH.errorText(result, "");
    var message = typeof data.message === "string" ? data.message : "";
    for (var i = 0; i < DETAIL_TEXT.length; i++) {
      if (DETAIL_TEXT[i][0].test(message)) return prefix + DETAIL_TEXT[i][1];
    }
    return prefix + (ERROR_TEXT[data.error] || CH.t("wallet.please_try_again_later_if_it"));
  }

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("wallet-app").hidden = false;
    $("greeting").textContent = CH.t("wallet.hello") + (saved.name || CH.t("wallet.holder"));
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
    CH.showError($("signin-error"), CH.t("wallet.your_sign_in_has_expired_please"));
  }

  function onSession(result) {
    if (!result.ok) {
      CH.showError($("signin-error"), result.status === 401 || result.status === 422
        ? CH.t("wallet.the_sign_in_details_are_wrong") : errorMessage(result, CH.t("wallet.sign_in_failed")));
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
        if (!code || !name) { CH.showError($("signin-error"), CH.t("wallet.please_enter_the_id_number_and")); return; }
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
        if (!token) { CH.showError($("signin-error"), CH.t("wallet.please_paste_the_id_token")); return; }
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
      if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_licence"))); return; }
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
        var box = el("input", { type: "checkbox", "aria-label": CH.t("wallet.select") + licence.type_name + CH.t("wallet.for_showing") });
        box.checked = !!state.selected[licence.identifier];
        box.addEventListener("change", function () {
          if (box.checked) state.selected[licence.identifier] = true; else delete state.selected[licence.identifier];
          updateSelection();
        });
        pick = el("label", { class: "licence-pick" }, box, CH.t("wallet.select_this_licence_to_show"));
      }
      var card = el("button", {
        type: "button", class: "licence-card" + (isLive(licence) ? "" : " is-inactive"),
        "data-identifier": licence.identifier, "data-status": licence.status,
        onclick: function () { openLicence(licence.identifier); },
      },
        el("span", { class: "row-between" }, el("span", { class: "type-name", text: licence.type_name }), CH.badge(licence.status)),
        el("span", { class: "meta", text: CH.t("wallet.valid_until") + CH.formatDate(licence.valid_until) }),
        el("span", { class: "meta", text: CH.t("wallet.version") + (licence.current_version || 1) +
          (licence.open_disputes ? CH.t("wallet.dispute_in_progress") : "") }));
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
      if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_licence"))); return; }
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
    $("detail-versions").textContent = CH.t("wallet.current_version") + licence.current_version + CH.t("wallet.comma") + (licence.versions || []).length +
      CH.t("wallet.versions_valid") + CH.formatDate(licence.valid_from) + CH.t("wallet.to") + CH.formatDate(licence.valid_until);
    $("present-this").disabled = !isLive(licence);
    CH.licenceType(licence.type_code).then(function (type) {
      var labels = CH.fieldLabels(type);
      var fields = CH.clear($("detail-fields"));
      fields.appendChild(el("dt", { text: CH.t("wallet.holder") }));
      fields.appendChild(el("dd", { text: licence.holder_name }));
      Object.keys(licence.face || {}).forEach(function (key) {
        fields.appendChild(el("dt", { text: labels[key] || key }));
        var value = licence.face[key];
        fields.appendChild(el("dd", { text: value === null || value === undefined ? "—" : String(value) }));
      });
    });
    var disputes = CH.clear($("detail-disputes"));
    (licence.open_disputes || []).forEach(function (dispute) {
      disputes.appendChild(el("p", { class: "alert small", text: CH.t("wallet.dispute_in_progress_2") + dispute.field + CH.t("wallet.paren_open") + dispute.reason + CH.t("wallet.paren_close") }));
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
      if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_layout_document"))); return; }
      $("layout-image").src = CH.objectUrl(state.blobs.png = state.blobs.png || {}, result.data);
      $("layout-box").hidden = false;
    });
  }

  function downloadPdf() {
    if (!state.detail) return;
    var identifier = state.detail.identifier;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(identifier) + "/layout.pdf",
      { binary: true, headers: { Accept: "application/pdf" } }).then(function (result) {
      if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.pdf_download_failed"))); return; }
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
    $("present-licences").textContent = CH.t("wallet.showing") + identifiers.map(function (id) {
      var found = state.licences.filter(function (l) { return l.identifier === id; })[0];
      return found ? found.type_name : principalTypeName || id;
    }).join(CH.t("wallet.list_comma")) + (onBehalfOf ? CH.t("wallet.on_behalf_of_another_person") : "");
    requestCode();
    $("present").scrollIntoView({ block: "start" });
    $("present-title").setAttribute("tabindex", "-1");
    $("present-title").focus({ preventScroll: true });
  }

  function disclosure() {
    var checked = document.querySelector('input[name="disclosure"]:checked');
    return checked ? checked.value : "masked";
  }

  var DISCLOSURE_LABELS = { full: CH.t("wallet.full_details"), masked: CH.t("wallet.hide_sensitive_details") };

  // Asks for a new code. From that moment the code on screen is no longer
  // the current one (the registry supersedes it when it makes the new one),
  // so it leaves the screen at once. One request at a time, so the registry
  // makes the codes in the order the page asked for them; an answer that no
  // longer matches the disclosure chosen is dropped and asked for again.
  function requestCode() {
    var present = state.present;
    if (!present) return;
    clearCode(CH.t("wallet.generating_the_code"));
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
          clearCode(CH.t("wallet.could_not_generate_the_code") + errorMessage(result, CH.t("wallet.please_try_again_later")));
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
    label.textContent = CH.t("wallet.this_code_shows") + (DISCLOSURE_LABELS[data.disclosure] || data.disclosure);
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
    CH.announce(CH.t("wallet.code_generated_valid_for") + present.total + CH.t("wallet.s"));
  }

  function tick() {
    var present = state.present;
    if (!present) return;
    var left = Math.max(0, Math.ceil((present.deadline - Date.now()) / 1000));
    if (present.current) {
      if (left === 0) {
        clearCode(CH.t("wallet.the_code_has_expired_click_refresh"));
      } else {
        $("countdown").textContent = CH.t("wallet.remaining") + left + CH.t("wallet.s_2");
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
    label.textContent = CH.t("wallet.shows") + (DISCLOSURE_LABELS[disclosure()] || "");
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
      CH.announce(CH.t("wallet.showing_ended"));
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
      wakeState("unsupported", CH.t("wallet.this_browser_cannot_keep_the_screen"));
      return;
    }
    navigator.wakeLock.request("screen").then(function (lock) {
      if (!state.present) { lock.release(); return; }
      wakeLock = lock;
      wakeState("held", CH.t("wallet.the_screen_stays_on_while_the"));
      lock.addEventListener("release", function () {
        if (wakeLock === lock) wakeLock = null;
        if (state.present) wakeState("released", CH.t("wallet.keeping_the_screen_on_was_interrupted"));
      });
    }).catch(function () {
      wakeState("refused", CH.t("wallet.could_not_keep_the_screen_on"));
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
    note.textContent = CH.t("wallet.saving");
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(licence.identifier) + "/static-qr")
      .then(function (result) {
        if (!result.ok) { note.textContent = errorMessage(result, CH.t("wallet.saving_failed")); return; }
        var copies = offlineCopies();
        copies[licence.base_identifier || licence.identifier] = {
          identifier: result.data.identifier, type_name: result.data.type_name, qr_text: result.data.qr_text,
          qr_png_base64: result.data.qr_png_base64, valid_until: result.data.valid_until, saved_at: new Date().toISOString()
        };
        note.textContent = keepOfflineCopies(copies)
          ? CH.t("wallet.saved_on_this_device_open_this")
          : CH.t("wallet.not_enough_storage_on_this_device");
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
    $("offline-state").textContent = offline ? CH.t("wallet.no_network_connection_these_are_the") : "";
    var list = CH.clear($("offline-list"));
    keys.forEach(function (key) {
      var copy = copies[key];
      list.appendChild(el("li", { class: "offline-copy", "data-identifier": copy.identifier },
        el("p", { class: "type-name", text: copy.type_name }),
        el("img", { class: "qr-image", src: "data:image/png;base64," + copy.qr_png_base64,
                    alt: copy.type_name + CH.t("wallet.static_qr_code") }),
        el("p", { class: "small muted", text: CH.t("wallet.valid_until") + CH.formatDate(copy.valid_until) + CH.t("wallet.saved") + CH.formatTime(copy.saved_at) }),
        el("button", { type: "button", class: "btn btn-secondary", text: CH.t("wallet.remove_from_this_device"), onclick: function () {
          var now = offlineCopies();
          delete now[key];
          keepOfflineCopies(now);
          renderOffline();
        } })));
    });
  }

  // What the service worker says in a pushed use notice (wallet-sw.js). The
  // worker has no catalog of its own: each time the wallet opens, it hands the
  // worker these, so a notice speaks the language the holder last used here.
  var NOTICE_WORDS = {
    title: CH.t("wallet.use_alert"),
    proxy_access: CH.t("wallet.a_proxy_you_delegated_to_viewed"),
    holder_access: CH.t("wallet.your_licences_were_viewed"),
    a_department: CH.t("wallet.a_department"),
    granted: CH.t("wallet.used_your_licences_or_data"),
    denied: CH.t("wallet.tried_to_use_your_licences_or"),
    paren_open: CH.t("wallet.paren_open"),
    paren_close: CH.t("wallet.paren_close"),
    if_not_you: CH.t("wallet.if_this_was_not_you_look")
  };

  function registerServiceWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/wallet-sw.js", { scope: "/wallet" }).then(function () {
      document.body.dataset.offlineReady = "true";
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      registration.active.postMessage({ noticeWords: NOTICE_WORDS, locale: document.documentElement.lang });
    }).catch(function () { /* no offline copy of the page: the wallet still works online */ });
  }



  /* ------------------------------------------------------------ OpenID4VCI */
  // "Add to wallet": this page is a wallet in the OpenID4VCI 1.0 sense
  // (docs/oid4vci.md). Its key and the credentials bound to it are the ones
  // the OpenID4VP presentation uses (walletkeys.js).
  var PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
  var VCI_TEXT = {
    working: CH.t("wallet.adding_to_the_wallet"), stored: CH.t("wallet.added_to_this_devices_wallet"),
    deferred: CH.t("wallet.the_licence_cannot_be_issued_now"), failed: CH.t("wallet.adding_to_the_wallet_failed"),
    unsupported: CH.t("wallet.this_browser_cannot_hold_a_wallet")
  };

  // SPEC: OpenID4VCI 1.0 Appendix F.1 — the key proof JWT, its public key in the header.
  function signProof(key, issuer, nonce) {
    return CH.walletKeys.signJwt(key, { alg: "ES256", typ: "openid4vci-proof+jwt", jwk: key.jwk },
                                 { aud: issuer, iat: Math.floor(Date.now() / 1000), nonce: nonce });
  }

  function vciStep(result) {
    if (!result.ok) throw result;
    return result.data;
  }

  function addToWallet() {
    var licence = state.detail, note = $("vci-state");
    if (!licence) return;
    if (!CH.walletKeys.supported()) { note.textContent = VCI_TEXT.unsupported; return; }
    note.textContent = VCI_TEXT.working;
    delete note.dataset.outcome;
    var offer, pair, accessToken;
    holderApi("/api/v1/holders/me/licences/" + encodeURIComponent(licence.identifier) + "/credential-offer",
              { body: { tx_code: false } }).then(vciStep).then(function (data) {
      offer = data.credential_offer;
      return CH.walletKeys.holderKey();
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
      return CH.walletKeys.keepCredential(licence.identifier, answer.credentials[0].credential).then(function () { note.textContent = VCI_TEXT.stored; note.dataset.outcome = "stored"; });
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
        if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_use_records"))); return; }
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
            ? CH.t("wallet.log_checkpoint") + cp.size + CH.t("wallet.entries_signature") +
              (checked.signature === "ok" ? CH.t("wallet.verified_in_this_browser") : checked.signature === "bad" ? CH.t("wallet.verification_failed") : CH.t("wallet.not_verified_in_this_browser"))
            : CH.t("wallet.the_log_has_not_published_a");
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
    CH.clear(licenceSelect).appendChild(el("option", { value: "", text: CH.t("wallet.all_licences") }));
    state.licences.forEach(function (licence) {
      licenceSelect.appendChild(el("option", { value: licence.base_identifier, text: licence.type_name }));
    });
    CH.clear(departmentSelect).appendChild(el("option", { value: "", text: CH.t("wallet.all_departments") }));
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
    $("records-empty").textContent = records.all.length ? CH.t("wallet.no_records_match_the_filters") : CH.t("wallet.no_use_records_yet");
    var others = rows.filter(function (row) { return row.item; }).length;
    $("records-summary").textContent = CH.t("wallet.total") + others + CH.t("wallet.uses_by_others") +
      (rows.length > others ? CH.t("wallet.your_own_views_on") + (rows.length - others) + CH.t("wallet.days_grouped") : "");
    $("records-page").textContent = CH.t("wallet.page") + (records.page + 1) + " / " + pages + CH.t("wallet.page_suffix");
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
      if (status === "ok") { proof.className = "proof proof-ok small"; proof.textContent = CH.t("wallet.log_proof_verified_entry") + (item.index + 1) + CH.t("wallet.of_the_checkpoints") + cp.size + CH.t("wallet.paren_close_2"); }
      else if (status === "present") { proof.className = "proof proof-ok small"; proof.textContent = CH.t("wallet.log_proof_included_checkpoint_entries") + cp.size + CH.t("wallet.paren_close_2"); }
      else if (status === "pending") { proof.className = "proof proof-pending small"; proof.textContent = CH.t("wallet.log_proof_waiting_for_the_next"); }
      else { proof.className = "proof proof-bad small"; proof.textContent = CH.t("wallet.log_proof_verification_failed"); }
    });
  }

  function selfViewsNode(group) {
    var latest = group.self[0].record;
    var names = {};
    group.self.forEach(function (item) {
      (item.record.licence_ids || []).forEach(function (id) {
        var licence = licenceOf(id);
        names[licence ? licence.type_name : CH.t("wallet.licences")] = true;
      });
    });
    var details = el("details", { class: "self-views" },
      el("summary", { text: group.day + CH.t("wallet.you_viewed") + group.self.length + CH.t("wallet.times_latest") +
        CH.formatTime(latest.time).slice(11, 16) + CH.t("wallet.paren_close") }),
      el("p", { class: "small muted", text: CH.t("wallet.licences_viewed") + Object.keys(names).join(CH.t("wallet.list_comma")) }));
    return el("li", { class: "record record-self", "data-kind": "holder_access", "data-self-count": String(group.self.length) },
      details);
  }

  // "face.address" / "face.address:masked" / "sealed_record": said in words, with the catalog's labels.
  var RECORD_FIELDS = { holder_name: CH.t("wallet.holders_name"), sealed_record: CH.t("wallet.original_electronic_licence_with_seal"),
                        "static_qr.identifier": CH.t("wallet.licence_id"), "static_qr.holder_name_masked": CH.t("wallet.name_masked"),
                        "static_qr.validity": CH.t("wallet.validity") };
  function fieldText(fields, labels) {
    return (fields || []).map(function (name) {
      var plain = name.replace(/:masked$/, "");
      if (RECORD_FIELDS[plain]) return RECORD_FIELDS[plain] + (plain !== name ? CH.t("wallet.masked") : "");
      var masked = /:masked$/.test(name);
      var key = name.replace(/:masked$/, "").replace(/^face\./, "");
      if (key === "*") return masked ? CH.t("wallet.all_details_partly_masked") : CH.t("wallet.all_details");
      return (labels[key] || key) + (masked ? CH.t("wallet.masked") : "");
    }).join(CH.t("wallet.list_comma"));
  }

  function recordNode(item) {
    var r = item.record || {};
    var granted = r.result === "granted";
    var who = CH.nameOf(records.departments, r.department);
    var licenceNames = (r.licence_ids || []).map(function (id) { var l = licenceOf(id); return l ? l.type_name : id; });
    var fieldsLine = el("div", { class: "small record-fields" });
    var first = licenceOf((r.licence_ids || [])[0]);
    if ((r.fields || []).length) {
      fieldsLine.textContent = CH.t("wallet.details_provided") + fieldText(r.fields, {});
      if (first) CH.licenceType(first.type_code).then(function (type) {
        fieldsLine.textContent = CH.t("wallet.details_provided") + fieldText(r.fields, CH.fieldLabels(type));
      });
    }
    return el("li", { class: "record", "data-kind": r.kind, "data-result": r.result, "data-department": r.department },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: who }),
        el("span", { class: "badge " + (granted ? "badge-valid" : "badge-denied"), text: CH.resultLabel(r.result) })),
      el("div", { class: "small", text: CH.formatTime(r.time) + CH.t("wallet.spacer") + CH.kindLabel(r.kind) +
        (r.operator && r.operator !== "holder" ? CH.t("wallet.operator") + r.operator : "") }),
      licenceNames.length ? el("div", { class: "small record-licences", text: CH.t("wallet.licences_2") + licenceNames.join(CH.t("wallet.list_comma")) }) : null,
      (r.data_items || []).length ? el("div", { class: "small", text: CH.t("wallet.data") + r.data_items.map(function (code) {
        return CH.nameOf(records.items || {}, code);
      }).join(CH.t("wallet.list_comma")) }) : null,
      (r.fields || []).length ? fieldsLine : null,
      r.matter ? el("div", { class: "small", text: CH.t("wallet.matter") + CH.nameOf(records.matters, r.matter) }) : null,
      r.purpose ? el("div", { class: "small", text: CH.t("wallet.purpose") + r.purpose }) : null,
      proxyLine(r),
      el("div", { class: "small", text: CH.t("wallet.basis") + CH.basisLabel(r.basis) +
        (r.basis === "supervision_mandate" ? CH.t("wallet.supervision_query_your_consent_is_not") : "") +
        (r.reason ? CH.t("wallet.refusal_reason") + (REFUSAL_TEXT[r.reason] || CH.t("wallet.not_verified")) : "") }),
      el("div", { class: "proof proof-pending small", text: CH.t("wallet.log_proof_verifying") }),
      r.answer ? el("div", { class: "answer small proof-pending", text: CH.t("wallet.disclosed_content_verifying") }) : null);
  }

  // A use by someone the holder delegated to: who, through which delegation.
  function proxyLine(r) {
    var match = /^delegation:(\d+)$/.exec(r.basis || "");
    if (!match) return null;
    var d = family.given[match[1]];
    return el("div", { class: "small record-proxy", "data-delegation": match[1],
      text: CH.t("wallet.proxy_2") + (d ? d.proxy_code + CH.t("wallet.paren_open") + (RELATION[d.relation] || d.relation) + CH.t("wallet.paren_close") : "") +
        CH.t("wallet.viewed_your_licences_under_your_delegation") });
  }

  /* What went out about the holder, checked here against the record's
     commitment (answercheck.js, where the page loads it). */
  var ANSWER_TEXT = {
    verified: ["proof-ok", CH.t("wallet.disclosed_content_verified_matches_the_commitmen")],
    mismatch: ["proof-bad", CH.t("wallet.disclosed_content_does_not_match_the")],
    missing: ["proof-pending", CH.t("wallet.disclosed_content_not_kept_cannot_be")],
    unchecked: ["proof-pending", CH.t("wallet.disclosed_content_this_browser_cannot_verify")]
  };
  function showAnswerCheck(node, item) {
    var line = node.querySelector(".answer");
    if (!line || !CH.checkAnswer) return;
    CH.checkAnswer(item.record, item.disclosed).then(function (status) {
      var shown = ANSWER_TEXT[status] || ANSWER_TEXT.mismatch;
      line.dataset.answer = status;
      line.className = "answer small " + shown[0];
      line.textContent = shown[1] + ((item.disclosed && item.disclosed.values) ? CH.t("wallet.comma") + item.disclosed.values.length + CH.t("wallet.items") : "");
    });
  }

  /* Whether the list is provably all of the holder's uses up to the checkpoint
     (logcompleteness.js, where the page loads it), and how many uses a covert
     mandate still withholds. */
  function showCompleteness(data, checked) {
    var node = $("records-completeness");
    if (!node || !CH.checkCompleteness) return;
    node.textContent = CH.t("wallet.completeness_proof_verifying");
    CH.checkCompleteness(data, checked).then(function (result) {
      node.dataset.complete = result.status;
      var withheld = result.embargoed ? CH.t("wallet.of_these") + result.embargoed + CH.t("wallet.are_uses_under_a_supervision_confidentiality") : "";
      if (result.status === "ok") {
        node.textContent = CH.t("wallet.completeness_proof_verified_up_to_this") + result.count + CH.t("wallet.uses_concerning_you_and_all_are") + withheld;
      } else if (result.status === "bad") {
        node.textContent = CH.t("wallet.completeness_proof_failed_the_records_listed");
      } else if (result.status === "unavailable") {
        node.textContent = CH.t("wallet.completeness_proof_unavailable_for_now_the");
      } else {
        node.textContent = CH.t("wallet.completeness_proof_this_browser_cannot_verify");
      }
    });
  }

  var REFUSAL_TEXT = {
    replayed: CH.t("wallet.the_qr_code_had_already_been"), expired: CH.t("wallet.the_qr_code_had_expired"), superseded: CH.t("wallet.a_newer_qr_code_had_been"),
    revoked: CH.t("wallet.licence_revoked"), suspended: CH.t("wallet.licence_suspended"), consent_missing: CH.t("wallet.you_had_not_consented"), consent_withdrawn: CH.t("wallet.you_had_withdrawn_consent"),
    consent_expired: CH.t("wallet.the_consent_had_expired"), delegation_ended: CH.t("wallet.the_delegation_had_ended"), unknown_short_code: CH.t("wallet.wrong_numeric_code"),
    rate_limited: CH.t("wallet.too_many_attempts")
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
        var name = (licenceOf(licence.base_identifier) || {}).type_name || CH.t("wallet.licences");
        list.appendChild(el("li", { class: "alert reminder", "data-base": licence.base_identifier, "data-days": String(left),
          text: name + CH.t("wallet.expires_on") + licence.valid_until + CH.t("wallet.in") + left + CH.t("wallet.days_please_ask_the_issuing_department") }));
      });
      state.licences.filter(function (l) { return l.status === "expired"; }).forEach(function (licence) {
        list.appendChild(el("li", { class: "alert alert-error reminder", "data-base": licence.base_identifier, "data-days": "0",
          text: licence.type_name + CH.t("wallet.expired_on") + CH.formatDate(licence.valid_until) + CH.t("wallet.please_renew_it_soon") }));
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
      var names = (r.licence_ids || []).map(function (id) { var l = licenceOf(id); return l ? l.type_name : CH.t("wallet.licences"); });
      var who = r.kind === "proxy_access" ? CH.t("wallet.a_proxy_you_delegated_to") : CH.nameOf(all[1], r.department);
      var text = who + (r.kind === "proxy_access" ? CH.t("wallet.viewed_your") : r.result === "granted" ? CH.t("wallet.used_your") : CH.t("wallet.tried_to_use_your")) +
        (names.join(CH.t("wallet.list_comma")) || CH.t("wallet.data_2")) + CH.t("wallet.paren_open") + CH.formatTime(r.time) + CH.t("wallet.paren_close") +
        (fresh.length > 1 ? CH.t("wallet.and") + (fresh.length - 1) + CH.t("wallet.more_new_records") : "") + CH.t("wallet.if_this_was_not_you_raise");
      var notice = $("use-notice");
      notice.textContent = text;
      notice.dataset.department = r.department || "";
      notice.hidden = false;
      CH.announce(text);
      if (window.Notification && window.Notification.permission === "granted" && document.hidden) {
        try { new window.Notification(CH.t("wallet.use_alert"), { body: text }); } catch (e) { /* page notifications unavailable */ }
      }
    }, function () { state.watching = false; });
  }

  /* ------------------------------------------------------------ Web Push */
  // The same notices as the feed above, pushed to this device while the
  // wallet is closed: the service worker subscribes with the platform's
  // VAPID key (PushManager.subscribe), the subscription goes to the holder
  // API, and wallet-sw.js shows each message (docs/web.md "Use notices").
  var PUSH_TEXT = {
    off: CH.t("wallet.once_on_this_device_is_alerted"),
    on: CH.t("wallet.on_this_device_is_alerted_whenever"),
    denied: CH.t("wallet.the_browser_does_not_allow_notifications"),
    failed: CH.t("wallet.this_browser_cannot_turn_on_alerts")
  };

  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function showPush(on, text) {
    var button = $("push-toggle");
    button.dataset.on = on ? "true" : "false";
    button.textContent = on ? CH.t("wallet.turn_off_use_alerts") : CH.t("wallet.turn_on_use_alerts");
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
        $("consents-empty").textContent = result.status === 404 ? CH.t("wallet.consent_management_is_not_enabled_on") : errorMessage(result, CH.t("wallet.could_not_load_the_consents"));
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
                     text: active ? CH.t("wallet.in_force") : consent.status === "withdrawn" ? CH.t("wallet.withdrawn") : CH.t("wallet.no_longer_valid") })),
      el("div", { class: "small", text: CH.t("wallet.matter") + CH.nameOf(matters, consent.matter) }),
      el("div", { class: "small", text: CH.t("wallet.consented_to") + names.join(CH.t("wallet.list_comma")) }),
      el("div", { class: "small", text: CH.t("wallet.valid") + CH.formatTime(consent.valid_from) + CH.t("wallet.to") + CH.formatTime(consent.valid_until) +
        (consent.granted_by_proxy ? CH.t("wallet.given_by_a_proxy") : "") }));
    if (active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-danger", text: CH.t("wallet.withdraw_consent"), onclick: function (event) {
        if (!window.confirm(CH.t("wallet.withdraw_your_consent_to") + CH.nameOf(departments, consent.department) + CH.t("wallet.withdraw_question_end"))) return;
        event.target.disabled = true;
        holderApi("/api/v1/holders/me/consents/" + encodeURIComponent(consent.id) + "/withdraw", { method: "POST" })
          .then(function (result) {
            if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.withdrawing_failed"))); event.target.disabled = false; return; }
            CH.announce(CH.t("wallet.consent_withdrawn"));
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
        matter.appendChild(el("option", { value: "", text: CH.t("wallet.please_choose_a_matter") }));
        Object.keys(consentForm.matters).forEach(function (code) {
          var m = consentForm.matters[code];
          matter.appendChild(el("option", { value: code, text: m.name + CH.t("wallet.paren_open") + CH.nameOf(consentForm.departments, m.department) + CH.t("wallet.paren_close") }));
        });
      }
      var who = CH.clear($("consent-for"));
      who.appendChild(el("option", { value: "", text: CH.t("wallet.myself") }));
      consentForm.proxies.forEach(function (d) {
        who.appendChild(el("option", { value: String(d.id), text: CH.t("wallet.for") + d.principal_code + CH.t("wallet.paren_open") + RELATION[d.relation] + CH.t("wallet.paren_close") }));
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
      ? CH.t("wallet.you_will_allow") + CH.nameOf(consentForm.departments, choice.matter.department) + CH.t("wallet.to_use_for_the_matter") + choice.matter.name +
        CH.t("wallet.consent_preview_uses") + choice.items.map(itemName).join(CH.t("wallet.list_comma")) + CH.t("wallet.until") + choice.until + CH.t("wallet.you_can_withdraw_it_at_any")
      : "";
  }

  function grantConsent(choice) {
    var message = $("consent-message");
    if (!choice.matter || !choice.items.length || !choice.until) {
      message.className = "alert alert-error";
      message.textContent = CH.t("wallet.choose_a_matter_and_at_least");
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
      message.textContent = errorMessage(result, CH.t("wallet.consenting_did_not_succeed"));
      return false;
    });
  }

  function sendConsent(body, choice, message) {
    return holderApi("/api/v1/holders/me/consents", { body: body }).then(function (result) {
      if (!result.ok) {
        message.className = "alert alert-error";
        message.textContent = errorMessage(result, CH.t("wallet.consenting_did_not_succeed"));
        return false;
      }
      message.className = "alert alert-ok";
      message.textContent = CH.t("wallet.consent_given_to") + CH.nameOf(consentForm.departments, body.department) + CH.t("wallet.until_2") + choice.until + CH.t("wallet.full_stop");
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
    $("consent-request-text").textContent = "“" + CH.nameOf(consentForm.departments, matter.department) + CH.t("wallet.asks_to_use_for_the_matter") +
      matter.name + CH.t("wallet.your") + request.items.map(itemName).join(CH.t("wallet.list_comma")) + CH.t("wallet.until") + until + CH.t("wallet.full_stop");
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
      CH.announce(CH.t("wallet.the_consent_request_was_declined"));
    });
  }

  /* ------------------------------------------------------------ family and proxies */
  var RELATION = { guardian: CH.t("wallet.guardianship"), agent: CH.t("wallet.power_of_attorney"), family: CH.t("wallet.family_member") };
  var ACTION = { present: CH.t("wallet.show_licences"), consent: CH.t("wallet.consent") };
  var MAX_DELEGATION_DAYS = 5 * 365;
  // The delegations this holder gave, by id: their use records name the proxy through them.
  var family = { given: {}, principals: {} };

  function delegationNode(d, given) {
    var node = el("li", { class: "record", "data-delegation": String(d.id), "data-active": d.active ? "true" : "false" },
      el("div", { class: "row-between" },
        el("span", { class: "who", text: (given ? CH.t("wallet.proxy") + d.proxy_code : CH.t("wallet.principal") + d.principal_code) + CH.t("wallet.paren_open") + (RELATION[d.relation] || d.relation) + CH.t("wallet.paren_close") }),
        el("span", { class: "badge " + (d.active ? "badge-valid" : "badge-revoked"), text: d.active ? CH.t("wallet.in_force") : d.status === "revoked" ? CH.t("wallet.revoked") : CH.t("wallet.no_longer_valid") })),
      el("div", { class: "small", text: CH.t("wallet.may_act_for") + d.actions.map(function (a) { return ACTION[a] || a; }).join(CH.t("wallet.list_comma")) +
        CH.t("wallet.licences_3") + d.type_codes.map(itemName).join(CH.t("wallet.list_comma")) }),
      el("div", { class: "small muted", text: CH.t("wallet.valid_2") + CH.formatTime(d.valid_from) + CH.t("wallet.to") + CH.formatTime(d.valid_until) }));
    if (given && d.active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-danger", text: CH.t("wallet.revoke_delegation"), onclick: function (event) {
        if (!window.confirm(CH.t("wallet.revoke_the_delegation_to") + d.proxy_code + CH.t("wallet.consents_they_gave_on_your_behalf"))) return;
        event.target.disabled = true;
        holderApi("/api/v1/holders/me/delegations/" + d.id + "/revoke", { method: "POST" }).then(function (result) {
          if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.revoking_failed"))); event.target.disabled = false; return; }
          CH.announce(CH.t("wallet.delegation_revoked"));
          loadDelegations();
        });
      } }));
    }
    if (!given && d.active) {
      node.appendChild(el("button", { type: "button", class: "btn btn-secondary act-for", text: CH.t("wallet.act_for_them"),
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
      $("acting-for-title").textContent = CH.t("wallet.acting_for_2") + (principal.name || "") + CH.t("wallet.paren_open") + principal.code_masked + CH.t("wallet.paren_close");
      $("acting-for-scope").textContent = CH.t("wallet.delegation_covers") + d.actions.map(function (a) { return ACTION[a] || a; }).join(CH.t("wallet.list_comma")) +
        CH.t("wallet.valid_until_2") + CH.formatTime(d.valid_until);
      var list = CH.clear($("acting-for-licences"));
      data.licences.forEach(function (licence) { list.appendChild(proxyLicenceNode(data, licence)); });
      $("acting-for-empty").hidden = data.licences.length > 0;
      $("acting-for-title").focus();
    }, function (result) {
      $("acting-for").hidden = true;
      state.actingFor = null;
      walletError(errorMessage(result, CH.t("wallet.could_not_act_for_them")));
      loadDelegations();
    });
  }

  function proxyLicenceNode(data, licence) {
    var d = data.delegation;
    var node = el("li", { class: "record", "data-identifier": licence.identifier, "data-status": licence.status },
      el("div", { class: "row-between" }, el("span", { class: "who", text: licence.type_name }), CH.badge(licence.status)),
      el("div", { class: "small muted", text: CH.t("wallet.valid_until") + CH.formatDate(licence.valid_until) }));
    var row = el("div", { class: "row" });
    if (d.actions.indexOf("present") >= 0 && isLive(licence)) {
      row.appendChild(el("button", { type: "button", class: "btn proxy-present", text: CH.t("wallet.show_on_their_behalf"), onclick: function () {
        state.tabs.select("tab-licences");
        startPresenting([licence.identifier], data.principal.code, licence.type_name);
      } }));
    }
    if (d.actions.indexOf("consent") >= 0) {
      row.appendChild(el("button", { type: "button", class: "btn btn-secondary proxy-consent", text: CH.t("wallet.consent_on_their_behalf"), onclick: function () {
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
        if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_delegations"))); return; }
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
      message.textContent = CH.t("wallet.enter_the_proxys_id_number_and");
      return;
    }
    holderApi("/api/v1/holders/me/delegations", { body: body }).then(function (result) {
      if (!result.ok) {
        message.className = "alert alert-error";
        message.textContent = errorMessage(result, CH.t("wallet.delegating_did_not_succeed"));
        return;
      }
      message.className = "alert alert-ok";
      message.textContent = CH.t("wallet.delegated_to") + result.data.proxy_code + CH.t("wallet.delegated_until") + $("delegation-until").value +
        CH.t("wallet.delegated_until_suffix");
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
                                        text: licence.type_name + CH.t("wallet.paren_open") + CH.statusLabel(licence.status) + CH.t("wallet.paren_close") }));
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
        message.textContent = CH.t("wallet.choose_a_licence_and_an_item");
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
          message.textContent = errorMessage(result, CH.t("wallet.submission_failed"));
          return;
        }
        var due = CH.formatTime(result.data.due_at);
        uploadAttachments(result.data.id, files).then(function (failed) {
          message.className = failed ? "alert alert-error" : "alert alert-ok";
          message.textContent = CH.t("wallet.dispute_submitted_the_issuing_department_will") + due + CH.t("wallet.full_stop_2") +
            (files.length ? (failed ? CH.t("wallet.but_the_attachments_could_not_be") + failed : CH.t("wallet.attached") + files.length + CH.t("wallet.supporting_documents")) : "");
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
    if (files.length > ATTACHMENTS_MAX) return CH.t("wallet.at_most_3_attachments_per_dispute");
    for (var i = 0; i < files.length; i++) {
      if (ATTACHMENT_TYPES.indexOf(files[i].type) < 0) return CH.t("wallet.the_attachment") + files[i].name + CH.t("wallet.is_not_a_jpg_png_or");
      if (files[i].size > ATTACHMENT_MAX_BYTES) return CH.t("wallet.the_attachment") + files[i].name + CH.t("wallet.is_larger_than_900_kb_please");
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
      if (!result.ok) { walletError(errorMessage(result, CH.t("wallet.could_not_load_the_disputes"))); return; }
      var disputes = Array.isArray(result.data) ? result.data : [];
      $("disputes-empty").hidden = disputes.length > 0;
      var labels = { open: CH.t("wallet.in_progress"), accepted: CH.t("wallet.corrected"), rejected: CH.t("wallet.not_accepted") };
      disputes.forEach(function (d) {
        var licence = state.licences.filter(function (l) { return l.base_identifier && d.licence_identifier.indexOf(l.base_identifier) === 0; })[0];
        var who = el("span", { class: "who", text: (licence ? licence.type_name + CH.t("wallet.colon") : "") + d.field });
        if (licence) {
          CH.licenceType(licence.type_code).then(function (type) {
            who.textContent = licence.type_name + CH.t("wallet.colon") + (CH.fieldLabels(type)[d.field] || d.field);
          });
        }
        list.appendChild(el("li", { class: "record", "data-dispute": d.id, "data-status": d.status },
          el("div", { class: "row-between" },
            who,
            el("span", { class: "badge " + (d.status === "rejected" ? "badge-revoked" : d.status === "accepted" ? "badge-valid" : "badge-suspended"),
                         text: (labels[d.status] || d.status) + (d.overdue ? CH.t("wallet.overdue") : "") })),
          el("div", { class: "small", text: CH.t("wallet.reason") + d.reason + (d.proposed_value ? CH.t("wallet.proposed") + d.proposed_value : "") }),
          el("div", { class: "small muted", text: CH.t("wallet.submitted") + CH.formatTime(d.created_at) + CH.t("wallet.due_by") + CH.formatTime(d.due_at) }),
          d.decision_reason ? el("div", { class: "small", text: CH.t("wallet.decision") + d.decision_reason }) : null));
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
