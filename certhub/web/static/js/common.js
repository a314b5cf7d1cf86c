/* Shared helpers of the certhub pages: API calls, element building (text
   only, never HTML from data), labels in plain Chinese, the large-font
   toggle, and tab lists usable with the keyboard. */
(function () {
  "use strict";
  var CH = (window.certhub = window.certhub || {});

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
    if (result.status === 0) return "网络连接失败，请检查网络后重试。";
    if (result.status === 401) return "登录已失效，请重新登录。";
    if (result.status === 403) return "当前账号没有此操作的权限。";
    if (result.status === 429) return "操作过于频繁，请稍后再试。";
    if (result.status === 503) return "服务暂不可用（用证日志暂不可写入时不提供数据），请稍后再试。";
    var code = result.data && result.data.error;
    return (fallback || "操作未成功") + (code ? "（" + code + "）" : "");
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
  CH.STATUS = { valid: "有效", suspended: "已暂停", revoked: "已吊销", cancelled: "已注销", expired: "已过期", superseded: "已更新" };
  CH.statusLabel = function (status) { return CH.STATUS[status] || status || "未知"; };
  CH.badge = function (status) {
    return CH.el("span", { class: "badge badge-" + (CH.STATUS[status] ? status : "info"), text: CH.statusLabel(status) });
  };
  CH.BASIS = {
    holder_presentation: "持证人亮证",
    holder_self: "本人查看",
    unconditional_sharing: "无条件共享",
    supervision_mandate: "监管执法",
    issuer: "发证部门",
    holder_presented_credential: "持证人出示凭证",
  };
  CH.basisLabel = function (basis) {
    if (!basis) return "";
    if (basis.indexOf("consent:") === 0) return "持证人授权（" + basis.slice(8) + "）";
    if (basis.indexOf("delegation:") === 0) return "持证人委托代办（委托 " + basis.slice(11) + "）";
    return CH.BASIS[basis] || basis;
  };
  CH.KIND = {
    redemption: "窗口亮证核验",
    department_query: "部门查询",
    layout_download: "下载版式文件",
    annotated_copy_download: "下载加注件",
    holder_access: "本人查看",
    proxy_access: "代办人查看",
    supervision_access: "监管查询",
    credential_presentation: "向依赖方出示凭证",
  };
  CH.kindLabel = function (kind) { return CH.KIND[kind] || kind || ""; };
  CH.resultLabel = function (result) { return result === "granted" ? "已提供" : result === "denied" ? "已拒绝" : result || ""; };

  CH.pad = function (n) { return (n < 10 ? "0" : "") + n; };
  CH.formatTime = function (iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    return d.getFullYear() + "-" + CH.pad(d.getMonth() + 1) + "-" + CH.pad(d.getDate()) + " " +
      CH.pad(d.getHours()) + ":" + CH.pad(d.getMinutes()) + ":" + CH.pad(d.getSeconds());
  };
  CH.formatDate = function (value) { return value ? String(value).slice(0, 10) : "长期"; };
  CH.formatAge = function (seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "未知";
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return seconds + " 秒";
    if (seconds < 3600) return Math.round(seconds / 60) + " 分钟";
    if (seconds < 172800) return Math.round(seconds / 3600) + " 小时";
    return Math.round(seconds / 86400) + " 天";
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
      button.textContent = on ? "标准字号" : "大字模式";
    }
    button.addEventListener("click", function () {
      var on = document.documentElement.classList.toggle("large");
      try { window.localStorage.setItem("certhub.largeFont", on ? "1" : "0"); } catch (e) { /* ignore */ }
      sync();
      CH.announce(on ? "已切换为大字模式" : "已切换为标准字号");
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
