"""Benchmark the Evidence Console with 1,000,000 stored routes: server first paint and every fragment
over HTTP, first paint in Chromium, and a stored event -> the card / row changed in the open page.

Load (bounded): the reporting read model through ``bench_reporting.seed`` (BENCH_PLANS 2,000 plans x
500 routes, applied by the service's own code) and ``bench_console_sort``'s ``generate_series`` loads
of the router's route history and the acknowledgement service's route states (BENCH_ROWS, 1,000,000
each), so Routing History and Escalation Routes run at 1M rows too.

Then every service and the gateway (uvicorn on 127.0.0.1, ``tests.browser.system.console_system``)
run in this process on embedded NATS + PostgreSQL, signed in through the console's form:
1. HTTP, sequential, after BENCH_CONSOLE_WARMUP (3) unmeasured requests, BENCH_CONSOLE_REQUESTS (30)
   each (a case stops after CASE_SECONDS, shown by n): ``GET /console?view=`` of every view; for
   every table of ``TABLES`` its fragment with no filter, provider=teams, page 400 and each of its
   sorts both ways; every card group.
2. Chromium (Playwright, Debian's chromium): BENCH_CONSOLE_LOADS (20) loads of every view, the
   first byte, first-contentful-paint and domContentLoaded of each; and as baselines (no target) the
   same for the sign-in page (the console's stylesheet and scripts, no data) and a one-line page.
3. With the notifications view open: BENCH_CONSOLE_EVENTS (24) events (delivery, acknowledgement,
   escalation of plans stored first) published on JetStream ~1 s apart; a MutationObserver in the
   page stamps ``Date.now()`` when the drill cards' values change and when the history's first row
   changes; compared with the wall time of the PubAck.

Every figure is printed with its target and met / not met. Loopback only; the measuring stops at
BENCH_CONSOLE_SECONDS (480) and says what it skipped. On the shared 2-core machine the loads take
about 8 min (the route states' generate_series most of it) and the measuring about 7; the database
is about 6 GB under a temporary directory, removed at the end.
Run: ``.venv/bin/python bench/bench_console.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import bench_console_sort as sort_loads
import bench_reporting
import httpx
from harness import percentile

import cavra_acknowledgement
import cavra_router
from cavra_contracts.envelope import Envelope
from cavra_gateway.console.cards import GROUPS
from cavra_gateway.console.sessions import COOKIE
from cavra_gateway.console.tables.registry import TABLES, VIEWS
from cavra_runtime.bus import Bus
from cavra_runtime.logging import configure_logging
from cavra_runtime.migrate import migrate
from tests.browser.settings import CHROMIUM_ARGS, browser_test_settings
from tests.browser.system import console_system
from tests.support import reporting_events as ev
from tests.support.console import session_cookie
from tests.support.harness import ADMIN_TOKEN
from tests.support.servers import session_servers

REQUESTS = int(os.environ.get("BENCH_CONSOLE_REQUESTS", "30"))
WARMUP = int(os.environ.get("BENCH_CONSOLE_WARMUP", "3"))
LOADS = int(os.environ.get("BENCH_CONSOLE_LOADS", "20"))
EVENTS = int(os.environ.get("BENCH_CONSOLE_EVENTS", "24"))
SECONDS = float(os.environ.get("BENCH_CONSOLE_SECONDS", "480"))
CASE_SECONDS = 8.0
"""A case stops after this long with what it has (its n says so): one slow case must not eat the run."""
EVENT_GAP_SECONDS = 1.0
VISIBLE_WAIT_MS = 5000
"""Longest an event may take to show in the page before it counts as never shown."""
FIRST_PAINT_MS = 300.0
SSE_VISIBLE_MS = 1000.0
DEEP_PAGE = 400
BASELINES = {
    "baseline sign-in page": "{base_url}/console/sign-in",
    "baseline one-line page": "data:text/html,<!doctype html><title>x</title><p>one line</p>",
}
"""Pages whose first paint says what Chromium itself costs on this machine."""
PROVIDER = "teams"


@dataclass
class Figure:
    label: str
    values: list[float]
    target_ms: float
    errors: int = 0
    note: str = ""
    baseline: bool = False
    """A reference figure (what Chromium alone costs here): printed, not judged."""

    @property
    def met(self) -> bool:
        return bool(self.values) and percentile(self.values, 95) < self.target_ms and not self.errors

    def line(self) -> str:
        p50, p95 = percentile(self.values, 50), percentile(self.values, 95)
        worst = max(self.values, default=float("nan"))
        met = (
            "baseline"
            if self.baseline
            else f"< {self.target_ms:.0f} ms: " + ("met" if self.met else "NOT MET")
        )
        extra = f"  {self.errors} failed" if self.errors else ""
        return (
            f"  {self.label:<58} n={len(self.values):>3}  p50 {p50:7.1f}  p95 {p95:7.1f}  max {worst:7.1f} ms"
            f"  {met}{extra}{self.note}"
        )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def loaded_rows(database_url: str, label: str, sql: str) -> None:
    """One generate_series load of ``bench_console_sort`` on its own connection."""
    conn = await asyncpg.connect(database_url)
    try:
        started = time.monotonic()
        await conn.execute(sql)
        print(f"  {label}: {sort_loads.ROWS:,} rows in {time.monotonic() - started:.0f}s", flush=True)
    finally:
        await conn.close()


async def seeded_reporting(database_url: str) -> None:
    events, seconds = await bench_reporting.seed(database_url)
    print(f"  reporting: {events:,} events applied in {seconds:.0f}s", flush=True)


async def load(database_url: str) -> None:
    """The reporting read model through its applying code, and the router's and the acknowledgement
    service's tables with generate_series, all three at once (PostgreSQL runs each load in a backend
    of its own while the appliers wait on round trips)."""
    routes = bench_reporting.PLANS * bench_reporting.ROUTES_PER_PLAN
    print(f"loading {routes:,} reporting routes, {sort_loads.ROWS:,} route decisions and route states ...")
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        for package in (cavra_router, cavra_acknowledgement):
            await migrate(conn, package.SERVICE, package.MIGRATIONS)
        await asyncio.gather(
            seeded_reporting(database_url),
            loaded_rows(database_url, "route history", sort_loads.ROUTE_HISTORY_LOAD),
            loaded_rows(database_url, "route states", sort_loads.ROUTE_STATES_LOAD),
        )
        await conn.execute("VACUUM ANALYZE")
        tables = (
            "reporting.routes",
            "reporting.history_items",
            "router.route_decisions",
            "acknowledgement.routes",
        )
        counts = {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in tables}
        size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size(current_database()))")
    finally:
        await conn.close()
    print(
        "  stored: "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
        + f"; database {size}; loaded in {time.monotonic() - started:.0f}s"
    )


def http_cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(label, path, query) of every view, every table of the registry and every card group."""
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (f"page view={view}", "/console", {"view": view}) for view in VIEWS
    ]
    for name, table in TABLES.items():
        path = f"/console/fragments/tables/{name}"
        cases += [
            (f"table {name}", path, {}),
            (f"table {name} provider={PROVIDER}", path, {"provider": PROVIDER}),
            (f"table {name} page {DEEP_PAGE}", path, {f"page_{name}": DEEP_PAGE}),
        ]
        for sort in table.sorts:
            for way in (sort, f"-{sort}"):
                cases.append((f"table {name} sort={way}", path, {f"sort_{name}": way}))
    cases += [(f"cards {group}", f"/console/fragments/cards/{group}", {}) for group in GROUPS]
    return cases


async def measure_http(client: httpx.AsyncClient, deadline: float) -> tuple[list[Figure], list[str]]:
    figures: list[Figure] = []
    skipped: list[str] = []
    for label, path, params in http_cases():
        if time.monotonic() > deadline:
            skipped.append(label)
            continue
        figure = Figure(label, [], FIRST_PAINT_MS)
        stop = time.monotonic() + CASE_SECONDS
        for attempt in range(WARMUP + REQUESTS):
            started = time.perf_counter()
            response = await client.get(path, params=params)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200 or 'class="problem"' in response.text:
                figure.errors += 1
                if not figure.note:
                    figure.note = f"  (first failure: {response.status_code} {_problem(response.text)})"
            if attempt >= WARMUP:
                figure.values.append(elapsed)
                if time.monotonic() > stop:
                    break
        print(figure.line(), flush=True)
        figures.append(figure)
    return figures, skipped


def _problem(html: str) -> str:
    start = html.find('class="problem"')
    return " ".join(html[start : start + 200].split()) if start >= 0 else html[:120]


FIRST_PAINT_JS = """() => new Promise((resolve) => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const done = (paint) => resolve({fcp: paint ? paint.startTime : null,
                                   dcl: navigation ? navigation.domContentLoadedEventEnd : null,
                                   ttfb: navigation ? navigation.responseStart : null});
  const seen = performance.getEntriesByName("first-contentful-paint")[0];
  if (seen) return done(seen);
  new PerformanceObserver((list) => {
    const paint = list.getEntriesByName("first-contentful-paint")[0];
    if (paint) done(paint);  // "first-paint" may come alone first
  }).observe({type: "paint", buffered: true});
  setTimeout(() => done(null), 3000);
})"""

WATCH_JS = """() => {
  const snapshot = () => ({
    card: [...document.querySelectorAll("#cards-drills .card-value")].map((e) => e.textContent).join("|"),
    row: (document.querySelector("#table-history tbody tr") || {dataset: {}}).dataset.recordId || "",
  });
  const bench = (window.cavraBench = {base: snapshot(), seen: {}});
  bench.arm = () => { bench.base = snapshot(); bench.seen = {}; };
  const check = () => {
    const now = {wall: Date.now(), perf: performance.now()};
    const current = snapshot();
    for (const key of ["card", "row"]) {
      if (!bench.seen[key] && current[key] !== bench.base[key]) bench.seen[key] = now;
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def measure_browser(base_url: str, cookie: str, nats_url: str, deadline: float) -> list[Figure]:
    from playwright.async_api import async_playwright

    settings = browser_test_settings()
    if missing := settings.missing():
        print("  browser figures NOT measured: " + "; ".join(missing))
        return []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(settings.chromium), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 800})
            await context.add_cookies(
                [{"name": COOKIE, "value": cookie, "url": base_url, "httpOnly": True, "sameSite": "Strict"}]
            )
            figures = []
            for view in VIEWS:
                if time.monotonic() > deadline:
                    print(f"  browser first paint of {view} skipped: BENCH_CONSOLE_SECONDS reached")
                    continue
                figures += await first_paints(context, f"{base_url}/console?view={view}", f"view={view}")
            for label, url in BASELINES.items():
                figures += await first_paints(context, url.format(base_url=base_url), label, baseline=True)
            figures += await visible_events(context, f"{base_url}/console?view=notifications", nats_url)
            await context.close()
            return figures
        finally:
            await browser.close()


async def first_paints(context: Any, url: str, label: str, *, baseline: bool = False) -> list[Figure]:
    paint, loaded, answered = (
        Figure(f"chromium {what} {label}", [], FIRST_PAINT_MS, baseline=baseline)
        for what in ("first-contentful-paint", "domContentLoaded", "first byte (responseStart)")
    )
    for attempt in range(2 + LOADS):
        page = await context.new_page()
        try:
            response = await page.goto(url, wait_until="load")
            timing = await page.evaluate(FIRST_PAINT_JS)
            if attempt < 2:
                continue
            failed = response is not None and response.status != 200
            if failed or timing["fcp"] is None:
                paint.errors += 1
                paint.note = f"  (status {response and response.status}, no first-contentful-paint in 3 s)"
            else:
                paint.values.append(timing["fcp"])
            loaded.values.append(timing["dcl"] or float("nan"))
            answered.values.append(timing["ttfb"] or float("nan"))
        finally:
            await page.close()
    for figure in (answered, paint, loaded):
        print(figure.line(), flush=True)
    return [answered, paint, loaded]


def minutes_now() -> float:
    """Now in the minutes after ``ev.T0`` that the event builders take."""
    return (datetime.now(UTC) - ev.T0).total_seconds() / 60


def live_events(count: int) -> tuple[list[Envelope], list[Callable[[float], Envelope]]]:
    """Plans to store first, then per plan its delivery, an acknowledgement and an escalation, each
    built when it is published and timed then, so it is the history's newest record."""
    setup: list[Envelope] = []
    measured: list[Callable[[float], Envelope]] = []
    for n in range(max(1, count // 3)):
        planned = ev.plan(
            f"bench-live-{n}", f"gordn-bench-live-{n}", minutes_now() - 10, providers=("slack", "teams")
        )
        setup.append(ev.envelope(planned, minutes_now() - 10, "router"))
        measured += [
            lambda at, p=planned: ev.envelope(ev.delivered(p), at, "delivery"),
            lambda at, p=planned, n=n: ev.envelope(
                ev.acks(p, "acknowledged", ["slack"], at, bulk_id=f"bl{n}"), at
            ),
            lambda at, p=planned: ev.envelope(ev.escalated(p, "teams", at)[0], at, "escalation"),
        ]
    return setup, measured


async def visible_events(context: Any, url: str, nats_url: str) -> list[Figure]:
    card = Figure("event PubAck -> drill card changed in Chromium", [], SSE_VISIBLE_MS)
    row = Figure("event PubAck -> history first row changed in Chromium", [], SSE_VISIBLE_MS)
    setup, measured = live_events(EVENTS)
    page = await context.new_page()
    bus = await Bus.connect(nats_url, name="bench-console")
    try:
        await page.goto(url, wait_until="load")
        await page.wait_for_function(
            "() => window.cavraLive && window.cavraLive.state === 'live'", timeout=10_000
        )
        for envelope in setup:
            await bus.publish(envelope)
        await asyncio.sleep(3)  # the setup plans' own refreshes settle
        await page.evaluate(WATCH_JS)
        for build in measured:
            envelope = build(minutes_now())
            await page.evaluate("() => window.cavraBench.arm()")
            await bus.publish(envelope)
            stored_ms = time.time() * 1000
            with contextlib.suppress(Exception):
                await page.wait_for_function(
                    "() => window.cavraBench.seen.card && window.cavraBench.seen.row", timeout=VISIBLE_WAIT_MS
                )
            seen = await page.evaluate("() => window.cavraBench.seen")
            for figure, key in ((card, "card"), (row, "row")):
                if key in seen:
                    figure.values.append(seen[key]["wall"] - stored_ms)
                else:
                    figure.errors += 1
            await asyncio.sleep(EVENT_GAP_SECONDS)
    finally:
        await bus.close()
        await page.close()
    for figure in (card, row):
        figure.note += f"  (not shown within {VISIBLE_WAIT_MS} ms counts as failed)" if figure.errors else ""
        print(figure.line(), flush=True)
    return [card, row]


async def measure(nats_url: str, database_url: str, home: Path) -> list[Figure]:
    async with console_system(nats_url, database_url, home) as system:
        header = await session_cookie(system.base_url, ADMIN_TOKEN)
        cookie = header["Cookie"].split("=", 1)[1]
        deadline = time.monotonic() + SECONDS
        print(f"over HTTP ({system.base_url}), sequential, {WARMUP} warm-up + {REQUESTS} each:", flush=True)
        async with httpx.AsyncClient(base_url=system.base_url, headers=header, timeout=30) as client:
            figures, skipped = await measure_http(client, deadline)
        if skipped:
            print(f"  NOT measured (BENCH_CONSOLE_SECONDS reached): {', '.join(skipped)}")
        print(f"in Chromium, {LOADS} loads of each view after 2, then {EVENTS} live events:", flush=True)
        figures += await measure_browser(system.base_url, cookie, nats_url, deadline)
        return figures


async def main() -> None:
    configure_logging("bench", "warning")
    started = time.monotonic()
    print(f"load average at the start {load_average()}")
    root = Path(tempfile.mkdtemp(prefix="cavra-bench-console-"))
    try:
        with session_servers(root) as servers:
            await load(servers.database_url)
            home = root / "home"
            home.mkdir()
            figures = await measure(servers.nats_url, servers.database_url, home)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nconsole benchmark ({time.monotonic() - started:.0f}s, load average now {load_average()}):")
    for figure in figures:
        print(figure.line())
    judged = [figure for figure in figures if not figure.baseline]
    print(f"{sum(figure.met for figure in judged)} of {len(judged)} figures met their target")


if __name__ == "__main__":
    asyncio.run(main())
