/*
 * Console live updates: the server-sent events of GET /console/events re-render only what changed.
 *
 * A `change` message ({topic, kind, record_ids, resync, stored_at, seq}) sends `cavra:refresh` to every
 * row whose data-record-id is named, and to every section whose data-live names the topic unless rows
 * of it were named (a section with data-live-mode="log" always re-renders whole: its news is a new
 * row); with resync, to the sections only. htmx re-fetches each. Refreshes of one element within DEBOUNCE_MS
 * become one. When the stream drops, #live-state says so and every [data-live] section is refreshed
 * every POLL seconds until the stream is back. No build step; htmx is window.htmx.
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var EVENTS_URL = "/console/events";
  var stateBox = document.getElementById("live-state");
  var pollSeconds = Number((stateBox && stateBox.dataset.pollSeconds) || 10);
  var live = (window.cavraLive = { state: "connecting", lastEventAt: null, changes: 0, lastChange: null });
  var waiting = new Map();
  var source = null;
  var pollTimer = null;
  var lostOnce = false;

  function refresh(element) {
    if (waiting.has(element)) return;
    waiting.set(
      element,
      setTimeout(function () {
        waiting.delete(element);
        if (element.isConnected && window.htmx) window.htmx.trigger(element, "cavra:refresh");
      }, DEBOUNCE_MS)
    );
  }

  function sectionWaiting(element) {
    var section = element.parentElement && element.parentElement.closest("[data-live]");
    return section !== null && waiting.has(section);
  }

  function refreshAllSections() {
    document.querySelectorAll("[data-live]").forEach(refresh);
  }

  function show(state) {
    live.state = state;
    if (!stateBox) stateBox = document.getElementById("live-state");
    if (!stateBox) return;
    stateBox.dataset.state = state;
    if (state === "live") stateBox.textContent = "Live";
    else if (state === "polling")
      stateBox.textContent = "Live updates lost \u2014 refreshing every " + pollSeconds + " s";
    else stateBox.textContent = "Connecting\u2026";
  }

  function onChange(event) {
    var change;
    try {
      change = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!change || typeof change.topic !== "string") return;
    live.lastEventAt = Date.now();
    live.changes += 1;
    live.lastChange = change;
    // Rows named by the change re-render in place; a section re-renders whole only when none of its
    // rows was named (a new record), on a resync, or when it is a log (new records come first).
    var renderedInPlace = new Set();
    if (!change.resync && Array.isArray(change.record_ids)) {
      change.record_ids.forEach(function (id) {
        if (typeof id !== "string") return;
        document.querySelectorAll('[data-record-id="' + CSS.escape(id) + '"]').forEach(function (row) {
          var section = row.closest("[data-live]");
          if (section !== null && section.dataset.liveMode === "log") return;
          if (!sectionWaiting(row)) refresh(row);
          if (section !== null) renderedInPlace.add(section);
        });
      });
    }
    document.querySelectorAll('[data-live~="' + CSS.escape(change.topic) + '"]').forEach(function (section) {
      if (!renderedInPlace.has(section)) refresh(section);
    });
  }

  function startPolling() {
    show("polling");
    lostOnce = true;
    if (pollTimer !== null) return;
    pollTimer = setInterval(function () {
      refreshAllSections();
      // A closed EventSource (a 503 at the client limit, a 401) does not reconnect by itself.
      if (source === null || source.readyState === EventSource.CLOSED) connect();
    }, pollSeconds * 1000);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    if (source !== null) source.close();
    if (typeof EventSource === "undefined") {
      startPolling();
      return;
    }
    source = new EventSource(EVENTS_URL);
    source.addEventListener("open", function () {
      stopPolling();
      show("live");
      // Changes made while the stream was down were not pushed: catch up once.
      if (lostOnce) refreshAllSections();
    });
    source.addEventListener("change", onChange);
    source.addEventListener("error", startPolling);
  }

  window.addEventListener("pagehide", function () {
    if (source !== null) source.close();
  });
  show("connecting");
  connect();
})();
