/* Shared helpers of the certhub pages: API calls, element building (text
   only, never HTML from data), labels in plain Chinese, the large-font
   toggle, and tab lists usable with the keyboard. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});

  /* ------------------------------------------------------------ strings */
  // Every string a page shows comes from the catalog of the page's language
  // (certhub/web/messages/*.json), served as /web/messages/<language>.<hash>.js
  // ahead of this script. A key missing there is a bug: it is logged, and the
  // key itself shown rather than nothing.
  var messages = window.certhubMessages || {};
  CH.t = function (key) {
    if (Object.prototype.hasOwnProperty.call(messages, key)) return messages[key];
    window.console.error("certhub: no message " + key);
    return key;
  };

  /* ------------------------------------------------------------ elements */
  CH.el = function (tag, attrs) {
    var node = document.createElement(tag);
    var key;
    attrs = attrs || {};
    for (key in attrs) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key) || attrs[key] === undefined || attrs[key] === null) continue;
      if (key === "text") node.textContent = String(attrs[key]);
      else if (key === "class") node.className = attrs[key];
      else if (key === "dataset") Object.assign(node.dataset, attrs[key]);
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else node.setAttribute(key, attrs[key]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  };
  CH.$ = function (id) { return document.getElementById(id); };
  CH.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };
  CH.show = function (node, visible) { node.hidden = !visible; };

  CH.announce = function (message) {
    var live = CH.$("live");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 30);
  };

  CH.showError = function (box, message) {
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  };

  /* ------------------------------------------------------------ API */
  // Every call goes to this server only; the answer is {ok, status, data}.
  CH.api = function (path, options) {
    options = options || {};
    var headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.token) headers.Authorization = "Bearer " + options.token;
    var body = options.body;
    if (body !== undefined && !(body instanceof Blob) && !(body instanceof URLSearchParams) && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    return window
      .fetch(path, { method: options.method || (body === undefined ? "GET" : "POST"), headers: headers, body: body,
                     credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (options.binary) {
          return response.ok
            ? response.blob().then(function (blob) { return { ok: true, status: response.status, data: blob }; })
            : response.json().catch(function () { return {}; }).then(function (data) {
                return { ok: false, status: response.status, data: data };
              });
        }
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: "bad_response", message: text.slice(0, 200) }; }
          return { ok: response.ok, status: response.status, data: data };
        });
      })
      .catch(function () {
        return { ok: false, status: 0, data: { error: "network", message: "network error" } };
      });
  };

  CH.errorText = function (result, fallback) {
    if (result.status === 0) return CH.t("common.network_connection_failed_please_check_your");
    if (result.status === 401) return CH.t("common.your_sign_in_has_expired_please");
    if (result.status === 403) return CH.t("common.your_account_is_not_allowed_to");
    if (result.status === 429) return CH.t("common.too_many_requests_please_try_again");
    if (result.status === 503) return CH.t("common.service_unavailable_no_data_is_provided");
    var code = result.data && result.data.error;
    return (fallback || CH.t("common.the_operation_did_not_succeed")) + (code ? CH.t("common.paren_open") + code + CH.t("common.paren_close") : "");
  };

  /* ------------------------------------------------------------ tokens */
  // Tokens live in sessionStorage: gone when the tab closes, never logged.
  CH.loadToken = function (name) {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem("certhub." + name) || "null");
      if (saved && saved.token && saved.expiresAt > Date.now() + 5000) return saved;
    } catch (e) { /* ignore */ }
    CH.dropToken(name);
    return null;
  };
  CH.saveToken = function (name, token, expiresIn, extra) {
    var saved = Object.assign({ token: token, expiresAt: Date.now() + Math.max(30, expiresIn || 300) * 1000 }, extra || {});
    window.sessionStorage.setItem("certhub." + name, JSON.stringify(saved));
    return saved;
  };
  CH.dropToken = function (name) {
    try { window.sessionStorage.removeItem("certhub." + name); } catch (e) { /* ignore */ }
  };

  // OAuth 2.0 client credentials, the client authenticating with form fields (RFC 6749 §2.3.1, §4.4).
  CH.clientToken = function (clientId, secret, scope) {
    var form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: scope });
    return CH.api("/api/v1/oauth/token", { method: "POST", body: form });
  };

  /* ------------------------------------------------------------ labels */
  CH.STATUS = { valid: CH.t("common.valid"), suspended: CH.t("common.suspended"), revoked: CH.t("common.revoked"), cancelled: CH.t("common.cancelled"), expired: CH.t("common.expired"), superseded: CH.t("common.superseded") };
  CH.statusLabel = function (status) { return CH.STATUS[status] || status || CH.t("common.unknown"); };
  CH.badge = function (status) {
    return CH.el("span", { class: "badge badge-" + (CH.STATUS[status] ? status : "info"), text: CH.statusLabel(status) });
  };
  CH.BASIS = {
    holder_presentation: CH.t("common.shown_by_the_holder"),
    holder_self: CH.t("common.viewed_by_the_holder"),
    unconditional_sharing: CH.t("common.unconditional_sharing"),
    supervision_mandate: CH.t("common.supervision_and_enforcement"),
    issuer: CH.t("common.issuing_department"),
    holder_presented_credential: CH.t("common.credential_shown_by_the_holder"),
  };
  CH.basisLabel = function (basis) {
    if (!basis) return "";
    if (basis.indexOf("consent:") === 0) return CH.t("common.holders_consent") + basis.slice(8) + CH.t("common.paren_close");
    if (basis.indexOf("delegation:") === 0) return CH.t("common.holders_delegation") + basis.slice(11) + CH.t("common.paren_close");
    return CH.BASIS[basis] || basis;
  };
  CH.KIND = {
    redemption: CH.t("common.counter_verification_of_a_shown_code"),
    department_query: CH.t("common.department_query"),
    layout_download: CH.t("common.layout_document_download"),
    annotated_copy_download: CH.t("common.annotated_copy_download"),
    holder_access: CH.t("common.viewed_by_the_holder"),
    proxy_access: CH.t("common.viewed_by_a_proxy"),
    supervision_access: CH.t("common.supervision_query"),
    credential_presentation: CH.t("common.credential_shown_to_a_relying_party"),
  };
  CH.kindLabel = function (kind) { return CH.KIND[kind] || kind || ""; };
  CH.resultLabel = function (result) { return result === "granted" ? CH.t("common.provided") : result === "denied" ? CH.t("common.refused") : result || ""; };

  CH.pad = function (n) { return (n < 10 ? "0" : "") + n; };
  CH.formatTime = function (iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.getFullYear() + "-" + CH.pad(d.getMonth() + 1) + "-" + CH.pad(d.getDate()) + " " +
      CH.pad(d.getHours()) + ":" + CH.pad(d.getMinutes()) + ":" + CH.pad(d.getSeconds());
  };
  CH.formatDate = function (value) { return value ? String(value).slice(0, 10) : CH.t("common.no_expiry"); };
  CH.formatAge = function (seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return CH.t("common.unknown");
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + CH.t("common.s");
    if (seconds < 3600) return Math.round(seconds / 60) + CH.t("common.min");
    if (seconds < 172800) return Math.round(seconds / 3600) + CH.t("common.h");
    return Math.round(seconds / 86400) + CH.t("common.days");
  };

  /* ------------------------------------------------------------ catalog */
  var catalogCache = {};
  CH.catalog = function (what) {
    if (!catalogCache[what]) {
      catalogCache[what] = CH.api("/api/v1/catalog/" + what).then(function (result) {
        var map = {};
        if (result.ok && Array.isArray(result.data)) {
          result.data.forEach(function (entry) { map[entry.code] = entry; });
        }
        return map;
      });
    }
    return catalogCache[what];
  };
  CH.licenceType = function (code) {
    var key = "licence-types/" + code;
    if (!catalogCache[key]) {
      catalogCache[key] = CH.api("/api/v1/catalog/licence-types/" + encodeURIComponent(code)).then(function (r) {
        return r.ok ? r.data : null;
      });
    }
    return catalogCache[key];
  };
  CH.fieldLabels = function (type) {
    var labels = {};
    ((type && type.fields) || []).forEach(function (field) { labels[field.key] = field.label; });
    return labels;
  };
  CH.nameOf = function (map, code) { return (code && map[code] && map[code].name) || code || ""; };

  /* ------------------------------------------------------------ tabs */
  // WAI-ARIA tabs: Left/Right/Home/End move between tabs, Enter/Space or click select.
  CH.tabs = function (list, onSelect) {
    var tabs = Array.prototype.slice.call(list.querySelectorAll('[role="tab"]'));
    function select(tab, focus) {
      tabs.forEach(function (other) {
        var on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        other.tabIndex = on ? 0 : -1;
        CH.$(other.getAttribute("aria-controls")).hidden = !on;
      });
      if (focus) tab.focus();
      if (onSelect) onSelect(tab.id);
    }
    tabs.forEach(function (tab, index) {
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        else if (event.key === "Home") next = tabs[0];
        else if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) { event.preventDefault(); select(next, true); }
      });
    });
    return { select: function (id) { select(CH.$(id), false); } };
  };

  /* ------------------------------------------------------------ large font */
  function setupFontToggle() {
    var button = CH.$("large-font-toggle");
    if (!button) return;
    function sync() {
      var on = document.documentElement.classList.contains("large");
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? CH.t("common.standard_text") : CH.t("common.large_text");
    }
    button.addEventListener("click", function () {
      var on = document.documentElement.classList.toggle("large");
      try { window.localStorage.setItem("certhub.largeFont", on ? "1" : "0"); } catch (e) { /* ignore */ }
      sync();
      CH.announce(on ? CH.t("common.switched_to_large_text") : CH.t("common.switched_to_standard_text"));
    });
    sync();
  }

  // Blobs shown as images or downloads are revoked when replaced.
  CH.objectUrl = function (holder, blob) {
    if (holder.url) URL.revokeObjectURL(holder.url);
    holder.url = URL.createObjectURL(blob);
    return holder.url;
  };

  document.addEventListener("DOMContentLoaded", setupFontToggle);
})();
