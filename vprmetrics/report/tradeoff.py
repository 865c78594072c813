"""The speed-memory-recall trade-off of approximate (faiss) indexes against exact search.

Berton et al. (Deep Visual Geo-localization Benchmark, CVPR 2022, section 4.7, figure 4b)
show that recall is not the only number: matching time and memory decide what can be
deployed, and approximate indexes (IVF, PQ, IVFPQ, inverted multi-index, HNSW) trade a
little recall for large savings. :func:`search_tradeoff` builds each faiss index-factory
string, searches it, and scores the returned lists with the metric semantics of the
exact engine, beside the exact ranking itself:

* Recall@N of a returned list ``I_q`` = mean over scored queries of
  ``[some j in I_q[:N] is a positive]``, in the order the index returns (its ties are its
  own; ``-1`` pads never count). Recall@K% uses N = the cut-off of K% of the database
  (``percent_convention``), so each index is searched for ``max(N, cut-offs)`` items.
* The exact row is :func:`vprmetrics.ranking.engine.rank` scored with the tie policy
  ``ties``; on data without ties every policy and ``Flat`` agree with it.
* PSSR is undefined for a truncated list (it needs the rank of the best positive in the
  whole database, which a list of k items gives only when a positive is in it); it is
  reported for the exact row only.
* Memory is the size of the index as faiss serialises it (``faiss.serialize_index``:
  codes, ids, centroids, codebooks, graph links); ``code_bytes`` is faiss's
  ``sa_code_size() * ntotal``, the stored codes alone. Exact search holds the float32
  database (``n * dim * 4`` bytes). Build time is training plus adding.

>>> import numpy as np
>>> from vprmetrics.geo.positives import Positives
>>> ids = np.array([[3, 1, -1], [0, 2, 1]])
>>> gt = Positives.from_lists([[1], [1]], 4)
>>> list_recall(ids, gt, [1, 2, 3], "miss").tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vprmetrics.checks import as_cutoffs, as_descriptors, as_percentages
from vprmetrics.errors import InputError, require
from vprmetrics.geo.positives import Positives, scored_queries
from vprmetrics.metrics.pssr import pssr
from vprmetrics.metrics.recall import percent_cutoff
from vprmetrics.metrics.recall import recall_at_n as exact_recall_at_n
from vprmetrics.metrics.recall import recall_at_percent as exact_recall_at_percent
from vprmetrics.metrics.ties import check_policy
from vprmetrics.ranking.distances import check_metric, normalize_rows
from vprmetrics.ranking.engine import rank

__all__ = [
    "IndexSpec",
    "list_recall",
    "parse_index",
    "render_tradeoff_markdown",
    "render_tradeoff_plot",
    "search_tradeoff",
]

PSSR_NOTE = (
    "PSSR is undefined for a truncated result list (it needs the rank of the best "
    "positive in the whole database); it is given for exact search only"
)


@dataclass(frozen=True)
class IndexSpec:
    """A faiss index-factory string and optional search parameters (``nprobe=16``)."""

    factory: str
    params: str = ""

    @property
    def label(self) -> str:
        return f"{self.factory} {self.params}".strip()


def parse_index(text: str) -> IndexSpec:
    """``"IVF1024,Flat nprobe=16"`` -> factory ``IVF1024,Flat``, search parameters
    ``nprobe=16`` (faiss ``ParameterSpace`` syntax, several joined by commas).

    >>> parse_index("HNSW32 efSearch=64")
    IndexSpec(factory='HNSW32', params='efSearch=64')
    """
    parts = text.split()
    if not parts or len(parts) > 2:
        raise InputError(
            f"index {text!r} is not 'FACTORY' or 'FACTORY PARAMS', e.g. 'IVF1024,PQ32 nprobe=16'"
        )
    return IndexSpec(parts[0], parts[1] if len(parts) > 1 else "")


def list_recall(ids: np.ndarray, positives: Positives, ns: Sequence[int], no_positive: str):
    """Recall@N of returned lists ``ids`` (nq, k), in their own order, for each N <= k."""
    nq, k = ids.shape
    counts = positives.counts
    rows = np.repeat(np.arange(nq), counts)
    pairs = rows * np.int64(positives.n_database) + positives.ids
    valid = ids >= 0
    flat = np.arange(nq)[:, None] * np.int64(positives.n_database) + np.where(valid, ids, 0)
    hit = np.isin(flat, pairs) & valid
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), k)  # 0-based place of the first hit
    mask = scored_queries(positives, no_positive)
    return np.array([(first[mask] < n).mean() for n in ns])


def _faiss_metric(faiss, metric: str):
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def _build(faiss, spec: IndexSpec, x: np.ndarray, metric: str, train_size: int, seed: int):
    try:
        index = faiss.index_factory(x.shape[1], spec.factory, _faiss_metric(faiss, metric))
        start = time.perf_counter()
        if not index.is_trained:
            rng = np.random.default_rng(seed)
            n_train = min(len(x), train_size)
            sample = np.sort(rng.choice(len(x), n_train, replace=False))
            index.train(np.ascontiguousarray(x[sample]))
        for a in range(0, len(x), 1 << 16):
            index.add(np.ascontiguousarray(x[a : a + (1 << 16)]))
        build_s = time.perf_counter() - start
        if spec.params:
            faiss.ParameterSpace().set_index_parameters(index, spec.params)
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise InputError(
            f"faiss cannot build index {spec.label!r} on {len(x)} x {x.shape[1]} "
            f"({reason[:200]}); check the index-factory string and that the database has "
            "enough rows to train it"
        ) from None
    return index, build_s


def _as_float32(x: np.ndarray, metric: str) -> np.ndarray:
    rows = normalize_rows(x) if metric == "cosine" else x
    return np.ascontiguousarray(rows, dtype=np.float32)


def search_tradeoff(
    queries: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    indexes: Sequence[str | IndexSpec],
    *,
    metric: str = "l2",
    recall_at: Sequence[int] = (1, 5, 10, 20),
    recall_at_percent: Sequence[float] = (1,),
    percent_convention: str = "ceil",
    ties: str = "expected",
    no_positive: str = "miss",
    train_size: int = 200_000,
    seed: int = 0,
    threads: int | None = None,
) -> dict:
    """Exact search and each faiss index: recall, its loss against exact (in points of
    recall, exact minus index), matching time per query, memory and build time.

    ``threads`` sets faiss's OpenMP threads (default: faiss's own; on a busy machine 1
    avoids OpenMP spinning). ``train_size`` rows, sampled with ``seed``, train an index
    that needs training.
    """
    faiss = require("faiss", "faiss", "approximate search (search-tradeoff)")
    if threads is not None:
        if threads < 1:
            raise InputError(f"threads = {threads} must be a positive integer")
        faiss.omp_set_num_threads(int(threads))
    if train_size < 1:
        raise InputError(f"train_size = {train_size} must be a positive integer")
    check_metric(metric)
    check_policy(ties)
    specs = [parse_index(s) if isinstance(s, str) else s for s in indexes]
    if not specs:
        raise InputError("give at least one --index, e.g. 'IVF1024,Flat' or 'HNSW32'")
    q = as_descriptors(queries, "queries")
    x = as_descriptors(database, "database")
    n = x.shape[0]
    ns = as_cutoffs(recall_at, "N")
    ks = as_percentages(recall_at_percent, "K")
    cutoffs = [percent_cutoff(kp, n, percent_convention) for kp in ks]
    k = min(n, max([*ns, *cutoffs]))
    if max([*ns, *cutoffs]) > n:
        raise InputError(f"N = {max([*ns, *cutoffs])} exceeds the database size {n}")

    start = time.perf_counter()
    facts = rank(q, x, positives, metric=metric, k=k, progress=False)
    exact_s = time.perf_counter() - start
    exact_n = exact_recall_at_n(facts, ns, ties, no_positive)
    exact_p = exact_recall_at_percent(facts, ks, ties, no_positive, percent_convention)
    rows = [
        {
            "index": "exact (vprmetrics)",
            "recall_at_n": {str(a): v for a, v in exact_n.items()},
            "recall_at_percent": {_key(a): v for a, v in exact_p.items()},
            "recall_loss_at_n": {str(a): 0.0 for a in ns},
            "recall_loss_at_percent": {_key(a): 0.0 for a in ks},
            "pssr_mean": pssr(facts, no_positive).mean,
            "ms_per_query": 1000 * exact_s / len(q),
            "index_bytes": int(x.shape[0] * x.shape[1] * 4),
            "code_bytes": int(x.shape[0] * x.shape[1] * 4),
            "build_s": 0.0,
            "lossy": False,
        }
    ]
    q32, x32 = _as_float32(q, metric), None
    for spec in specs:
        if x32 is None:
            x32 = _as_float32(x, metric)
        index, build_s = _build(faiss, spec, x32, metric, train_size, seed)
        start = time.perf_counter()
        _, ids = index.search(q32, k)
        search_s = time.perf_counter() - start
        rec_n = list_recall(ids, positives, ns, no_positive)
        rec_p = list_recall(ids, positives, cutoffs, no_positive)
        loss_n = {str(a): exact_n[a] - float(v) for a, v in zip(ns, rec_n, strict=True)}
        loss_p = {_key(a): exact_p[a] - float(v) for a, v in zip(ks, rec_p, strict=True)}
        rows.append(
            {
                "index": spec.label,
                "recall_at_n": {str(a): float(v) for a, v in zip(ns, rec_n, strict=True)},
                "recall_at_percent": {_key(a): float(v) for a, v in zip(ks, rec_p, strict=True)},
                "recall_loss_at_n": loss_n,
                "recall_loss_at_percent": loss_p,
                "pssr_mean": None,
                "ms_per_query": 1000 * search_s / len(q),
                "index_bytes": int(faiss.serialize_index(index).size),
                "code_bytes": int(index.sa_code_size() * index.ntotal)
                if _has_sa_codes(index)
                else None,
                "build_s": build_s,
                "lossy": any(v > 0 for v in [*loss_n.values(), *loss_p.values()]),
            }
        )
    return {
        "n_queries": len(q),
        "n_database": int(n),
        "dim": int(x.shape[1]),
        "metric": metric,
        "ties": ties,
        "no_positive": no_positive,
        "k_searched": int(k),
        "recall_at_percent_cutoffs": {_key(a): c for a, c in zip(ks, cutoffs, strict=True)},
        "faiss_version": faiss.__version__,
        "faiss_threads": int(faiss.omp_get_max_threads()),
        "train_size": int(min(n, train_size)),
        "pssr": PSSR_NOTE,
        "indexes": rows,
    }


def _has_sa_codes(index) -> bool:
    try:
        return index.sa_code_size() > 0
    except RuntimeError:
        return False


def _key(k: float) -> str:
    return str(int(k)) if float(k) == int(k) else str(k)


def _mb(n_bytes: int | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 1e6:.2f}"


def render_tradeoff_markdown(report: dict) -> str:
    """The trade-off table: one row per index, recall and its loss in percent."""
    ns = list(report["indexes"][0]["recall_at_n"])
    ks = list(report["indexes"][0]["recall_at_percent"])
    head = (
        [f"R@{a}" for a in ns] + [f"R@{a}%" for a in ks] + [f"loss R@{ns[0]}"]
        + ["ms / query", "memory MB", "codes MB", "build s"]
    )  # fmt: skip
    lines = [
        f"# Search trade-off: {report['n_queries']} queries x {report['n_database']} "
        f"database, dim {report['dim']}, {report['metric']}",
        "",
        "| index | " + " | ".join(head) + " |",
        "|---|" + "---:|" * len(head),
    ]
    for r in report["indexes"]:
        cells = [f"{100 * v:.2f}" for v in r["recall_at_n"].values()]
        cells += [f"{100 * v:.2f}" for v in r["recall_at_percent"].values()]
        cells.append(f"{100 * r['recall_loss_at_n'][ns[0]]:.2f}")
        cells += [f"{r['ms_per_query']:.4f}", _mb(r["index_bytes"]), _mb(r["code_bytes"])]
        cells.append(f"{r['build_s']:.2f}")
        lines.append(f"| {r['index']} | " + " | ".join(cells) + " |")
    lines.append("")
    for r in report["indexes"][1:]:
        worst = max([*r["recall_loss_at_n"].values(), *r["recall_loss_at_percent"].values()])
        lines.append(
            f"- {r['index']}: "
            + (
                f"loses up to {100 * worst:.2f} points of recall against exact search"
                if r["lossy"]
                else "no recall lost against exact search"
            )
        )
    lines += [
        f"- Exact: the exact engine, ties {report['ties']}; indexes: their own list order.",
        f"- {report['pssr']}.",
        f"- Recall@K% cut-offs: {report['recall_at_percent_cutoffs']}; faiss "
        f"{report['faiss_version']}, {report['faiss_threads']} threads.",
        "",
    ]
    return "\n".join(lines)


def render_tradeoff_plot(report: dict) -> bytes:
    """Recall@N (the first N) against matching time per query, the memory of each index
    written beside its point (the shape of figure 4b of Berton et al. 2022). PNG bytes."""
    from vprmetrics.report.plots import figure_png, pyplot

    plt = pyplot()
    n1 = next(iter(report["indexes"][0]["recall_at_n"]))
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, r in enumerate(report["indexes"]):
        t, rec = r["ms_per_query"], 100 * r["recall_at_n"][n1]
        exact = i == 0
        ax.scatter([t], [rec], marker="*" if exact else "o", s=140 if exact else 50,
                   color="black" if exact else f"C{i}", zorder=3, label=r["index"])  # fmt: skip
        ax.annotate(f"{r['index_bytes'] / 1e6:.1f} MB", (t, rec), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("matching time per query (ms)")
    ax.set_ylabel(f"Recall@{n1} (%)")
    ax.set_title(
        f"{report['n_queries']} queries x {report['n_database']:,} database, dim {report['dim']}",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return figure_png(fig)
