r"""A hierarchical k-means tree (numpy + scipy only): search-space reduction and super-batches.

:class:`KMeansTree` clusters the rows of X recursively with k-means (``k`` children per
node, :func:`scipy.cluster.vq.kmeans2`, k-means++ seeding) until a node holds at most
``leaf_size`` rows. A search descends from the root to the nearest centroid at each level
(O(k log_k n) distance computations) and scans only the leaf it reaches, exhaustively.
This is the search tree Debnath et al. evaluate in the PSSR study; :meth:`search` returns
the indices scanned, so a caller scores the share of the database searched against the
recall it reaches. A tree whose leaf holds the whole database is exhaustive search.

:meth:`leaf_order` lists the rows leaf by leaf, depth first: consecutive rows share their
deepest common cluster, which is how :func:`reference_models.training.crossview.super_batches`
fills batches from one cluster.

>>> x = np.array([[0.0], [0.1], [10.0], [10.1]])
>>> tree = KMeansTree(x, k=2, leaf_size=2, seed=0)
>>> tree.search(np.array([0.05])).tolist(), tree.search(np.array([9.0])).tolist()
([0, 1], [2, 3])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.vq import kmeans2

from vprmetrics.errors import InputError

__all__ = ["KMeansTree"]


@dataclass
class _Node:
    rows: np.ndarray
    centroids: np.ndarray | None = None  # (k', dim) for an inner node
    children: list[_Node] = field(default_factory=list)


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared L2) of every point, ties to the lower index."""
    d = (centres**2).sum(1)[None, :] - 2.0 * points @ centres.T
    return d.argmin(axis=1)


class KMeansTree:
    """Recursive k-means buckets over ``data`` (n, dim); see the module docstring."""

    def __init__(
        self,
        data: np.ndarray,
        *,
        k: int = 4,
        leaf_size: int = 64,
        iterations: int = 20,
        seed: int = 0,
    ) -> None:
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0:
            raise InputError(f"k-means tree data must be (n, dim) with n > 0, got {x.shape}")
        if k < 2 or leaf_size < 1:
            raise InputError(f"k-means tree needs k >= 2 and leaf_size >= 1, got {k}, {leaf_size}")
        self.data, self.k, self.leaf_size = x, k, leaf_size
        self.iterations = iterations
        self.rng = np.random.default_rng(seed)
        self.root = self._build(np.arange(x.shape[0]))

    def _build(self, rows: np.ndarray) -> _Node:
        node = _Node(rows)
        pts = self.data[rows]
        if rows.size <= self.leaf_size or np.all(pts == pts[0]):
            return node
        k = min(self.k, rows.size)
        centres, labels = self._kmeans(pts, k)
        groups = [rows[labels == c] for c in range(centres.shape[0])]
        keep = [i for i, g in enumerate(groups) if g.size]
        if len(keep) < 2:  # k-means could not split: stop here
            return node
        node.centroids = centres[keep]
        node.children = [self._build(groups[i]) for i in keep]
        return node

    def _kmeans(self, pts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty cluster is dropped by _build
            centres, _ = kmeans2(
                pts, k, iter=self.iterations, minit="++", missing="warn", rng=self.rng
            )
        # assign to the nearest final centre, the rule search() descends by
        return centres, _nearest(pts, centres)

    def search(self, query: np.ndarray) -> np.ndarray:
        """Rows of the leaf reached by descending to the nearest centroid at each level."""
        q = np.asarray(query, dtype=np.float64).reshape(-1)
        node = self.root
        while node.children:
            assert node.centroids is not None
            node = node.children[int(_nearest(q[None, :], node.centroids)[0])]
        return node.rows

    def leaves(self) -> list[np.ndarray]:
        """The rows of every leaf, depth first."""
        out: list[np.ndarray] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(reversed(node.children))
            else:
                out.append(node.rows)
        return out

    def leaf_order(self) -> np.ndarray:
        """Every row once, leaf by leaf (depth first)."""
        return np.concatenate(self.leaves())

    def depth(self) -> int:
        """Levels of the deepest path (a single leaf: 0)."""

        def d(node: _Node) -> int:
            return 1 + max(map(d, node.children)) if node.children else 0

        return d(self.root)
