/* Staff sign-in for the counter and audit pages: a staff session from the
   province's identity provider (an ID token exchanged at /api/v1/staff/session)
   or, in demo mode, from the demo's staff list. No department credential is
   ever typed into, or held by, a page.

   The session suits a counter shift: its token is refreshed shortly before
   it expires while the person works (a key or a click within the token's
   lifetime), never past the end of the shift the server signs into it; an
   idle screen lets it lapse. Signing out ends the session on the server,
   empties this tab's sessionStorage and drops every bit of the screen. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$;
  // Refresh this long before expiry (at most a third of the token's life).
  var REFRESH_AHEAD_MS = 60 * 1000;

  var ROLE_LABELS = { clerk: CH.t("staff.counter_clerk"), officer: CH.t("staff.department_officer"), auditor: CH.t("staff.auditor") };
  // Why a sign-in at the identity provider came back without a session (/web/staff/callback).
  var LOGIN_ERRORS = {
    login_refused: CH.t("staff.the_identity_platform_could_not_confirm"),
    login_expired: CH.t("staff.the_sign_in_timed_out_or"),
    login_unavailable: CH.t("staff.sign_in_through_the_identity_platform"),
    identity_provider_unavailable: CH.t("staff.cannot_reach_the_identity_platform_right"),
  };

  CH.roleLabels = function (roles) {
    return (roles || []).map(function (role) { return ROLE_LABELS[role] || role; }).join(CH.t("staff.list_comma"));
  };

  /* options: name (sessionStorage key), scope (what the page needs),
     onSignedIn(saved), onSignedOut() (drop the page's own state). */
  CH.staffSession = function (options) {
    var session = { saved: null, timer: null, activeSince: 0 };

    function remember(data) {
      var staff = data.staff || {};
      var saved = CH.saveToken(options.name, data.session_token, data.expires_in, {
        staffId: staff.staff_id, name: staff.name, department: staff.department_code, roles: staff.roles || [],
        scopes: staff.scopes || [], shiftEndsAt: staff.shift_ends_at, issuedAt: Date.now(),
      });
      session.saved = saved;
      schedule();
      return saved;
    }

    function schedule() {
      window.clearTimeout(session.timer);
      var saved = session.saved;
      if (!saved) return;
      var life = saved.expiresAt - saved.issuedAt;
      var ahead = Math.min(REFRESH_AHEAD_MS, life / 3);
      session.timer = window.setTimeout(refresh, Math.max(0, saved.expiresAt - ahead - Date.now()));
    }

    function refresh() {
      var saved = session.saved;
      if (!saved) return;
      // Only while someone works here (a key or a click within a token's lifetime): an unattended screen lapses.
      if (Date.now() - session.activeSince > saved.expiresAt - saved.issuedAt) {
        session.timer = window.setTimeout(function () { signOut(CH.t("staff.signed_out_after_a_period_of")); },
          Math.max(0, saved.expiresAt - Date.now()));
        return;
      }
      CH.api("/api/v1/staff/session/refresh", { method: "POST", token: saved.token }).then(function (result) {
        if (result.ok && result.data) { remember(result.data); document.body.dataset.staffRefreshed = String(Date.now()); }
        else if (result.status === 401) signOut(CH.t("staff.this_shifts_sign_in_has_ended"));
        else session.timer = window.setTimeout(refresh, 10 * 1000);  // a fault on the way: try again soon
      });
    }

    function onAnswer(result) {
      if (!result.ok) {
        CH.showError($("signin-error"), result.status === 401 || result.status === 422
          ? CH.t("staff.the_sign_in_details_are_wrong") : CH.errorText(result, CH.t("staff.sign_in_failed")));
        return;
      }
      var scopes = (result.data.staff && result.data.staff.scopes) || [];
      if (options.scope && scopes.indexOf(options.scope) < 0) {
        // Signed in, but not for this page: end that session rather than keep it.
        CH.api("/api/v1/staff/session", { method: "DELETE", token: result.data.session_token });
        CH.showError($("signin-error"), CH.t("staff.your_role_does_not_give_access"));
        return;
      }
      CH.showError($("signin-error"), "");
      session.activeSince = Date.now();
      options.onSignedIn(remember(result.data));
    }

    function signOut(message) {
      window.clearTimeout(session.timer);
      var saved = session.saved;
      session.saved = null;
      options.onSignedOut();
      // Nothing of the shift stays in this tab: tokens, the chosen matter, anything else.
      try { window.sessionStorage.clear(); } catch (e) { /* ignore */ }
      if (message) { try { window.sessionStorage.setItem("certhub.signedOutBecause", message); } catch (e) { /* ignore */ } }
      var reload = function () { window.location.reload(); };
      if (saved) {
        CH.api("/api/v1/staff/session", { method: "DELETE", token: saved.token }).then(reload, reload);
      } else reload();
    }

    function bind() {
      var oidc = $("staff-oidc-login");
      if (oidc) {
        oidc.addEventListener("submit", function (event) {
          event.preventDefault();
          var idToken = $("staff-id-token").value.trim();
          if (!idToken) { CH.showError($("signin-error"), CH.t("staff.please_paste_the_id_token")); return; }
          CH.api("/api/v1/staff/session", { body: { id_token: idToken } }).then(function (result) {
            $("staff-id-token").value = "";
            onAnswer(result);
          });
        });
      }
      var demo = $("demo-login");
      if (demo) {
        demo.addEventListener("click", function () {
          CH.api("/web/api/demo/staff-session", { body: { staff_id: demo.dataset.staffId } }).then(onAnswer);
        });
      }
      ["keydown", "pointerdown"].forEach(function (kind) {
        document.addEventListener(kind, function () { session.activeSince = Date.now(); }, true);
      });
      var why = null;
      try { why = window.sessionStorage.getItem("certhub.signedOutBecause"); window.sessionStorage.removeItem("certhub.signedOutBecause"); } catch (e) { /* ignore */ }
      if (why) CH.showError($("signin-error"), why);
    }

    // Back from the identity provider: the session token is in the fragment (never sent to a
    // server); it moves to sessionStorage and leaves the address bar and history at once.
    function fromProvider() {
      var hash = window.location.hash.replace(/^#/, "");
      if (!hash) return false;
      var params = new URLSearchParams(hash);
      var token = params.get("staff_session"), failed = params.get("staff_error");
      if (!token && !failed) return false;
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      if (failed) { CH.showError($("signin-error"), LOGIN_ERRORS[failed] || CH.t("staff.sign_in_failed_please_try_again")); return true; }
      var expiresIn = parseInt(params.get("expires_in"), 10) || 300;
      CH.api("/api/v1/staff/me", { token: token }).then(function (result) {
        onAnswer(result.ok ? { ok: true, status: 200, data: { session_token: token, expires_in: expiresIn, staff: result.data } }
                           : result);
      });
      return true;
    }

    function resume() {
      if (fromProvider()) return null;
      var saved = CH.loadToken(options.name);
      if (!saved || !saved.staffId) { CH.dropToken(options.name); return null; }
      session.saved = saved;
      session.activeSince = Date.now();  // a reload is someone at the screen
      schedule();
      return saved;
    }

    return {
      bind: bind,
      resume: resume,
      signOut: signOut,
      token: function () { return session.saved && session.saved.token; },
      // "吴*桐（工号 …）　综窗人员　福州市公安局" into `target`: the department's name once the catalog answers.
      describe: function (target, prefix, saved) {
        var person = prefix + (saved.name || "") + CH.t("staff.staff_id") + saved.staffId + CH.t("staff.staff_id_close") + CH.roleLabels(saved.roles) + CH.t("staff.spacer");
        target.textContent = person + saved.department;
        CH.catalog("departments").then(function (departments) {
          if (session.saved === saved && departments[saved.department]) {
            target.textContent = person + departments[saved.department].name;
          }
        });
      },
    };
  };
})();
