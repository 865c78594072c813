"""The static site of a leaderboard: ``index.html`` (the protocols), one table per
protocol (sortable by any metric column, with intervals, rank, tie flag and efficiency),
and one page per submission (plots, report, provenance).

The site is written to a fresh folder beside ``out`` and then moved into place, so a
failed build never leaves a half-written site; an existing ``out`` is replaced only when
it is empty or a site built before (it holds :data:`MARKER`). Paths use entry ids,
never user text.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vprmetrics.errors import InputError
from vprmetrics.leaderboard.html import esc, fmt_metric, page, table
from vprmetrics.leaderboard.standings import Row, Standings
from vprmetrics.report.writers import render_json, render_markdown

if TYPE_CHECKING:
    from vprmetrics.leaderboard.api import Leaderboard

__all__ = ["build_site", "protocol_dir"]

MARKER = ".vprmetrics-site"  # only a folder holding it is replaced by a rebuild
TIE_FLAG = "&#9873;"  # a flag: the tie policy moves the number more than its interval
_TIE_TITLE = "the tie policy decides this number: optimistic - pessimistic > interval width"


def protocol_dir(standings: Standings) -> str:
    """The folder of a protocol's table: ``<id>-<name with safe characters>``."""
    p = standings.protocol
    return f"{p.id}-{re.sub(r'[^A-Za-z0-9._-]+', '-', p.name)}"


def _num(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def _metric_cell(row: Row, key: str) -> str:
    value, (lo, hi) = row.values[key], row.intervals[key]
    flag = f" <span class='flag' title='{_TIE_TITLE}'>{TIE_FLAG}</span>"
    return (
        f"<td data-value='{value!r}'>{fmt_metric(key, value)}"
        f"{flag if row.ties_decide[key] else ''}"
        f"<span class='ci'>[{fmt_metric(key, lo)}, {fmt_metric(key, hi)}]</span></td>"
    )


_EFFICIENCY = (
    ("dim", "descriptor_dim", "asc"),
    ("dtype", "dtype", "asc"),
    ("bytes/desc.", "bytes_per_descriptor", "asc"),
    ("ms/query", "matching_ms_per_query", "asc"),
)


def _standings_table(st: Standings) -> str:
    heads = [
        "<th class='sortable' data-type='num' data-order='asc' data-col='rank'>Rank</th>",
        "<th class='sortable text' data-type='text' data-order='asc' data-col='name'>"
        "Submission</th>",
        "<th class='sortable text' data-type='text' data-order='asc' data-col='team'>Team</th>",
    ]
    for c in st.columns:
        sort = " aria-sort='descending'" if st.sort and c.key == st.sort.key else ""
        unit = "" if c.key == "PSSR" else " (%)"
        heads.append(
            f"<th class='sortable' data-type='num' data-order='desc' data-col='{esc(c.key)}'"
            f"{sort}>{esc(c.key)}{unit}</th>"
        )
    heads.append("<th class='text'>Ties decide</th>")
    for label, attr, order in _EFFICIENCY:
        kind = "text" if attr == "dtype" else "num"
        heads.append(
            f"<th class='sortable' data-type='{kind}' data-order='{order}' "
            f"data-col='{attr}'>{label}</th>"
        )
    body = []
    for position, row in enumerate(st.rows):
        e = row.entry
        cells = [
            f"<td data-value='{row.rank}'>{row.rank}</td>",
            f"<td class='text' data-value='{esc(e.name)}'><a href='{e.id}/index.html'>"
            f"{esc(e.name)}</a></td>",
            f"<td class='text' data-value='{esc(e.team)}'>{esc(e.team)}</td>",
            *(_metric_cell(row, c.key) for c in st.columns),
            "<td class='text'>"
            + esc(", ".join(k for k, v in row.ties_decide.items() if v) or "-")
            + "</td>",
        ]
        for _, attr, _ in _EFFICIENCY:
            v = getattr(e, attr)
            shown = f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))
            value = esc(v) if attr == "dtype" else _num(v)
            cells.append(f"<td data-value='{value}'>{esc(shown)}</td>")
        body.append(f"<tr data-id='{e.id}' data-order='{position}'>{''.join(cells)}</tr>")
    return (
        "<div class='scroll'><table id='standings' class='sortable-table'>"
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _pairs_table(st: Standings) -> str:
    fam = st.family
    if fam is None or not fam.tests:
        return ""
    key = fam.metric.key
    rows = []
    for i, j in sorted(fam.tests, key=lambda ij: fam.adjusted[ij]):
        c, adj = fam.between(i, j)
        if c.difference < 0:  # the better entry first
            i, j = j, i
            c, adj = fam.between(i, j)
        rows.append(
            [
                esc(fam.entries[i].name),
                esc(fam.entries[j].name),
                fmt_metric(key, c.difference),
                f"[{fmt_metric(key, c.low)}, {fmt_metric(key, c.high)}]",
                f"{c.p_value:.4f}",
                f"{adj:.4f}",
                "yes" if adj <= fam.alpha else "no",
            ]
        )
    return (
        f"<h2>Paired comparisons on {esc(key)}</h2><p class='muted'>Sign-flip permutation "
        f"test of the mean per-query difference ({st.protocol.settings['n_permutations']} "
        f"permutations, seed {st.protocol.settings['seed']}), paired bootstrap interval, "
        f"Holm-Bonferroni over these {len(fam.tests)} comparisons, alpha "
        f"{fam.alpha:.2f}.</p>"
        + table(["A", "B", "A - B", "interval", "p", "p (Holm)", "significant"], rows)
    )


def _rejected_table(st: Standings) -> str:
    if not st.rejected:
        return ""
    rows = [[esc(e.name), esc(e.team), esc(e.reason), esc(e.submitted_at)] for e in st.rejected]
    return "<h2>Rejected submissions</h2>" + table(
        ["Submission", "Team", "Reason", "Submitted"], rows, id="rejected"
    )


def _protocol_page(st: Standings) -> str:
    p, s = st.protocol, st.protocol.settings
    sort = st.sort.key if st.sort else "-"
    intro = (
        f"<p><a href='../index.html'>All protocols</a></p><h1>{esc(p.name)}</h1>"
        f"<p>Distance <code>{esc(s['metric'])}</code>, ties <code>{esc(s['ties'])}</code>, "
        f"{int(100 * s['confidence'])}% bootstrap intervals in brackets. Rank = 1 + the "
        f"number of entries significantly better on <b>{esc(sort)}</b> (so statistically "
        f"tied entries share a rank); {TIE_FLAG} marks a number the tie policy decides. "
        "Click a column header to sort.</p>"
        f"<p class='muted'>protocol sha256 <code>{esc(p.protocol_sha256)}</code>, ground "
        f"truth sha256 <code>{esc(p.ground_truth_sha256)}</code>, fixed {esc(p.created_at)}"
        "</p>"
    )
    table_html = _standings_table(st) if st.rows else "<p>No scored submission yet.</p>"
    return page(
        f"{p.name} leaderboard",
        intro + table_html + _pairs_table(st) + _rejected_table(st),
        script=True,
    )


def _entry_page(st: Standings, row: Row, plots: list[str]) -> str:
    e, rep = row.entry, row.report
    facts = [
        ["Rank", f"{row.rank} (on {esc(st.sort.key if st.sort else '-')})"],
        ["Team", esc(e.team) or "-"],
        ["Notes", esc(e.notes) or "-"],
        *([esc(k), f"<code>{esc(v)}</code>"] for k, v in e.provenance().items()),
        *([esc(k), esc(v)] for k, v in rep.get("efficiency", {}).items()),
    ]
    metrics = [
        [
            esc(c.key),
            fmt_metric(c.key, row.values[c.key]),
            f"[{fmt_metric(c.key, row.intervals[c.key][0])}, "
            f"{fmt_metric(c.key, row.intervals[c.key][1])}]",
            "yes" if row.ties_decide[c.key] else "no",
        ]
        for c in st.columns
    ]
    warnings = "".join(f"<li>{esc(w)}</li>" for w in rep.get("warnings", []))
    body = (
        f"<p><a href='../index.html'>{esc(st.protocol.name)} table</a></p>"
        f"<h1 id='entry-name'>{esc(e.name)}</h1>"
        + (f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else "")
        + "<h2>Metrics</h2>"
        + table(["metric", "value", "interval", "ties decide"], metrics, id="metrics")
        + "<h2>Plots</h2><div id='plots'>"
        + "".join(f"<img src='{esc(name)}' alt='{esc(name)}'>" for name in plots)
        + "</div><h2>Provenance and efficiency</h2>"
        + table(["", ""], facts, id="provenance")
        + "<h2>Report</h2><p><a href='report.json'>report.json</a> &middot; "
        "<a href='report.md'>report.md</a></p>"
        f"<pre>{esc(render_markdown(rep))}</pre>"
    )
    return page(f"{e.name} on {st.protocol.name}", body)


def _index_page(all_standings: list[Standings]) -> str:
    rows = []
    for st in all_standings:
        leaders = ", ".join(esc(r.entry.name) for r in st.rows if r.rank == 1) or "-"
        rows.append(
            [
                f"<a href='{protocol_dir(st)}/index.html'>{esc(st.protocol.name)}</a>",
                str(len(st.rows)),
                str(len(st.rejected)),
                esc(st.sort.key if st.sort else "-"),
                leaders,
            ]
        )
    body = "<h1>vprmetrics leaderboards</h1>" + table(
        ["Protocol", "Scored", "Rejected", "Ranked on", "Rank 1"], rows, id="protocols"
    )
    return page("vprmetrics leaderboards", body)


def _write_entry(folder: Path, st: Standings, row: Row) -> None:
    from vprmetrics.report.plots import render_plots

    folder.mkdir(parents=True)
    plots = render_plots(row.report)
    for name, png in plots.items():
        (folder / name).write_bytes(png)
    (folder / "report.json").write_bytes(render_json(row.report))
    (folder / "report.md").write_text(render_markdown(row.report), encoding="utf-8")
    (folder / "index.html").write_text(_entry_page(st, row, list(plots)), encoding="utf-8")


def build_site(board: Leaderboard, out: Path, sort: str | None = None) -> Path:
    """Write the site of every protocol in ``board`` to ``out`` (replacing it)."""
    out = Path(out).expanduser().resolve()
    if out.exists() and not (out / MARKER).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(
            f"{out} exists and is not a site built by vprmetrics; give a new or empty folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    all_standings = [board.standings(r.name, sort) for r in board.store.protocols()]
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        (tmp / MARKER).write_text("built by vprmetrics leaderboard build; replaced on rebuild\n")
        for st in all_standings:
            folder = tmp / protocol_dir(st)
            folder.mkdir()
            (folder / "index.html").write_text(_protocol_page(st), encoding="utf-8")
            (folder / "standings.json").write_text(
                json.dumps(st.as_json(), indent=2, allow_nan=False), encoding="utf-8"
            )
            for row in st.rows:
                _write_entry(folder / str(row.entry.id), st, row)
        (tmp / "index.html").write_text(_index_page(all_standings), encoding="utf-8")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
