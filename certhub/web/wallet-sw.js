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

/* The words of a notice, in the language of the wallet page last opened:
   the page hands them over (wallet.js NOTICE_WORDS) from its catalog, and
   they are kept beside the page's copy, since the worker is stopped when idle. */
var NOTICE_WORDS_KEY = "/wallet-sw/notice-words";
var NOTICE_WORD_NAMES = ["title", "proxy_access", "holder_access", "a_department", "granted", "denied",
                         "paren_open", "paren_close", "if_not_you"];
var LOCALES = ["zh-CN", "en"];

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var given = data.noticeWords;
  if (!given || typeof given !== "object" || LOCALES.indexOf(data.locale) < 0) return;
  var words = { locale: data.locale };
  for (var i = 0; i < NOTICE_WORD_NAMES.length; i++) {
    var word = given[NOTICE_WORD_NAMES[i]];
    if (typeof word !== "string" || word.length > 200) return;  // only short strings, all of them
    words[NOTICE_WORD_NAMES[i]] = word;
  }
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.put(NOTICE_WORDS_KEY, new Response(JSON.stringify(words), { headers: { "Content-Type": "application/json" } }));
  }));
});

function noticeWords() {
  return caches.match(NOTICE_WORDS_KEY).then(function (kept) { return kept ? kept.json() : null; }).catch(function () { return null; });
}

self.addEventListener("push", function (event) {
  var notice = {};
  try { notice = event.data ? event.data.json() : {}; } catch (e) { notice = {}; }
  var when = notice.time ? new Date(notice.time) : null;
  event.waitUntil(noticeWords().then(function (words) {
    var time = when && !isNaN(when) ? when.toLocaleString(words ? words.locale : undefined, { hour12: false }) : "";
    var body;
    if (!words) {
      // The page never said its words here (storage cleared): who and when still tell the holder something.
      body = [notice.department, time].filter(Boolean).join(" ");
      return self.registration.showNotification(self.location.host, {
        body: body, tag: "certhub-use", renotify: true, data: { url: "/wallet" }
      });
    }
    var what = notice.kind === "proxy_access" || notice.kind === "holder_access" ? words[notice.kind] :
      (notice.department || words.a_department) + (notice.result === "denied" ? words.denied : words.granted);
    body = what + (time ? words.paren_open + time + words.paren_close : "") + words.if_not_you;
    return self.registration.showNotification(words.title, {
      body: body, tag: "certhub-use", renotify: true, data: { url: "/wallet" }
    });
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (windows) {
    var open = windows.filter(function (w) { return new URL(w.url).pathname === "/wallet"; })[0];
    return open ? open.focus() : self.clients.openWindow("/wallet");
  }));
});
