// CAVRA Evidence Console: the page's small behaviours. Business rules stay on the server.
(function () {
  "use strict";
  var root = document.documentElement;
  var theme = localStorage.getItem("cavra.theme") ||
    (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  root.setAttribute("data-theme", theme);

  function refreshAll() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      if (window.htmx) { window.htmx.trigger(el, "cavra:refresh"); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var themeButton = document.getElementById("theme");
    if (themeButton) {
      themeButton.setAttribute("aria-pressed", String(theme === "dark"));
      themeButton.addEventListener("click", function () {
        theme = theme === "dark" ? "light" : "dark";
        root.setAttribute("data-theme", theme);
        localStorage.setItem("cavra.theme", theme);
        themeButton.setAttribute("aria-pressed", String(theme === "dark"));
      });
    }
    var refresh = document.getElementById("refresh");
    if (refresh) { refresh.addEventListener("click", refreshAll); }
  });
  window.cavraConsole = { refreshAll: refreshAll };
})();
