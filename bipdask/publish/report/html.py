"""Self-contained HTML: tables and base64-embedded PNG figures, inline CSS, no network, no script.

The page prints well (A4, black on white, figures and tables kept whole across pages).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from bipdask.publish.report.tables import Cell, Table

CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:10.5pt;color:#111;background:#fff;
     max-width:1100px;margin:1.5em auto;padding:0 1em;line-height:1.35}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #999}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 .3em;page-break-inside:avoid;font-size:.95em}
th,td{border-top:1px solid #bbb;border-bottom:1px solid #bbb;padding:.25em .55em;vertical-align:top}
th{background:#eee;text-align:center;font-weight:600} td.num{text-align:right;white-space:nowrap}
td.label{text-align:left} tr.heading td{font-weight:700;background:#f6f6f6} tr.total td{font-weight:600}
.ci,.n{display:block;font-size:.78em;color:#444} .b{font-weight:700}
.sup{color:#555} p.note{font-size:.85em;color:#333;margin:.1em 0}
figure{margin:.8em 0 1.2em;page-break-inside:avoid} figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-weight:600;margin-bottom:.3em} dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}
dl.meta dt{font-weight:600} code,.hash{font-family:"DejaVu Sans Mono",monospace;font-size:.8em}
table.hashes td{padding:.05em .5em} nav ol{columns:2;font-size:.9em}
@media print{body{max-width:none;margin:0;font-size:9.5pt} h2{page-break-after:avoid} nav{display:none}
 a{color:inherit;text-decoration:none}}
@page{size:A4;margin:15mm}
"""


@dataclass(frozen=True)
class Section:
    """One section of the report: anchor id, heading and body HTML."""

    id: str
    title: str
    body: str


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_cell(c: Cell) -> str:
    if c.status:
        return f'<td class="num sup">{esc(c.text)}</td>'
    text = f'<span class="b">{esc(c.text)}</span>' if c.bold else esc(c.text)
    extra = "".join(f'<span class="{k}">{esc(v)}</span>' for k, v in (("ci", c.ci), ("n", c.n)) if v)
    return f'<td class="num">{text}{extra}</td>'


def render_table(t: Table, notes: Sequence[str] = (), heading: bool = True) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in t.columns)
    body = []
    for r in t.rows:
        if r.heading:
            body.append(f'<tr class="heading"><td class="label" colspan="{len(t.columns) + 1}">'
                        f'{esc(r.label)}</td></tr>')
            continue
        cls = ' class="total"' if r.total else ""
        cells = "".join(render_cell(c) for c in r.cells)
        cells += "<td></td>" * (len(t.columns) - len(r.cells))
        body.append(f'<tr{cls}><td class="label">{esc(r.label)}</td>{cells}</tr>')
    foot = "".join(f'<p class="note">{esc(n)}</p>' for n in (*t.notes, *notes))
    title = f'<h3 id="{esc(t.key)}">{esc(t.title)}</h3>' if heading else ""
    return (f'{title}<table><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>{foot}')


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def render_figure(key: str, title: str, png: bytes | None, empty_text: str = "") -> str:
    if png is None:
        return f'<h3 id="{esc(key)}">{esc(title)}</h3><p class="note">{esc(empty_text)}</p>'
    return (f'<figure id="{esc(key)}"><figcaption>{esc(title)}</figcaption>'
            f'<img src="{data_uri(png)}" alt="{esc(title)}"></figure>')


def render_meta(items: Sequence[tuple[str, str]]) -> str:
    return '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def render_hashes(hashes: dict[str, str], file_label: str) -> str:
    rows = "".join(f'<tr><td>{esc(f)}</td><td class="hash">{esc(h)}</td></tr>' for f, h in sorted(hashes.items()))
    return (f'<table class="hashes"><thead><tr><th>{esc(file_label)}</th><th>sha256</th></tr></thead>'
            f'<tbody>{rows}</tbody></table>')


def render_plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A table of text cells; the first ``text_columns`` columns left-aligned, the rest as numbers."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f'<td class="{"label" if i < text_columns else "num"}">{esc(v)}</td>'
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def safe_href(href: str) -> str | None:
    """``href`` if the report may link to it: a relative path inside the run (no scheme, no
    ``//``), or an ``http(s)`` URL without user-info (credentials never reach the report);
    ``None`` otherwise."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(href))
    if not parts.scheme and not parts.netloc:
        return str(href) if not str(href).startswith("/") else None
    if parts.scheme in ("http", "https") and parts.netloc and "@" not in parts.netloc:
        return str(href)
    return None


def render_links(items: Sequence[tuple[str, str | None, str]]) -> str:
    """A list of links: (text, href or None, note); an item without a (safe) href shows its text and note."""
    out = []
    for text, href, note in items:
        target = safe_href(href) if href else None
        body = f'<a href="{esc(target)}">{esc(text)}</a>' if target else esc(text)
        out.append(f"<li>{body}{(' ' + esc(note)) if note else ''}</li>")
    return f'<ul class="links">{"".join(out)}</ul>'


def render_document(title: str, lang: str, header: str, sections: Sequence[Section], contents_label: str) -> str:
    nav = "".join(f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section><h2 id="{esc(s.id)}">{esc(s.title)}</h2>{s.body}</section>' for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{esc(title)}</h1>{header}<nav><h2>{esc(contents_label)}</h2><ol>{nav}</ol></nav>{body}"
            "</body></html>\n")
