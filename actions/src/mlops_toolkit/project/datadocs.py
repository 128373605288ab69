"""Great Expectations' Data Docs made readable offline.

GX 1.x pages load Bootstrap, jQuery, Vega and Font Awesome from CDNs: on a runner or a laptop
without the internet (and in a downloaded workflow artifact opened later) they come out as
unstyled text. Each page is rewritten in place: every tag that loads a remote stylesheet,
script or image is dropped, and a stylesheet is inlined (GX's own local default styles, which
the page already ships, plus a small table/card layout standing in for Bootstrap's). The
validation pages are rendered server-side, so their tables read well without any script; the
index's table is drawn by JavaScript, so validation.html links the validation pages directly.
"""

from __future__ import annotations

import re
from pathlib import Path

# A tag whose href/src points outside the page's own folder (http:, https:, protocol-relative).
_REMOTE = r"""(?:https?:)?//[^"'\s>]+"""
_REMOTE_TAGS = (
    re.compile(rf"""<link\b[^>]*\bhref=["']{_REMOTE}["'][^>]*>""", re.I),
    re.compile(rf"""<script\b[^>]*\bsrc=["']{_REMOTE}["'][^>]*>\s*</script>""", re.I),
    re.compile(rf"""<img\b[^>]*\bsrc=["']{_REMOTE}["'][^>]*>""", re.I),
)
# Links out of the page (GX's newsletter, docs) keep their text, lose the remote target.
_REMOTE_HREF = re.compile(rf"""\bhref=["']{_REMOTE}["']""", re.I)
# A stylesheet's remote background (GX's dark logo) would be fetched too.
_REMOTE_URL = re.compile(rf"""url\(\s*["']?{_REMOTE}["']?\s*\)""", re.I)
MARKER = "<!-- mlops-toolkit: offline styles -->"
LAYOUT_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:1rem 1.5rem;color:#212529;line-height:1.45}
a{color:#0b5ed7}h1,h2,h3,h4,h5{line-height:1.2;margin:1.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #dee2e6;padding:.35rem .55rem;vertical-align:top;text-align:left}
thead th,th{background:#f1f3f5}tr:nth-child(even) td{background:#fafbfc}
.card{border:1px solid #dee2e6;border-radius:6px;margin:0 0 1rem;padding:.75rem}
.card-header{font-weight:600;border-bottom:1px solid #dee2e6;margin:-.75rem -.75rem .75rem;
padding:.5rem .75rem;background:#f8f9fa}
.badge{display:inline-block;padding:.1rem .45rem;border-radius:4px;background:#e9ecef;
font-size:.85em}.text-danger,.badge-danger{color:#b02a37}.text-success{color:#146c43}
.container-fluid,.row,.col-md-2,.col-md-10,.col-12{display:block;width:auto}
.sticky,.d-none,.collapse:not(.show){display:none}code,pre{font-size:.9em;white-space:pre-wrap}
"""


def offline(docs_dir: Path) -> list[Path]:
    """Rewrite every Data Docs page under ``docs_dir``; returns the pages rewritten."""
    css = LAYOUT_CSS + _local_styles(docs_dir)
    pages = sorted(docs_dir.rglob("*.html"))
    for page in pages:
        page.write_text(offline_page(page.read_text(encoding="utf-8"), css), encoding="utf-8")
    return pages


def offline_page(text: str, css: str = LAYOUT_CSS) -> str:
    """One page without remote tags, with ``css`` inlined once (idempotent)."""
    for pattern in _REMOTE_TAGS:
        text = pattern.sub("", text)
    text = _REMOTE_URL.sub("none", _REMOTE_HREF.sub('href="#"', text))
    css = _REMOTE_URL.sub("none", css)
    if MARKER not in text:
        style = f"{MARKER}<style>{css}</style>"
        head = re.search(r"</head>", text, re.I)
        text = text[: head.start()] + style + text[head.start() :] if head else style + text
    return text


def _local_styles(docs_dir: Path) -> str:
    """GX's own default stylesheet (shipped under static/), when it is there."""
    default = docs_dir / "static" / "styles" / "data_docs_default_styles.css"
    return default.read_text(encoding="utf-8") if default.is_file() else ""


def validation_pages(docs_dir: Path, report_dir: Path) -> list[str]:
    """This run's validation result page, relative to ``report_dir`` (validation.html links
    it): the newest one, as GX keeps every earlier run's page beside it."""
    found = list((docs_dir / "validations").rglob("*.html")) if docs_dir.is_dir() else []
    newest = max(found, key=lambda page: page.stat().st_mtime_ns, default=None)
    return [] if newest is None else [newest.relative_to(report_dir).as_posix()]
