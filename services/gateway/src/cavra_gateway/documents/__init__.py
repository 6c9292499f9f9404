"""Readable documents the gateway renders from reports: HTML (Jinja2, autoescaped) with inline SVG
charts built server-side, and PDF (WeasyPrint) from the same HTML."""
