/* 用证公开统计: the public usage statistics (no sign-in), drawn from
   /api/v1/public/usage-statistics. Counts of 1 to 4 arrive as "<5" and are
   shown so. */
(function () {
  "use strict";
  var CH = window.certhub;
  var $ = CH.$, el = CH.el;

  var latest = 0;

  function count(value) { return value === undefined || value === null ? "0" : String(value); }

  function load() {
    var days = Number($("p-days").value);
    var last = CH.shanghaiDay(0), first = CH.shanghaiDay(1 - days);
    var url = "/api/v1/public/usage-statistics?first_day=" + first + "&last_day=" + last;
    $("json-link").setAttribute("href", url);
    // Only the period asked for last is drawn, whichever answer comes last.
    var asked = latest = latest + 1;
    Promise.all([CH.api(url), CH.catalog("departments"), CH.catalog("matters")]).then(function (all) {
      var result = all[0];
      if (asked !== latest) return;
      if (!result.ok) { CH.showError($("stats-error"), CH.errorText(result, CH.t("statistics.could_not_load_the_statistics"))); return; }
      CH.showError($("stats-error"), "");
      draw(result.data, all[1], all[2]);
    });
  }

  function draw(stats, departments, matters) {
    $("stats-period").textContent = CH.t("statistics.period") + stats.first_day + CH.t("statistics.to") + stats.last_day + CH.t("statistics.beijing_time") +
      (stats.truncated ? CH.t("statistics.too_many_records_only_the_first") : "");
    var totals = CH.clear($("totals"));
    [[CH.t("statistics.department_use_provided"), stats.totals.granted], [CH.t("statistics.department_use_refused"), stats.totals.denied],
     [CH.t("statistics.holders_viewing_their_own_licences"), stats.totals.holder_views]].forEach(function (pair) {
      totals.appendChild(el("div", null, el("dt", { text: pair[0] }), el("dd", { text: count(pair[1]) })));
    });
    var byDay = {};
    stats.by_day.forEach(function (row) { byDay[row.day] = row; });
    CH.dayChart($("public-day-chart"), stats.by_day.map(function (row) { return row.day; }), byDay);

    fill($("pairs-table"), stats.by_department_pair, function (row) {
      return [CH.nameOf(departments, row.user), row.provider ? CH.nameOf(departments, row.provider) : CH.t("statistics.undetermined"),
              count(row.granted), count(row.denied)];
    });
    fill($("matters-table"), stats.by_matter, function (row) {
      return [row.matter ? CH.nameOf(matters, row.matter) : CH.t("statistics.no_matter_layout_downloads_and_the"), count(row.granted), count(row.denied)];
    });
    fill($("reasons-table"), stats.refusals_by_reason, function (row) {
      return [CH.refusalLabel(row.reason), count(row.count)];
    });
    $("reasons-empty").hidden = stats.refusals_by_reason.length > 0;
  }

  function fill(table, rows, cells) {
    var body = CH.clear(table.tBodies[0]);
    rows.forEach(function (row) {
      var values = cells(row);
      body.appendChild(el.apply(null, ["tr", null].concat(values.map(function (value, i) {
        return el("td", { class: i >= values.length - (table.id === "reasons-table" ? 1 : 2) ? "num" : null, text: value });
      }))));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("period-form").addEventListener("submit", function (event) { event.preventDefault(); load(); });
    load();
  });
})();
