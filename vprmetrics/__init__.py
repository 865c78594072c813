"""vprmetrics: exact metrics for visual place recognition and cross-view geo-localization.

>>> import numpy as np, vprmetrics as vm
>>> db = np.eye(4, dtype=np.float32); q = db + 0.1
>>> ev = vm.evaluate(q, db, vm.Positives.one_to_one(4), recall_at=[1])
>>> ev.report["recall_at_n"]
{'1': 1.0}
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from vprmetrics.engine import rank
from vprmetrics.errors import (
    InputError,
    InputTypeError,
    MissingDependencyError,
    ProtocolError,
    VPRMetricsError,
)
from vprmetrics.evaluation import Evaluation, EvaluationSettings, evaluate, evaluate_facts
from vprmetrics.facts import RankingFacts
from vprmetrics.geo_error import geo_error_histogram, recall_vs_threshold, retrieved_geo_error_m
from vprmetrics.ground_truth import positives_from_pairs, positives_within_radius
from vprmetrics.positives import Positives
from vprmetrics.pssr import pssr
from vprmetrics.recall import percent_cutoff, recall_at_n, recall_at_percent, tie_bounds
from vprmetrics.report import write_outputs
from vprmetrics.retrieval import map_at_k, precision_at_k
from vprmetrics.shards import rank_sharded

try:
    __version__ = version("vprmetrics")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

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
