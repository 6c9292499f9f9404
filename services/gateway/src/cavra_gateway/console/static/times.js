/*
 * CAVRA Evidence Console: how a time reads — UTC ("2026-12-01 16:21:26 UTC"), the viewer's zone
 * ("2026-12-01 17:21:26 CET") and its age ("5 min ago"). Pure functions, no DOM: window.cavraTimes in
 * the page (console.js renders every <time datetime> with them), module.exports under node (unit tests).
 */
(function (exports) {
  "use strict";

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  /* "2026-12-01 16:21:26 UTC" */
  function utcText(date) {
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) +
      " " + pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds()) +
      " UTC";
  }

  /* The zone's short name in the viewer's locale ("CET", "EST", else "GMT+1"). */
  function zoneName(date, locale) {
    try {
      var parts = new Intl.DateTimeFormat(locale, { timeZoneName: "short" }).formatToParts(date);
      for (var i = 0; i < parts.length; i += 1) {
        if (parts[i].type === "timeZoneName") return parts[i].value;
      }
    } catch (error) {
      /* an unknown locale: fall through to the offset */
    }
    var offset = -date.getTimezoneOffset();
    var sign = offset < 0 ? "-" : "+";
    offset = Math.abs(offset);
    return "UTC" + sign + pad(Math.floor(offset / 60)) + ":" + pad(offset % 60);
  }

  /* "2026-12-01 17:21:26 CET": the viewer's time zone (the browser's local time). */
  function localText(date, locale) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      " " + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      " " + zoneName(date, locale);
  }

  /* "just now", "5 min ago", "3 h ago", "2 d ago", "4 mo ago", "1 y ago"; "in 5 min" ahead. */
  function ageText(date, nowMs) {
    var seconds = Math.round((nowMs - date.getTime()) / 1000);
    var ahead = seconds < 0;
    seconds = Math.abs(seconds);
    var text;
    if (seconds < 60) return ahead ? "in under a minute" : "just now";
    if (seconds < 3600) text = Math.floor(seconds / 60) + " min";
    else if (seconds < 86400) text = Math.floor(seconds / 3600) + " h";
    else if (seconds < 86400 * 60) text = Math.floor(seconds / 86400) + " d";
    else if (seconds < 86400 * 730) text = Math.floor(seconds / (86400 * 30)) + " mo";
    else text = Math.floor(seconds / (86400 * 365)) + " y";
    return ahead ? "in " + text : text + " ago";
  }

  function parseTime(iso) {
    if (typeof iso !== "string" || iso.length > 64) return null;
    var date = new Date(iso);
    return isNaN(date.getTime()) ? null : date;
  }

  exports.utcText = utcText;
  exports.zoneName = zoneName;
  exports.localText = localText;
  exports.ageText = ageText;
  exports.parseTime = parseTime;
})(typeof module === "object" && module.exports ? module.exports : (window.cavraTimes = {}));
