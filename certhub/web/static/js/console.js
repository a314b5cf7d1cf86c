/* 部门管理: a department officer's console. Every action is a call to the
   same public API a department system uses, with the officer's staff session
   token (staff.js): the department is always the signed-in person's, taken
   from the token by the server, never chosen on this page. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;
  var state = { session: null, tabs: null };

  // A staff session (staff.js) of a person with the officer role.
  var staff = CH.staffSession({ name: "console", scope: "usage:read", onSignedIn: signedIn, onSignedOut: clearScreen });

  function consoleApi(path, options) {
    options = Object.assign({ token: staff.token() }, options || {});
    return CH.api(path, options).then(function (result) {
      if (result.status === 401) staff.signOut("登录已失效，请重新登录。");
      return result;
    });
  }
  function consoleError(message) { CH.showError($("console-error"), message); if (message) CH.showError($("console-ok"), ""); }
  function consoleOk(message) { CH.showError($("console-ok"), message); if (message) { CH.showError($("console-error"), ""); CH.announce(message); } }
  CH.consoleApi = consoleApi;
  CH.consoleError = consoleError;
  CH.consoleOk = consoleOk;
  CH.consoleSession = function () { return state.session; };

  /* ------------------------------------------------------------ sign-in */
  function signedIn(saved) {
    state.session = saved;
    $("signin").hidden = true;
    $("console-app").hidden = false;
    staff.describe($("whoami"), "当前人员：", saved);
    loadUsage();
  }

  // Signing out leaves nothing of the department on the screen.
  function clearScreen() {
    state.session = null;
    $("console-app").hidden = true;
    $("signin").hidden = false;
    $("whoami").textContent = "";
    Array.prototype.forEach.call(document.querySelectorAll("#console-app tbody, #console-app ul, #console-app .clearable"),
      function (node) { CH.clear(node); });
  }

  /* ------------------------------------------------------------ usage statistics */
  function range(days) {
    var until = new Date(Date.now() + 60000);
    var since = new Date(until.getTime() - days * 86400000);
    return "since=" + encodeURIComponent(since.toISOString()) + "&until=" + encodeURIComponent(until.toISOString());
  }

  function loadUsage() {
    Promise.all([consoleApi("/api/v1/usage/stats?" + range(Number($("u-days").value))), CH.catalog("matters")])
      .then(function (all) {
        var result = all[0];
        if (!result.ok) { consoleError(CH.errorText(result, "统计加载失败")); return; }
        consoleError("");
        var data = result.data, totals = data.totals || {};
        var granted = totals.granted || 0, denied = totals.denied || 0;
        var box = $("usage-totals");
        box.dataset.granted = String(granted);
        box.dataset.denied = String(denied);
        box.textContent = "共 " + (granted + denied) + " 次：已提供 " + granted + " 次，已拒绝 " + denied + " 次";
        $("usage-truncated").hidden = !data.truncated;
        $("usage-empty").hidden = granted + denied > 0;
        drawBars($("usage-matters"), data.by_matter || {}, function (code) {
          return code ? CH.nameOf(all[1], code) : "（无办理事项）";
        });
        drawBars($("usage-kinds"), data.by_kind || {}, CH.kindLabel);
        var body = CH.clear($("usage-days").tBodies[0]);
        Object.keys(data.by_day || {}).sort().reverse().forEach(function (day) {
          var counts = data.by_day[day];
          body.appendChild(el("tr", { "data-day": day }, el("td", { text: day }),
            el("td", { class: "num", text: String(counts.granted || 0) }),
            el("td", { class: "num", text: String(counts.denied || 0) })));
        });
      });
  }

  function drawBars(list, counts, label) {
    CH.clear(list);
    var keys = Object.keys(counts);
    var total = function (k) { return (counts[k].granted || 0) + (counts[k].denied || 0); };
    keys.sort(function (a, b) { return total(b) - total(a); });
    var max = Math.max.apply(null, keys.map(total).concat([1]));
    keys.forEach(function (key) {
      var granted = counts[key].granted || 0, denied = counts[key].denied || 0;
      var grantedBar = el("span", { class: "bar-granted" });
      var deniedBar = el("span", { class: "bar-denied" });
      grantedBar.style.width = (100 * granted / max) + "%";
      deniedBar.style.width = (100 * denied / max) + "%";
      list.appendChild(el("li", { class: "bar-row", "data-key": key },
        el("span", { class: "bar-label", text: label(key) }),
        el("span", { class: "bar-track", role: "img", "aria-label": "已提供 " + granted + " 次，已拒绝 " + denied + " 次" },
           grantedBar, deniedBar),
        el("span", { class: "bar-count", text: granted + " / " + denied })));
    });
  }

  /* ------------------------------------------------------------ start */
  // Each flow registers itself: { tab: id, load: function, bind: function }.
  var flows = [{ tab: "tab-usage", load: loadUsage, bind: function () {
    $("usage-form").addEventListener("submit", function (event) { event.preventDefault(); loadUsage(); });
  } }];
  CH.consoleFlow = function (flow) { flows.push(flow); };

  document.addEventListener("DOMContentLoaded", function () {
    staff.bind();
    $("sign-out").addEventListener("click", function () { staff.signOut(); });
    flows.forEach(function (flow) { if (flow.bind) flow.bind(); });
    state.tabs = CH.tabs(document.querySelector("#console-app .tabs"), function (id) {
      consoleError("");
      CH.showError($("console-ok"), "");
      flows.forEach(function (flow) { if (flow.tab === id && flow.load) flow.load(); });
    });
    var saved = staff.resume();
    if (saved) signedIn(saved);
    else { var first = $("demo-login") || $("staff-id-token"); if (first) first.focus(); }
  });
})();
