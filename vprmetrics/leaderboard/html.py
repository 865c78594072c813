"""HTML pieces of the static site: the page frame, its CSS and the table-sorting script.

Everything is inline (no external assets, no server: pages open from disk). User text
(names, teams, notes, reasons) only ever enters a page through :func:`esc`.

>>> esc('<script>alert(1)</script>')
'&lt;script&gt;alert(1)&lt;/script&gt;'
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["esc", "fmt_metric", "page", "table"]

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 76rem;
       padding: 0 1rem; color: #1b1f24; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #d8dee4; text-align: left;
         vertical-align: top; }
#standings td, #standings th { text-align: right; }
th { background: #f3f5f7; white-space: nowrap; }
th.sortable { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
#standings td.text, #standings th.text { text-align: left; }
.ci { color: #57606a; font-size: 0.8em; display: block; }
.flag { color: #b35900; font-weight: bold; }
.muted { color: #57606a; }
.scroll { overflow-x: auto; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.85em; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; }
img { max-width: 100%; border: 1px solid #d8dee4; margin: 0.3rem; }
"""

SORT_JS = """
document.querySelectorAll("table.sortable-table").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    if (!th.classList.contains("sortable")) return;
    th.addEventListener("click", function () {
      var first = th.dataset.order || "asc";
      var now = th.getAttribute("aria-sort");
      var asc = now ? now === "descending" : first === "asc";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = th.dataset.type === "num";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        var c;
        if (numeric) {
          x = x === "" ? NaN : parseFloat(x); y = y === "" ? NaN : parseFloat(y);
          if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);
          c = x - y;
        } else { c = x.localeCompare(y); }
        if (c === 0) c = parseInt(a.dataset.order, 10) - parseInt(b.dataset.order, 10);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(text: object) -> str:
    """HTML-escape ``text`` for element content and quoted attributes."""
    return html.escape(str(text), quote=True)


def fmt_metric(key: str, value: float | None) -> str:
    """A metric for display: percent with 2 decimals, PSSR as a fraction."""
    if value is None:
        return "n/a"
    return f"{value:.4f}" if key == "PSSR" else f"{100 * value:.2f}"


def page(title: str, body: str, *, script: bool = False) -> str:
    """A complete HTML document (``title`` is escaped, ``body`` is trusted markup)."""
    js = f"<script>{SORT_JS}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n{js}\n"
        "</body></html>\n"
    )


def table(heads: Iterable[str], rows: Iterable[Iterable[str]], **attrs: str) -> str:
    """A plain table; ``heads`` and cells are trusted markup (escape user text first)."""
    attr = "".join(f" {k.rstrip('_')}='{esc(v)}'" for k, v in attrs.items())
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
