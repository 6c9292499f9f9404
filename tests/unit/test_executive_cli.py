"""`cavra runtime go-rollback-drill-executive-report-document`: a saved report rendered offline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
from typer.testing import CliRunner

from cavra_cli.main import app
from tests.unit.test_executive_documents import composed

runner = CliRunner()
COMMAND = ["runtime", "go-rollback-drill-executive-report-document"]


def test_a_saved_report_becomes_html_and_pdf(tmp_path: Path) -> None:
    report = composed(breached=1)
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps({"report": report, "metadata": {}}))
    html = tmp_path / "report.html"
    result = runner.invoke(app, [*COMMAND, str(saved), "--output", str(html)])
    assert result.exit_code == 0, result.output
    assert report["executive_report_id"] in result.output
    assert "Connector recovery SLO breached" in html.read_text()

    pdf = tmp_path / "report.pdf"
    result = runner.invoke(app, [*COMMAND, str(saved), "--format", "pdf", "--output", str(pdf)])
    assert result.exit_code == 0, result.output
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    assert "CAVRA recovery executive report" in text


def test_something_else_exits_2(tmp_path: Path) -> None:
    saved = tmp_path / "other.json"
    saved.write_text(json.dumps({"items": []}))
    result = runner.invoke(app, [*COMMAND, str(saved), "--output", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert not (tmp_path / "x.html").exists()
