"""One call from descriptors and ground truth to every metric: :func:`evaluate`.

The report is a plain dictionary (the JSON report of the CLI); its keys are documented
in ``docs/api.md``. Every metric is a pure function of the ranking facts, so
:func:`evaluate_facts` re-scores saved facts without ranking again.

>>> import numpy as np
>>> from vprmetrics import Positives
>>> db = np.eye(3); q = np.eye(3) + 0.1
>>> ev = evaluate(q, db, Positives.one_to_one(3), recall_at=[1, 2], recall_at_percent=[50])
>>> ev.report["recall_at_n"], ev.report["recall_at_percent"]
({'1': 1.0, '2': 1.0}, {'50': 1.0})
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vprmetrics.checks import as_cutoffs, as_percentages
from vprmetrics.errors import InputError
from vprmetrics.geo.geodesy import as_geo_coordinates
from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.geo_error import (
    GEO_ERROR_BINS_M,
    geo_error_histogram,
    recall_vs_threshold,
    retrieved_geo_error_m,
)
from vprmetrics.metrics.intervals import INTERVAL_CODE, bootstrap_interval, interval_method
from vprmetrics.metrics.pssr import pssr, pssr_per_query
from vprmetrics.metrics.recall import (
    PERCENT_CONVENTIONS,
    per_query_success,
    percent_cutoffs,
    percent_policy,
    percent_tie_bounds,
    recall_at_n,
    recall_at_percent,
    scored_mask,
    tie_bounds,
)
from vprmetrics.metrics.retrieval import (
    average_precision_per_query,
    map_at_k,
    precision_at_k,
    precision_per_query,
)
from vprmetrics.metrics.ties import check_policy
from vprmetrics.ranking.distances import check_metric
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.report.chance import chance_recall
from vprmetrics.report.writers import PER_QUERY_COLUMNS

__all__ = ["Evaluation", "EvaluationSettings", "evaluate", "evaluate_facts"]


@dataclass(frozen=True)
class EvaluationSettings:
    """What to compute; the defaults follow the VG benchmark (N = 1, 5, 10, 20)."""

    metric: str = "l2"
    ties: str = "expected"
    recall_at: Sequence[int] = (1, 5, 10, 20)
    recall_at_percent: Sequence[float] = (1,)
    percent_convention: str = "ceil"
    no_positive: str = "miss"
    map_at: Sequence[int] = (1, 5, 10, 20)
    coords: str = "utm"
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0
    tie_rtol: float = 1e-9

    def checked(self, n_database: int) -> EvaluationSettings:
        check_metric(self.metric)
        check_policy(self.ties)
        if self.percent_convention not in PERCENT_CONVENTIONS:
            raise InputError(
                f"Recall@K% convention {self.percent_convention!r} is unknown; use one of "
                f"{', '.join(PERCENT_CONVENTIONS)}"
            )
        if not 0 < self.confidence < 1:
            raise InputError(f"confidence {self.confidence} must be in (0, 1), e.g. 0.95")
        ns = as_cutoffs(self.recall_at, "N")
        maps = [k for k in as_cutoffs(self.map_at, "mAP k") if k <= n_database]
        return EvaluationSettings(
            **{
                **self.__dict__,
                "recall_at": ns,
                "recall_at_percent": as_percentages(self.recall_at_percent, "K"),
                "map_at": maps,
            }
        )


@dataclass
class Evaluation:
    """The facts, the inputs' geography and the report of one evaluation."""

    facts: RankingFacts
    positives: Positives
    settings: EvaluationSettings
    report: dict = field(default_factory=dict)
    query_coords: np.ndarray | None = None
    database_coords: np.ndarray | None = None

    def per_query_rows(self) -> list[dict]:
        """One row per query (in query order), keyed by
        :data:`~vprmetrics.report.writers.PER_QUERY_COLUMNS`; facts that need a positive are
        ``None`` for a query without one, a geographic error ``None`` without coordinates."""
        f = self.facts
        top1 = f.topk_ids[:, 0]
        err = (
            retrieved_geo_error_m(
                self.query_coords, self.database_coords, top1, self.settings.coords
            )
            if self.query_coords is not None and self.database_coords is not None
            else np.full(f.n_queries, np.nan)
        )
        # column -> (values, Python type, defined only for queries with a positive)
        columns: dict[str, tuple[np.ndarray, type, bool]] = {
            "query": (np.arange(f.n_queries), int, False),
            "n_positives": (f.n_positives, int, False),
            "d_star": (f.d_star, float, True),
            "closer": (f.closer, int, True),
            "tied_negatives": (f.tied_negatives, int, True),
            "tied_positives": (f.tied_positives, int, True),
            "pssr": (pssr_per_query(f), float, True),
            "top1": (top1, int, False),
            "top1_error_m": (err, float, False),
        }
        assert tuple(columns) == PER_QUERY_COLUMNS, "one list of per-query columns"
        has = f.has_positive

        def cell(name: str, q: int):
            values, kind, needs_positive = columns[name]
            value = values[q]
            if (needs_positive and not has[q]) or (kind is float and not np.isfinite(value)):
                return None
            return kind(value)

        return [{name: cell(name, q) for name in PER_QUERY_COLUMNS} for q in range(f.n_queries)]

    def to_frame(self):
        """The report's headline numbers as a pandas DataFrame (see ``report/frames.py``)."""
        from vprmetrics.report.frames import report_frame

        return report_frame(self.report)

    def per_query_frame(self):
        """One row per query as a pandas DataFrame (the per-query CSV's columns)."""
        from vprmetrics.report.frames import per_query_frame

        return per_query_frame(self.per_query_rows())


def _str_keys(values: dict) -> dict:
    return {_key(k): v for k, v in values.items()}


def _keyed(keys: Sequence, values: Sequence) -> dict:
    """``{_key(k): v}`` for paired cut-offs and values."""
    return {_key(k): v for k, v in zip(keys, values, strict=True)}


def _key(k) -> str:
    """JSON key of a cut-off: ``1`` -> ``"1"``, ``0.5`` -> ``"0.5"``."""
    if isinstance(k, str):
        return k
    return str(int(k)) if float(k) == int(k) else str(k)


def _intervals(
    groups: dict[str, tuple[Sequence, np.ndarray]], s: EvaluationSettings
) -> dict[str, dict[str, list[float]]]:
    """The bootstrap interval of every column of every group, ``{group: {key: [lo, hi]}}``.

    All columns go through one :func:`bootstrap_interval` call: a column's interval
    depends only on its own per-query values and the seed, so this changes no number, and
    the percentile bootstrap draws its resamples once for all of them.
    """
    values = np.concatenate([v for _, v in groups.values()], axis=1)
    lo, hi = bootstrap_interval(values, s.confidence, s.n_resamples, s.seed)
    out, start = {}, 0
    for name, (keys, v) in groups.items():
        part = slice(start, start + v.shape[1])
        out[name] = {
            _key(k): [float(a), float(b)] for k, a, b in zip(keys, lo[part], hi[part], strict=True)
        }
        start = part.stop
    return out


def _geography(ev: Evaluation, s: EvaluationSettings, mask: np.ndarray) -> dict:
    f = ev.facts
    assert ev.query_coords is not None and ev.database_coords is not None
    errors = retrieved_geo_error_m(ev.query_coords, ev.database_coords, f.topk_ids[:, 0], s.coords)
    hist = geo_error_histogram(errors[mask])
    ns = [n for n in s.recall_at if n <= f.k]
    curve = recall_vs_threshold(
        ev.query_coords[mask], ev.database_coords, f.topk_ids[mask], ns=ns, coords=s.coords
    )
    edges = [float(e) if np.isfinite(e) else None for e in GEO_ERROR_BINS_M]
    return {
        "retrieved": "top-1 (ties broken by lowest database index)",
        "edges_m": edges,
        "counts": [int(c) for c in hist.counts],
        "fractions": [float(v) for v in hist.fractions],
        "cdf": [float(v) for v in hist.cdf],
        "median": None if not np.isfinite(hist.median_m) else float(hist.median_m),
        "recall_vs_threshold": {
            "thresholds_m": [float(t) for t in curve.thresholds_m],
            "recall": {
                str(n): [float(v) for v in row]
                for n, row in zip(curve.ns, curve.recall, strict=True)
            },
        },
    }


def evaluate_facts(
    facts: RankingFacts,
    positives: Positives,
    settings: EvaluationSettings | None = None,
    *,
    query_coords: np.ndarray | None = None,
    database_coords: np.ndarray | None = None,
) -> Evaluation:
    """Every metric of the report from saved or fresh ranking facts.

    Every number comes from the public metric functions (:func:`recall_at_n`,
    :func:`recall_at_percent`, :func:`tie_bounds`, :func:`percent_tie_bounds`,
    :func:`precision_at_k`, :func:`map_at_k`, :func:`pssr`), and every interval from the
    per-query values behind them, so the report equals what those functions return.
    """
    s = (settings or EvaluationSettings()).checked(facts.n_database)
    ev = Evaluation(facts, positives, s, query_coords=query_coords, database_coords=database_coords)
    mask = scored_mask(facts, s.no_positive)
    n = facts.n_database
    ns = s.recall_at
    if ns[-1] > facts.k:
        raise InputError(
            f"N = {ns[-1]} exceeds the ranked top-k ({facts.k}); rank with k >= {ns[-1]}"
        )
    ks = s.recall_at_percent
    conv = s.percent_convention
    pct_policy = percent_policy(conv, s.ties)
    cutoffs = percent_cutoffs(ks, n, conv)
    ps = pssr(facts, s.no_positive)
    maps = s.map_at

    def per_query(values: list[np.ndarray]) -> np.ndarray:
        return np.stack(values, axis=1)[mask] if values else np.zeros((int(mask.sum()), 0))

    intervals = _intervals(
        {
            "recall_at_n": (ns, per_query_success(facts, ns, s.ties)[mask]),
            "recall_at_percent": (ks, per_query_success(facts, cutoffs, pct_policy)[mask]),
            "pssr_mean": (["mean"], ps.per_query[:, None]),
            "map_at_k": (
                maps,
                per_query([average_precision_per_query(facts, positives, k) for k in maps]),
            ),
            "precision_at_k": (
                maps,
                per_query([precision_per_query(facts, positives, k) for k in maps]),
            ),
        },
        s,
    )
    method = interval_method(int(mask.sum()))
    report = {
        "n_queries": facts.n_queries,
        "n_database": n,
        "n_scored": int(mask.sum()),
        "n_without_positives": int((~facts.has_positive).sum()),
        "no_positive": s.no_positive,
        "metric": facts.metric,
        "ties": s.ties,
        "tie_rtol": facts.tie_rtol,
        "recall_at_n": _str_keys(recall_at_n(facts, ns, s.ties, s.no_positive)),
        "recall_at_percent": _str_keys(recall_at_percent(facts, ks, s.ties, s.no_positive, conv)),
        "recall_at_percent_cutoffs": {_key(k): c for k, c in zip(ks, cutoffs, strict=True)},
        "recall_at_percent_convention": conv,
        "recall_at_percent_ties": pct_policy,
        "chance": {
            "recall_at_n": _keyed(ns, chance_recall(facts.n_positives[mask], n, ns)),
            "recall_at_percent": _keyed(ks, chance_recall(facts.n_positives[mask], n, cutoffs)),
        },
        "pssr": {
            "mean": ps.mean,
            "median": ps.median,
            "histogram": {
                "edges": [float(e) for e in ps.histogram_edges],
                "counts": [int(c) for c in ps.histogram_counts],
            },
            "fraction_for_recall": {_key(t): v for t, v in ps.fraction_for_recall.items()},
        },
        "map_at_k": _str_keys(map_at_k(facts, positives, maps, s.no_positive)) if maps else {},
        "precision_at_k": (
            _str_keys(precision_at_k(facts, positives, maps, s.no_positive)) if maps else {}
        ),
        "tie_bounds": {
            "recall_at_n": _str_keys(tie_bounds(facts, ns, s.no_positive)),
            "recall_at_percent": _str_keys(percent_tie_bounds(facts, ks, s.no_positive, conv)),
        },
        "confidence_intervals": {
            "level": s.confidence,
            "method": f"{method} bootstrap over queries ({INTERVAL_CODE[method]})",
            "n_resamples": s.n_resamples,
            "seed": s.seed,
            **intervals,
            "pssr_mean": intervals["pssr_mean"]["mean"],
        },
    }
    if query_coords is not None:
        report["geo_error_m"] = _geography(ev, s, mask)
    ev.report = report
    return ev


def _n_groups(labels) -> int:
    labels = np.asarray(labels)
    return int(labels.max()) + 1 if labels.size and np.issubdtype(labels.dtype, np.integer) else 0


def evaluate(
    queries: np.ndarray,
    database: np.ndarray,
    positives: Positives,
    *,
    query_coords: np.ndarray | None = None,
    database_coords: np.ndarray | None = None,
    backend: str = "numpy",
    block_size: int | None = None,
    progress: bool | None = None,
    ranker: Callable[..., RankingFacts] = rank,
    database_groups=None,
    query_groups=None,
    **settings,
) -> Evaluation:
    """Rank ``database`` for every query exactly, then compute every metric of the report.

    ``settings`` are the fields of :class:`EvaluationSettings` (``metric``, ``ties``,
    ``recall_at``, ``recall_at_percent``, ``percent_convention``, ``no_positive``,
    ``map_at``, ``coords``, ``confidence``, ``n_resamples``, ``seed``, ``tie_rtol``).
    Coordinates (``(n, 2)``, UTM metres or lat/lon degrees per ``coords``) add the
    geographic error section. ``ranker`` replaces :func:`~vprmetrics.ranking.engine.rank`
    (same arguments), e.g. by a sharded or distributed ranking. ``database_groups`` /
    ``query_groups`` (one label per row, each group's rows consecutive) rank groups by their
    closest member pair; then ``positives`` and the coordinates are one per group.
    """
    unknown = set(settings) - set(EvaluationSettings.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown evaluation setting(s) {sorted(unknown)}; see EvaluationSettings")
    n = len(database) if database_groups is None else _n_groups(database_groups)
    nq = len(queries) if query_groups is None else _n_groups(query_groups)
    s = EvaluationSettings(**settings).checked(n)
    if (query_coords is None) != (database_coords is None):
        raise InputError("give both query_coords and database_coords, or neither")
    if query_coords is not None and database_coords is not None:
        query_coords = as_geo_coordinates(query_coords, "query coordinates", s.coords, nq)
        database_coords = as_geo_coordinates(database_coords, "database coordinates", s.coords, n)
    k = max([*s.recall_at, *s.map_at])
    if k > n:
        raise InputError(f"N = {k} exceeds the database size {n}; ask for N <= {n}")
    grouped = database_groups is not None or query_groups is not None
    groups = dict(database_groups=database_groups, query_groups=query_groups) if grouped else {}
    start = time.perf_counter()
    facts = ranker(
        queries,
        database,
        positives,
        metric=s.metric,
        k=k,
        tie_rtol=s.tie_rtol,
        block_size=block_size,
        backend=backend,
        progress=progress,
        **groups,
    )
    seconds = time.perf_counter() - start
    ev = evaluate_facts(
        facts, positives, s, query_coords=query_coords, database_coords=database_coords
    )
    if grouped:
        ev.report["groups"] = {
            "reduction": "min over member pairs",
            "database_groups": n,
            "database_rows": len(database),
            "query_groups": nq,
            "query_rows": len(queries),
        }
    ev.report["timing"] = {
        "ranking_s": seconds,
        "per_query_ms": 1000.0 * seconds / max(1, facts.n_queries),
        "backend": backend,
    }
    return ev
