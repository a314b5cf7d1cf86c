/* Runs before the page is drawn, so the large-font mode (适老化) never flashes. */
(function () {
  try {
    if (window.localStorage.getItem("certhub.largeFont") === "1") {
      document.documentElement.classList.add("large");
    }
  } catch (e) { /* storage may be disabled; the default size is used */ }
})();
