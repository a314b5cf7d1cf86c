/* The wallet's service worker (scope /wallet): keeps the wallet page and the
   files it loads, so the page opens with no network and shows the static
   QR codes the holder saved on this device (亮证 at a counter with no
   signal). Network first: online, the page and its files are always the
   server's current ones; the copy is only a fallback. It never keeps an API
   answer: /api/ requests are not touched.
   It also shows the use notices the platform pushes (Web Push, RFC 8030):
   each message is decrypted by the browser (RFC 8291) and says only the
   kind of use, the department and the time; the details are in the
   wallet's use records, after sign-in. */
"use strict";

var CACHE = "certhub-wallet-v1";

function keepable(url) {
  return url.origin === self.location.origin &&
    (url.pathname === "/wallet" || url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/web/fonts/") === 0 ||
     url.pathname.indexOf("/web/messages/") === 0);
}

self.addEventListener("install", function (event) {
  // The page itself and what it links: scripts (its strings too), styles and the font stylesheet.
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return fetch("/wallet", { credentials: "omit" }).then(function (response) {
      if (!response.ok) return undefined;
      return response.clone().text().then(function (html) {
        var linked = html.match(/(?:src|href)="(\/(?:static|web\/fonts|web\/messages)\/[^"]+)"/g) || [];
        var urls = linked.map(function (attr) { return attr.replace(/^(?:src|href)="/, "").replace(/"$/, ""); });
        return cache.put("/wallet", response).then(function () { return cache.addAll(urls); });
      });
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE; }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (!keepable(url)) return;
  var key = url.pathname === "/wallet" ? "/wallet" : request;  // the page whatever its query or fragment
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(key).then(function (kept) { return kept || Response.error(); });
  }));
});

var KIND_TEXT = { proxy_access: "您委托的代办人查看了您的证照", holder_access: "您的证照被查看" };

self.addEventListener("push", function (event) {
  var notice = {};
  try { notice = event.data ? event.data.json() : {}; } catch (e) { notice = {}; }
  var what = KIND_TEXT[notice.kind] ||
    (notice.department || "有部门") + (notice.result === "denied" ? "尝试使用您的证照或数据（已拒绝）" : "使用了您的证照或数据");
  var when = notice.time ? new Date(notice.time) : null;
  var body = what + (when && !isNaN(when) ? "（" + when.toLocaleString("zh-CN", { hour12: false }) + "）" : "") +
    "。如非本人办理，请在“用证记录”中查看并提出异议。";
  event.waitUntil(self.registration.showNotification("用证提醒", {
    body: body, tag: "certhub-use", renotify: true, data: { url: "/wallet" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (windows) {
    var open = windows.filter(function (w) { return new URL(w.url).pathname === "/wallet"; })[0];
    return open ? open.focus() : self.clients.openWindow("/wallet");
  }));
});
