/*
 * The one script the console runs before its first paint (synchronously, from <head>): the theme and
 * the time mode the viewer chose, so the page never flashes the other theme. Everything else
 * (console.js, times.js, htmx, live.js) is deferred and does not hold the first paint.
 */
(function () {
  "use strict";
  var root = document.documentElement;
  try {
    var theme = window.localStorage.getItem("cavra.theme");
    if (theme === "dark" || theme === "light") root.setAttribute("data-theme", theme);
    var timeMode = window.localStorage.getItem("cavra.timeMode");
    if (timeMode === "utc" || timeMode === "local") root.setAttribute("data-time-mode", timeMode);
  } catch (error) {
    /* storage refused (private mode): the defaults apply */
  }
})();
