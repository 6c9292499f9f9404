/*
 * CAVRA Evidence Console: the page's behaviours for people. Business rules stay on the server.
 *
 * Owns: the theme (#theme, following prefers-color-scheme until chosen), times (UTC by default, the
 * viewer's zone with #time-zone or `t`, relative ages, both zones on hover), keyboard shortcuts (the
 * SHORTCUTS table; the help dialog #help lists them), the current row and the row selection
 * (#selected-records, [data-selected-count]), and the refresh wiring: `cavra:changed` (sent by action
 * answers through HX-Trigger, detail {topics}) becomes `cavra:refresh` on every [data-live~=topic].
 * Test hooks: window.cavraConsole, and html[data-time-mode] / html[data-theme].
 *
 * Deferred (after times.js); theme.js has already applied a chosen theme before the first paint.
 * Everything that needs the body waits for DOMContentLoaded. No inline scripts or styles.
 */
(function () {
  "use strict";

  var AGE_REFRESH_MS = 30000;
  var THEME_KEY = "cavra.theme";
  var TIME_KEY = "cavra.timeMode";
  var ROW_SELECTOR = "table.rows tbody tr[data-record-id]";
  var SECTION_SELECTOR = "section.table-section";

  /* Every key the console answers, and what it does; help.html lists each (a unit test checks). */
  var SHORTCUTS = {
    "j": "next row",
    "k": "previous row",
    "x": "select the current row",
    "a": "acknowledge the current route",
    "Enter": "details of the current row",
    "/": "go to the filters",
    "t": "switch UTC / local time",
    "?": "keyboard help",
    "Escape": "close the help, leave a field"
  };

  var times = window.cavraTimes;
  var utcText = times.utcText, localText = times.localText, zoneName = times.zoneName;
  var ageText = times.ageText, parseTime = times.parseTime;

  var root = document.documentElement;

  function stored(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (error) {
      return null; /* storage disabled: the defaults hold */
    }
  }

  function store(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch (error) {
      /* storage disabled: the choice lasts for this page only */
    }
  }

  /* ---- theme ---------------------------------------------------------------------------------- */
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var chosenTheme = stored(THEME_KEY);
  if (chosenTheme !== "dark" && chosenTheme !== "light") chosenTheme = null;
  if (chosenTheme) root.setAttribute("data-theme", chosenTheme);

  function effectiveTheme() {
    return chosenTheme || (darkQuery && darkQuery.matches ? "dark" : "light");
  }

  function showTheme() {
    var button = document.getElementById("theme");
    if (!button) return;
    var dark = effectiveTheme() === "dark";
    button.setAttribute("aria-pressed", String(dark));
    button.textContent = "Dark theme";
    button.title = (dark ? "Switch to the light theme" : "Switch to the dark theme") +
      (chosenTheme ? "" : " (now following your system setting)");
  }

  function toggleTheme() {
    chosenTheme = effectiveTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", chosenTheme);
    store(THEME_KEY, chosenTheme);
    showTheme();
  }

  /* ---- times ---------------------------------------------------------------------------------- */
  var timeMode = stored(TIME_KEY) === "local" ? "local" : "utc";
  root.setAttribute("data-time-mode", timeMode);

  function renderTime(element, nowMs) {
    var date = parseTime(element.getAttribute("datetime"));
    if (!date) return;
    var utc = utcText(date);
    var local = localText(date);
    var age = document.createElement("span");
    age.className = "age";
    age.textContent = ageText(date, nowMs);
    var shown = timeMode === "local" ? local : utc;
    var split = shown.indexOf(" ");
    element.textContent = "";
    /* date and clock may sit on two lines in a narrow column, each whole */
    [["date", shown.slice(0, split)], ["clock", shown.slice(split + 1)]].forEach(function (part, i) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      if (i) element.appendChild(document.createTextNode(" "));
      element.appendChild(span);
    });
    element.appendChild(document.createTextNode(" "));
    element.appendChild(age);
    element.title = utc + "\n" + local + " (your time zone)";
  }

  function renderTimes(scope) {
    var now = Date.now();
    (scope || document).querySelectorAll("time[datetime]").forEach(function (element) {
      renderTime(element, now);
    });
  }

  function showTimeMode() {
    var button = document.getElementById("time-zone");
    if (!button) return;
    var local = timeMode === "local";
    button.setAttribute("aria-pressed", String(local));
    button.textContent = local ? "Local time (" + zoneName(new Date()) + ")" : "UTC";
    button.title = local ? "Times are in your time zone: show UTC (t)" : "Times are in UTC: show your time zone (t)";
  }

  function toggleTimeMode() {
    timeMode = timeMode === "local" ? "utc" : "local";
    root.setAttribute("data-time-mode", timeMode);
    store(TIME_KEY, timeMode);
    showTimeMode();
    renderTimes();
  }

  /* ---- current row and selection -------------------------------------------------------------- */
  var current = { section: "", record: "" };
  var selection = { section: "", records: [] };

  function sectionOf(element) {
    return element && element.closest ? element.closest(SECTION_SELECTOR) : null;
  }

  function rowsOf(section) {
    return section ? Array.prototype.slice.call(section.querySelectorAll(ROW_SELECTOR)) : [];
  }

  function findRow(sectionId, recordId) {
    var section = sectionId ? document.getElementById(sectionId) : null;
    var rows = rowsOf(section);
    for (var i = 0; i < rows.length; i += 1) {
      if (rows[i].getAttribute("data-record-id") === recordId) return rows[i];
    }
    return null;
  }

  function currentRow() {
    return current.section ? findRow(current.section, current.record) : null;
  }

  /* The table the keys act on: the one holding focus, else the current row's, else the first. */
  function activeSection() {
    var focused = sectionOf(document.activeElement);
    if (focused && rowsOf(focused).length) return focused;
    var row = currentRow();
    if (row) return sectionOf(row);
    var sections = document.querySelectorAll(SECTION_SELECTOR);
    for (var i = 0; i < sections.length; i += 1) {
      if (rowsOf(sections[i]).length) return sections[i];
    }
    return null;
  }

  function markCurrent(row, focus) {
    document.querySelectorAll("tr.current").forEach(function (other) {
      if (other !== row) {
        other.classList.remove("current");
        other.removeAttribute("aria-current");
      }
    });
    if (!row) {
      current = { section: "", record: "" };
      return;
    }
    var section = sectionOf(row);
    current = { section: section ? section.id : "", record: row.getAttribute("data-record-id") || "" };
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var section = activeSection();
    var rows = rowsOf(section);
    if (!rows.length) return;
    var at = rows.indexOf(currentRow());
    var next = at < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(Math.max(at + step, 0), rows.length - 1);
    markCurrent(rows[next], true);
  }

  function showSelection() {
    var wanted = {};
    selection.records.forEach(function (id) { wanted[id] = true; });
    document.querySelectorAll(ROW_SELECTOR).forEach(function (row) {
      var section = sectionOf(row);
      var on = section !== null && section.id === selection.section &&
        wanted[row.getAttribute("data-record-id")] === true;
      row.classList.toggle("selected", on);
      if (on) row.setAttribute("aria-selected", "true");
      else row.removeAttribute("aria-selected");
    });
    var input = document.getElementById("selected-records");
    if (input) {
      input.value = selection.records.join(",");
      var table = selection.section ? document.getElementById(selection.section) : null;
      input.setAttribute("data-table", table ? table.getAttribute("data-table") || "" : "");
    }
    document.querySelectorAll("[data-selected-count]").forEach(function (element) {
      element.textContent = String(selection.records.length);
    });
  }

  /* x: one table's rows at a time, so a bulk action never mixes tables. */
  function toggleSelected(row) {
    if (!row) return;
    var section = sectionOf(row);
    var id = row.getAttribute("data-record-id");
    if (!section || !id) return;
    if (selection.section !== section.id) selection = { section: section.id, records: [] };
    var at = selection.records.indexOf(id);
    if (at >= 0) selection.records.splice(at, 1);
    else selection.records.push(id);
    if (!selection.records.length) selection.section = "";
    showSelection();
  }

  /* After a swap: keep the current row and the selection where their record ids are still shown. */
  function restoreRows() {
    var row = current.section ? findRow(current.section, current.record) : null;
    /* htmx refocuses the element of the old one's id, but a row's id is its position: another record */
    var focused = document.activeElement;
    var rowHadFocus = focused === null || focused === document.body ||
      (focused.matches && focused.matches(ROW_SELECTOR));
    markCurrent(row, false);
    if (row && rowHadFocus && focused !== row) row.focus({ preventScroll: true });
    var section = selection.section ? document.getElementById(selection.section) : null;
    var shown = {};
    rowsOf(section).forEach(function (each) { shown[each.getAttribute("data-record-id")] = true; });
    selection.records = selection.records.filter(function (id) { return shown[id] === true; });
    if (!selection.records.length) selection.section = "";
    showSelection();
  }

  function clickIn(row, selector) {
    var target = row ? row.querySelector(selector) : null;
    if (target && !target.disabled) target.click();
    return target !== null;
  }

  /* ---- refresh wiring ------------------------------------------------------------------------- */
  function refresh(element) {
    if (window.htmx) window.htmx.trigger(element, "cavra:refresh");
    else element.dispatchEvent(new CustomEvent("cavra:refresh"));
  }

  function refreshTopics(topics) {
    var done = [];
    topics.forEach(function (topic) {
      if (typeof topic !== "string" || !/^[a-z_]{1,32}$/.test(topic)) return;
      document.querySelectorAll('[data-live~="' + topic + '"]').forEach(function (element) {
        if (done.indexOf(element) < 0) {
          done.push(element);
          refresh(element);
        }
      });
    });
  }

  function refreshAll() {
    document.querySelectorAll("[data-live]").forEach(refresh);
  }

  /* ---- keyboard ------------------------------------------------------------------------------- */
  function typing(target) {
    if (!target || !target.closest) return false;
    return target.isContentEditable || target.closest("input, select, textarea, [contenteditable]") !== null;
  }

  function openHelp() {
    var help = document.getElementById("help");
    if (help && !help.open && typeof help.showModal === "function") help.showModal();
  }

  var actions = {
    "j": function () { move(1); },
    "k": function () { move(-1); },
    "x": function () {
      if (!currentRow()) move(1);
      toggleSelected(currentRow());
    },
    "a": function () { clickIn(currentRow(), '[data-action="route_ack"]'); },
    "Enter": function () { clickIn(currentRow(), '[data-role="details"]'); },
    "/": function () {
      var owner = document.getElementById("f-owner");
      if (owner) {
        owner.focus();
        owner.select();
      }
    },
    "t": toggleTimeMode,
    "?": openHelp,
    "Escape": function () {
      var help = document.getElementById("help");
      if (help && help.open) help.close();
    }
  };

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    var key = event.key;
    if (!Object.prototype.hasOwnProperty.call(actions, key)) return;
    var target = event.target;
    if (typing(target)) {
      if (key === "Escape") {
        target.blur();
        var row = currentRow();
        if (row) row.focus({ preventScroll: true });
      }
      return;
    }
    var help = document.getElementById("help");
    if (help && help.open) {
      if (key === "?" || key === "Escape") {
        event.preventDefault();
        help.close();
      }
      return;
    }
    /* Enter on a focused button or link keeps its own meaning. */
    if (key === "Enter" && target !== document.body && !(target.matches && target.matches("tr[data-record-id]"))) {
      return;
    }
    event.preventDefault();
    actions[key]();
  }

  /* ---- wiring --------------------------------------------------------------------------------- */
  var pending = false;
  function afterSwap() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      renderTimes();
      restoreRows();
    });
  }

  var busy = 0;
  function showBusy(step) {
    busy = Math.max(busy + step, 0);
    document.body.classList.toggle("busy", busy > 0);
  }

  if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", showTheme);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".js-only[hidden]").forEach(function (element) { element.hidden = false; });
    showTheme();
    showTimeMode();
    renderTimes();
    showSelection();
    var on = function (id, handler) {
      var element = document.getElementById(id);
      if (element) element.addEventListener("click", handler);
    };
    on("theme", toggleTheme);
    on("time-zone", toggleTimeMode);
    on("help-open", openHelp);
    on("refresh", refreshAll);
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", function (event) {
      var row = event.target.closest ? event.target.closest(ROW_SELECTOR) : null;
      if (row) markCurrent(row, false);
    });
    document.body.addEventListener("cavra:changed", function (event) {
      var topics = event.detail && Array.isArray(event.detail.topics) ? event.detail.topics : [];
      refreshTopics(topics.slice(0, 16));
    });
    ["htmx:afterSwap", "htmx:load", "htmx:afterSettle"].forEach(function (name) {
      document.body.addEventListener(name, afterSwap);
    });
    document.body.addEventListener("htmx:beforeRequest", function () { showBusy(1); });
    document.body.addEventListener("htmx:afterRequest", function () { showBusy(-1); });
    window.setInterval(function () { renderTimes(); }, AGE_REFRESH_MS);
  });

  window.cavraConsole = {
    currentRow: currentRow,
    selected: function () { return selection.records.slice(); },
    refreshAll: refreshAll,
    refreshTopics: refreshTopics,
    renderTimes: renderTimes,
    shortcuts: SHORTCUTS
  };
  Object.defineProperty(window.cavraConsole, "timeMode", { get: function () { return timeMode; } });
  Object.defineProperty(window.cavraConsole, "theme", { get: effectiveTheme });
})();
