/* The wallet's service worker (scope /wallet): keeps the wallet page and the
   files it loads, so the page opens with no network and shows the static
   QR codes the holder saved on this device (亮证 at a counter with no
   signal). Network first: online, the page and its files are always the
   server's current ones; the copy is only a fallback. It never keeps an API
   answer: /api/ requests are not touched. */
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
