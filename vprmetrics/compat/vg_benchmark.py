"""The recall step of the Deep Visual Geo-localization Benchmark's ``test()``, exact.

In the VG benchmark (Berton et al., CVPR 2022; ``test.py``) ``test()`` searches a faiss
``IndexFlatL2`` of the database for the top ``max(recall_values)`` of every query, takes
the positives from ``eval_ds.get_positives()`` (database images within 25 m in UTM),
counts a query for ``N`` when one of its first ``N`` predictions is a positive, and
returns ``recalls`` (a numpy array, percent) and ``recalls_str``
(``"R@1: 80.2, R@5: 90.1, ..."``). Replace those lines with one call::

    from vprmetrics.compat.vg_benchmark import compute_recalls
    recalls, recalls_str = compute_recalls(eval_ds, queries_features, database_features,
                                           args.recall_values)

``eval_ds`` is their dataset object (anything with ``get_positives()``), a sequence of
positive-index arrays (one per query), or a :class:`~vprmetrics.Positives`. The ranking is
exact and ties are broken by the lowest database index (``ties="stable"``: what faiss
returns when distances differ); one warning line says when ties would change a value.

:func:`read_utm` reads the UTM coordinates from VG-style file names
(``@easting@northing@...@.jpg``) for ``vprmetrics evaluate --query-utm``.

>>> import numpy as np
>>> db = np.array([[0.0], [1.0], [2.0], [3.0]]); q = np.array([[0.1], [1.2], [2.9]])
>>> recalls, recalls_str = compute_recalls([[0], [2], [3]], q, db, [1, 2])
>>> recalls_str
'R@1: 66.7, R@2: 100.0'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vprmetrics.compat._common import as_numpy, as_positives, exact_recalls
from vprmetrics.data.loaders._common import IMAGE_EXTENSIONS
from vprmetrics.data.loaders.vg import parse_vg_name
from vprmetrics.errors import InputError

__all__ = ["RECALL_VALUES", "compute_recalls", "read_utm"]

RECALL_VALUES: tuple[int, ...] = (1, 5, 10, 20)


def compute_recalls(
    eval_ds,
    queries_features,
    database_features,
    recall_values: Sequence[int] = RECALL_VALUES,
    *,
    ties: str = "stable",
) -> tuple[np.ndarray, str]:
    """``(recalls, recalls_str)`` as the VG benchmark's ``test()`` returns them: Recall@N in
    percent for each N of ``recall_values``, and ``"R@1: 80.2, R@5: 90.1, ..."``."""
    database = as_numpy(database_features)
    gt = eval_ds.get_positives() if hasattr(eval_ds, "get_positives") else eval_ds
    positives = as_positives(gt, len(database))
    result = exact_recalls(
        queries_features,
        database,
        positives,
        recall_values,
        ties,
        caller="vprmetrics.compat.vg_benchmark",
    )
    recalls = np.array([100 * result.recall[int(n)] for n in recall_values])
    recalls_str = ", ".join(f"R@{n}: {r:.1f}" for n, r in zip(recall_values, recalls, strict=True))
    return recalls, recalls_str


def _paths(source: str | Path | Iterable[str | Path]) -> list[str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise InputError(f"no .jpg/.jpeg/.png images found below {path}")
            return found
        if path.is_file():
            return [line.strip() for line in path.read_text().splitlines() if line.strip()]
        raise InputError(f"{path} is neither a folder of images nor a file listing them")
    return [str(p) for p in source]


def read_utm(source: str | Path | Iterable[str | Path]) -> np.ndarray:
    """``(n, 2)`` float64 UTM easting, northing from VG-style image names.

    ``source`` is a folder (every .jpg/.jpeg/.png below it, in sorted order of the paths,
    as the VG benchmark's sorted glob lists them), a text file with one image path a
    line (its order kept), or a list of paths. Each name must have the 16 ``@``-separated
    fields of the VG format; only the file name is read, never the image.

    >>> read_utm(["db/@0584744.97@4476709.92@17@T@040.44123@-079.99585@@@@@@@@@.jpg"])
    array([[ 584744.97, 4476709.92]])
    """
    names = [parse_vg_name(p) for p in _paths(source)]
    if not names:
        raise InputError("no image paths given; list one VG-style image path a line")
    return np.array([(n.easting, n.northing) for n in names], dtype=np.float64)
