"""vprmetrics: exact metrics for visual place recognition and cross-view geo-localization.

>>> import numpy as np, vprmetrics as vm
>>> db = np.eye(4, dtype=np.float32); q = db + 0.1
>>> ev = vm.evaluate(q, db, vm.Positives.one_to_one(4), recall_at=[1])
>>> ev.report["recall_at_n"]
{'1': 1.0}
"""

from __future__ import annotations

from vprmetrics._version import __version__
from vprmetrics.errors import (
    InputError,
    InputTypeError,
    MissingDependencyError,
    ProtocolError,
    VPRMetricsError,
)
from vprmetrics.geo.ground_truth import positives_from_pairs, positives_within_radius
from vprmetrics.geo.positives import Positives
from vprmetrics.metrics.geo_error import (
    geo_error_histogram,
    recall_vs_threshold,
    retrieved_geo_error_m,
)
from vprmetrics.metrics.pssr import pssr
from vprmetrics.metrics.recall import percent_cutoff, recall_at_n, recall_at_percent, tie_bounds
from vprmetrics.metrics.retrieval import map_at_k, precision_at_k
from vprmetrics.ranking.engine import rank
from vprmetrics.ranking.facts import RankingFacts
from vprmetrics.ranking.shards import rank_sharded
from vprmetrics.report.evaluation import Evaluation, EvaluationSettings, evaluate, evaluate_facts
from vprmetrics.report.writers import write_outputs

__all__ = [
    "Evaluation",
    "EvaluationSettings",
    "InputError",
    "InputTypeError",
    "MissingDependencyError",
    "Positives",
    "ProtocolError",
    "RankingFacts",
    "VPRMetricsError",
    "__version__",
    "evaluate",
    "evaluate_facts",
    "geo_error_histogram",
    "map_at_k",
    "percent_cutoff",
    "positives_from_pairs",
    "positives_within_radius",
    "precision_at_k",
    "pssr",
    "rank",
    "rank_sharded",
    "recall_at_n",
    "recall_at_percent",
    "recall_vs_threshold",
    "retrieved_geo_error_m",
    "tie_bounds",
    "write_outputs",
]
