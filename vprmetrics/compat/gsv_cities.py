"""Drop-in ``get_validation_recalls`` for gsv-cities, MixVPR, SALAD, BoQ and their forks.

Switch with one import::

    -from utils.validation import get_validation_recalls
    +from vprmetrics.compat.gsv_cities import get_validation_recalls

The signature and the return value are those of the function in those codebases
(``utils/validation.py``): ``r_list`` the database (reference) descriptors, ``q_list``
the query descriptors, ``gt[q]`` the positive database indices of query ``q``; it returns
``{k: Recall@k}`` as fractions and prints the same table. The originals search a faiss
``IndexFlatL2`` for the top ``max(k_values)`` and count a query for ``k`` when one of its
first ``k`` predictions is in ``gt[q]``, over all queries (a query without positives is a
miss).

Here the ranking is exact (float32 GEMM, float64 re-decision near the best positive) and
ties are broken by the lowest database index (``ties="stable"``), which is what faiss
returns when distances differ: on tie-free data the numbers are the same. When tied
distances, or the float16 GPU index the originals build with ``faiss_gpu=True``, would
change a value, one warning line says so and the exact value is returned. Arrays may be
numpy arrays or torch tensors (CPU or CUDA).

``return_predictions=True`` returns ``(recalls, predictions)`` as the current gsv-cities
does; ``testing=True`` returns only the predictions, as SALAD does.

>>> import numpy as np
>>> db = np.array([[0.0], [1.0], [2.0], [3.0]]); q = np.array([[0.1], [1.2], [2.9]])
>>> get_validation_recalls(db, q, [1, 2], [[0], [2], [3]], print_results=False)
{1: 0.6666666666666666, 2: 1.0}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vprmetrics.compat._common import as_numpy, as_positives, exact_recalls

__all__ = ["format_table", "get_validation_recalls"]


def format_table(k_values: Sequence[int], recalls: Sequence[float], title: str) -> str:
    """The originals' printed table (a ``prettytable`` layout), percentages with two
    decimals.

    >>> print(format_table([1, 5], [0.5, 1.0], "Performances on demo"))
    +---------------------------+
    |    Performances on demo   |
    +----------+-------+--------+
    |    K     |   1   |   5    |
    +----------+-------+--------+
    | Recall@K | 50.00 | 100.00 |
    +----------+-------+--------+
    """
    header = ["K", *[str(k) for k in k_values]]
    row = ["Recall@K", *[f"{100 * v:.2f}" for v in recalls]]
    widths = [max(len(a), len(b)) + 2 for a, b in zip(header, row, strict=True)]
    inner = sum(widths) + len(widths) - 1
    if len(title) + 2 > inner:  # a title wider than the table widens its last column
        widths[-1] += len(title) + 2 - inner
        inner = len(title) + 2

    def cells(values: list[str]) -> str:
        return "|" + "|".join(_center(v, w) for v, w in zip(values, widths, strict=True)) + "|"

    rule = "+" + "+".join("-" * w for w in widths) + "+"
    return "\n".join(
        [
            "+" + "-" * inner + "+",
            "|" + _center(title, inner) + "|",
            rule,
            cells(header),
            rule,
            cells(row),
            rule,
        ]
    )


def _center(text: str, width: int) -> str:
    """A cell as prettytable draws it: one space each side, ``str.center`` inside."""
    return " " + text.center(width - 2) + " "


def get_validation_recalls(
    r_list,
    q_list,
    k_values: Sequence[int],
    gt,
    print_results: bool = True,
    faiss_gpu: bool = False,
    dataset_name: str = "dataset without name ?",
    testing: bool = False,
    *,
    return_predictions: bool = False,
    ties: str = "stable",
):
    """``{k: Recall@k}`` (fractions) of ``q_list`` against ``r_list``; see the module doc.

    ``faiss_gpu`` does not move the computation to a GPU: it checks whether the
    original's float16 GPU index would have given other numbers, and warns if so.
    ``ties`` is any vprmetrics tie policy (``"expected"`` for the unbiased value).
    """
    database, queries = as_numpy(r_list), as_numpy(q_list)
    positives = as_positives(gt, len(database))
    result = exact_recalls(
        queries,
        database,
        positives,
        k_values,
        ties,
        float16_index=faiss_gpu,
        caller="vprmetrics.compat.gsv_cities",
    )
    n = len(database)
    predictions = result.facts.topk_ids[:, : min(max(int(k) for k in k_values), n)]
    if max(int(k) for k in k_values) > n:  # faiss pads with -1 beyond the database
        pad = np.full((len(predictions), max(int(k) for k in k_values) - n), -1, np.int64)
        predictions = np.concatenate([predictions, pad], axis=1)
    if testing:
        return predictions
    recalls = {k: result.recall[int(k)] for k in k_values}
    if print_results:
        print()
        print(
            format_table(list(k_values), list(recalls.values()), f"Performances on {dataset_name}")
        )
    return (recalls, predictions) if return_predictions else recalls
