"""The console's templates, stylesheet and script as people meet them, checked without a server: the
templates are rendered with the console's own Jinja environment and a made-up context. No inline
script or style anywhere (the CSP forbids them), every ``<time>`` carries its ISO ``datetime``, every
field has a label, the help dialog lists exactly the keys console.js answers, both themes keep WCAG AA
contrast, and times.js's time and age formatting (run under node when it is installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from cavra_contracts.actors import ActorV1
from cavra_gateway.auth.permissions import permissions_of
from cavra_gateway.console.filters import (
    CATEGORIES,
    KINDS,
    PROVIDERS,
    SOURCES,
    STATES,
    ConsoleFilters,
    Paging,
)
from cavra_gateway.console.render import STATIC, TEMPLATES, render
from cavra_gateway.console.tables.base import Cell, Row, TablePage
from cavra_gateway.console.tables.registry import TABLES

CONSOLE_TEMPLATES = sorted((TEMPLATES / "console").glob("*.html"))
CONSOLE_JS = STATIC / "console.js"
TIMES_JS = STATIC / "times.js"
CONSOLE_CSS = STATIC / "console.css"
CREATED = "2026-12-01T16:21:26.123456+00:00"


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


class Collected(HTMLParser):
    """Every element with its attributes, the text inside each <time>/<label>/<script>, and labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in ("input", "meta", "link", "br", "img", "hr", "col", "source"):
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data

    def all(self, tag: str) -> list[Element]:
        return [element for element in self.elements if element.tag == tag]

    def by_id(self, identifier: str) -> Element:
        found = [element for element in self.elements if element.attrs.get("id") == identifier]
        assert len(found) == 1, f"expected one element #{identifier}, found {len(found)}"
        return found[0]


def parsed(html: str) -> Collected:
    collected = Collected()
    collected.feed(html)
    return collected


def context(role: str = "operator", **extra: Any) -> dict[str, Any]:
    actor = ActorV1(actor="release-manager", role=role, method="api_token")  # type: ignore[arg-type]
    filters = ConsoleFilters.from_query({"provider": "slack"})
    return {
        "actor": actor,
        "permissions": permissions_of(actor.role),
        "csrf": "csrf-token-of-the-session",
        "filters": filters,
        "view": "notifications",
        "choices": {
            "provider": PROVIDERS,
            "state": STATES,
            "kind": KINDS,
            "source": SOURCES,
            "action": ("deliver", "suppress"),
            "category": CATEGORIES,
        },
        "demo": False,
        "query": {"view": "notifications", "provider": "slack"},
        **extra,
    }


def history_page() -> str:
    table = TABLES["history"]
    rows = [
        Row(
            record_id=f"gordn-{n:016x}",
            label=f"gordn-{n:016x}",
            record={"item_id": f"gordn-{n:016x}", "created_at": CREATED},
            cells={
                "record": Cell(text=f"gordn-{n:016x}", mono=True),
                "kind": Cell(text="plan"),
                "provider": Cell(text="slack"),
                "status": Cell(text="outstanding", tone="attention"),
                "schedule": Cell(text="go_backend_python_fallback_monthly", mono=True),
                "created": Cell(time=CREATED),
            },
        )
        for n in range(3)
    ]
    result = TablePage(rows, total=3, has_more=False)
    return render(
        "console/console.html",
        **context(),
        card_groups=[],
        tables=[(table, Paging(), result)],
    )


def sign_in_page(error: str = "") -> str:
    return render(
        "console/sign_in.html",
        next_url="/console",
        form_token="form-token",
        error=error,
        oidc=True,
        demo=False,
    )


def rendered_pages() -> dict[str, str]:
    return {
        "console": history_page(),
        "sign_in": sign_in_page(),
        "sign_in_error": sign_in_page("401: unknown API token"),
        "problem_page": render(
            "console/problem_page.html",
            status=422,
            message="invalid filter",
            problems=[{"field": "owner", "message": "too long"}],
            demo=False,
        ),  # fmt: skip
    }


# ---- the CSP: nothing inline ------------------------------------------------------------------


@pytest.mark.parametrize("template", CONSOLE_TEMPLATES, ids=lambda path: path.name)
def test_no_template_has_an_inline_script_style_or_handler(template: Path) -> None:
    source = template.read_text()
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", source, flags=re.S | re.I):
        assert not body.strip(), f"{template.name}: an inline <script> body (the CSP refuses it)"
    assert not re.search(r"<style\b", source, re.I), f"{template.name}: a <style> element"
    assert not re.search(r"\sstyle\s*=", source, re.I), f"{template.name}: a style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", source, re.I), f"{template.name}: an on…= handler attribute"
    assert not re.search(r"\shx-on", source, re.I), f"{template.name}: hx-on (evaluated script)"
    assert "javascript:" not in source.lower(), f"{template.name}: a javascript: URL"


@pytest.mark.parametrize("name", rendered_pages().keys())
def test_rendered_pages_load_scripts_and_styles_from_files_only(name: str) -> None:
    page = parsed(rendered_pages()[name])
    for script in page.all("script"):
        assert script.attrs.get("src", "").startswith("/console/static/"), script.attrs
        assert not script.text.strip()
    assert not page.all("style")
    assert not [element for element in page.elements if "style" in element.attrs]


# ---- times ------------------------------------------------------------------------------------


def test_every_time_carries_its_iso_datetime_and_says_utc() -> None:
    page = parsed(history_page())
    times = page.all("time")
    assert len(times) == 3
    for time in times:
        assert time.attrs["datetime"] == CREATED
        assert time.text.strip() == "2026-12-01 16:21:26 UTC"
        assert time.attrs["title"] == "2026-12-01 16:21:26 UTC"


@pytest.mark.parametrize(
    ("iso", "shown"),
    [
        ("2026-12-01T16:21:26Z", "2026-12-01 16:21:26 UTC"),
        ("2026-12-01T16:21:26+00:00", "2026-12-01 16:21:26 UTC"),
        ("2026-12-01T17:21:26+01:00", "2026-12-01T17:21:26+01:00"),
    ],
)
def test_the_time_macro_says_utc_only_of_a_utc_value(iso: str, shown: str) -> None:
    html = render_macro("time", iso)
    time = parsed(html).all("time")[0]
    assert time.attrs["datetime"] == iso
    assert time.text == shown


def test_the_time_macro_shows_a_dash_without_a_time() -> None:
    assert render_macro("time", "") == "—"


def render_macro(name: str, *args: Any) -> str:
    from cavra_gateway.console.render import environment

    module = environment().get_template("console/macros.html").module
    return str(getattr(module, name)(*args))


# ---- labels, hooks and the sign-in page --------------------------------------------------------


@pytest.mark.parametrize("name", rendered_pages().keys())
def test_every_field_has_a_label(name: str) -> None:
    page = parsed(rendered_pages()[name])
    labelled = {label.attrs.get("for") for label in page.all("label")}
    fields = [
        element
        for element in page.elements
        if element.tag in ("input", "select", "textarea")
        and element.attrs.get("type") not in ("hidden", "submit", "button")
    ]
    for field in fields:
        assert (
            field.attrs.get("id") in labelled
            or field.attrs.get("aria-label")
            or field.attrs.get("aria-labelledby")
        ), f"{name}: a field without a label: {field.attrs}"


def test_the_header_carries_the_hooks_console_js_and_the_browser_tests_use() -> None:
    page = parsed(history_page())
    for identifier in (
        "time-zone",
        "theme",
        "help-open",
        "refresh",
        "f-owner",
        "help",
        "status",
        "live-state",
    ):
        page.by_id(identifier)
    assert page.by_id("time-zone").attrs["aria-pressed"] == "false"
    assert page.by_id("help").tag == "dialog"
    rows = [row for row in page.all("tr") if "data-record-id" in row.attrs]
    assert [row.attrs["data-record-id"] for row in rows] == [f"gordn-{n:016x}" for n in range(3)]
    assert all(row.attrs.get("tabindex") == "-1" for row in rows), "rows must take focus for j/k"


def test_a_row_refresh_stays_with_the_row() -> None:
    """htmx events bubble: without ``consume`` a row's cavra:refresh would re-fetch its whole table."""
    page = parsed(history_page())
    rows = [row for row in page.all("tr") if "data-record-id" in row.attrs]
    assert rows and all(row.attrs["hx-trigger"] == "cavra:refresh consume" for row in rows)


def test_the_sign_in_page_names_the_credentials_and_works_without_javascript() -> None:
    page = parsed(sign_in_page())
    form = page.by_id("sign-in-form")
    assert form.attrs["method"] == "post" and form.attrs["action"] == "/console/sign-in"
    assert "cavra_" in form.text and "cavra tokens create" in form.text and "OIDC" in form.text
    token = page.by_id("token")
    assert token.attrs["type"] == "password" and "required" in token.attrs
    assert token.attrs["aria-describedby"] == "token-help"
    assert [b for b in page.all("button") if b.attrs.get("type") == "submit"]


def test_the_sign_in_page_shows_the_servers_error_on_the_field() -> None:
    page = parsed(sign_in_page("401: unknown API token"))
    error = page.by_id("sign-in-error")
    assert error.attrs["role"] == "alert" and error.text == "401: unknown API token"
    token = page.by_id("token")
    assert token.attrs["aria-invalid"] == "true"
    assert token.attrs["aria-describedby"].split() == ["token-help", "sign-in-error"]


def test_the_sign_in_page_without_oidc_asks_for_an_api_token_only() -> None:
    html = render(
        "console/sign_in.html", next_url="/console", form_token="t", error="", oidc=False, demo=False
    )
    assert "OIDC" not in parsed(html).by_id("sign-in-form").text


# ---- keyboard: console.js and the help dialog agree ---------------------------------------------


def js_object_keys(name: str) -> list[str]:
    """The quoted keys of ``var <name> = { ... };`` in console.js."""
    source = CONSOLE_JS.read_text()
    found = re.search(rf"var {name} = \{{\n(.*?)\n  \}};", source, flags=re.S)
    assert found, f"console.js has no `var {name} = {{ ... }};` block"
    return re.findall(r'^\s{4}"([^"]+)":', found.group(1), flags=re.M)


def test_console_js_handles_exactly_the_shortcuts_it_lists() -> None:
    shortcuts = js_object_keys("SHORTCUTS")
    assert set(shortcuts) >= {"j", "k", "x", "a", "/", "?", "Enter", "t", "Escape"}
    assert sorted(js_object_keys("actions")) == sorted(shortcuts)


def test_the_help_dialog_lists_every_shortcut() -> None:
    page = parsed(render("console/help.html"))
    listed = [kbd.attrs["data-key"] for kbd in page.all("kbd") if "data-key" in kbd.attrs]
    assert sorted(listed) == sorted(js_object_keys("SHORTCUTS"))
    assert len(listed) == len(set(listed))


# ---- both themes are readable -------------------------------------------------------------------

BACKGROUNDS = ("bg", "panel", "code-bg", "row-current", "row-selected")
TEXT_PAIRS = [
    *((fore, back) for fore in ("text", "muted", "accent") for back in BACKGROUNDS),
    ("accent-text", "accent"),
    ("good", "good-bg"), ("attention", "attention-bg"), ("bad", "bad-bg"),
    ("good", "bg"), ("attention", "bg"), ("good", "panel"), ("attention", "panel"), ("bad", "panel"),
]  # fmt: skip
"""Text on its backgrounds (WCAG 1.4.3 AA: 4.5:1)."""
UI_PAIRS = [
    *(("focus", back) for back in BACKGROUNDS),
    ("control-border", "bg"), ("control-border", "panel"),
]  # fmt: skip
"""Focus rings and field borders (WCAG 1.4.11 AA: 3:1)."""


def palette(selector: str) -> dict[str, str]:
    css = CONSOLE_CSS.read_text()
    start = css.index(selector)
    body = css[css.index("{", start) + 1 : css.index("}", start)]
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\b", body))


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_computed_the_wcag_way() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("selector", [":root {", ':root[data-theme="dark"]'], ids=["light", "dark"])
def test_each_theme_meets_wcag_aa(selector: str) -> None:
    colours = palette(selector)
    weak = [
        f"{fore} on {back}: {contrast(colours[fore], colours[back]):.2f}"
        for pairs, needed in ((TEXT_PAIRS, 4.5), (UI_PAIRS, 3.0))
        for fore, back in pairs
        if contrast(colours[fore], colours[back]) < needed
    ]
    assert not weak, f"{selector}: below WCAG AA: {weak}"


def test_the_system_dark_theme_is_the_chosen_dark_theme() -> None:
    chosen = palette(':root[data-theme="dark"]')
    assert chosen == palette(':root:not([data-theme="light"])')
    assert set(chosen) == set(palette(":root {")), "both themes define the same variables"


def test_the_stylesheet_honours_reduced_motion_and_styles_htmx_requests() -> None:
    css = CONSOLE_CSS.read_text()
    assert "@media (prefers-reduced-motion: reduce)" in css
    assert ".htmx-request" in css and ".htmx-indicator" in css
    assert re.search(
        r"@media \(max-width: 1100px\)\s*\{\s*\.layout \{ grid-template-columns: minmax\(0, 1fr\)", css
    )


# ---- console.js under node ---------------------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: console.js not run here")


def run_node(script: str, zone: str = "Europe/Berlin") -> Any:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", script], capture_output=True, text=True, timeout=20,
        env={"TZ": zone, "PATH": "/usr/bin:/bin"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_node
@pytest.mark.parametrize("script", [CONSOLE_JS, TIMES_JS, *STATIC.glob("live.js")], ids=lambda p: p.name)
def test_the_console_scripts_parse(script: Path) -> None:
    assert NODE is not None
    done = subprocess.run([NODE, "--check", str(script)], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr


@needs_node
def test_times_read_in_utc_and_in_the_viewers_zone() -> None:
    shown = run_node(
        f"const f = require({json.dumps(str(TIMES_JS))});"
        "const d = f.parseTime('2026-12-01T16:21:26.123456+00:00');"
        "const s = f.parseTime('2026-07-01T16:21:26Z');"
        "console.log(JSON.stringify([f.utcText(d), f.localText(d, 'en-GB'), f.localText(s, 'en-GB'),"
        " f.parseTime('not a time'), f.parseTime('x'.repeat(65))]));"
    )
    assert shown == [
        "2026-12-01 16:21:26 UTC",
        "2026-12-01 17:21:26 CET",
        "2026-07-01 18:21:26 CEST",
        None,
        None,
    ]


@needs_node
def test_a_zone_without_a_short_name_shows_its_offset() -> None:
    shown = run_node(
        f"const f = require({json.dumps(str(TIMES_JS))});"
        "console.log(JSON.stringify(f.localText(f.parseTime('2026-12-01T16:21:26Z'), 'en-US')));",
        zone="Asia/Kolkata",
    )
    assert shown == "2026-12-01 21:51:26 GMT+5:30"


@needs_node
def test_ages_read_as_people_say_them() -> None:
    now = "Date.parse('2026-12-01T16:21:26Z')"
    cases = {
        "2026-12-01T16:21:00Z": "just now",
        "2026-12-01T16:16:20Z": "5 min ago",
        "2026-12-01T13:00:00Z": "3 h ago",
        "2026-11-28T16:21:26Z": "3 d ago",
        "2026-06-01T16:21:26Z": "6 mo ago",
        "2023-12-01T16:21:26Z": "3 y ago",
        "2026-12-01T16:26:30Z": "in 5 min",
        "2026-12-01T16:21:50Z": "in under a minute",
    }
    shown = run_node(
        f"const f = require({json.dumps(str(TIMES_JS))});"
        f"console.log(JSON.stringify({json.dumps(list(cases))}.map(t => f.ageText(f.parseTime(t), {now}))));"
    )
    assert shown == list(cases.values())
