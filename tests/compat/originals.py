"""Faithful re-implementations of the two recall functions the drop-ins replace, written
from their published behaviour (faiss IndexFlatL2 top-k, then a first-hit loop).

* gsv-cities / MixVPR / SALAD ``utils/validation.py::get_validation_recalls``
* the VG benchmark's ``test.py::test`` (positives from sklearn ``NearestNeighbors``
  within 25 m of UTM, recall in percent and its ``recalls_str``)
"""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")


def gsv_get_validation_recalls(
    r_list, q_list, k_values, gt, print_results=True, dataset_name="dataset without name ?"
):
    prettytable = pytest.importorskip("prettytable")
    index = faiss.IndexFlatL2(r_list.shape[1])
    index.add(np.ascontiguousarray(r_list, dtype=np.float32))
    _, predictions = index.search(np.ascontiguousarray(q_list, dtype=np.float32), max(k_values))
    hits = np.zeros(len(k_values))
    for q, pred in enumerate(predictions):
        for i, k in enumerate(k_values):
            if np.any(np.isin(pred[:k], gt[q])):
                hits[i:] += 1
                break
    hits = hits / len(predictions)
    if print_results:
        print()
        table = prettytable.PrettyTable()
        table.field_names = ["K", *[str(k) for k in k_values]]
        table.add_row(["Recall@K", *[f"{100 * v:.2f}" for v in hits]])
        print(table.get_string(title=f"Performances on {dataset_name}"))
    return dict(zip(k_values, hits, strict=True)), predictions


class VGTestDataset:
    """The part of the VG benchmark's TestDataset the recall step reads."""

    def __init__(self, database_utms, queries_utms, positive_dist_threshold=25):
        neighbors = pytest.importorskip("sklearn.neighbors")
        knn = neighbors.NearestNeighbors(n_jobs=1)
        knn.fit(database_utms)
        self.positives_per_query = knn.radius_neighbors(
            queries_utms, radius=positive_dist_threshold, return_distance=False
        )
        self.database_num, self.queries_num = len(database_utms), len(queries_utms)

    def get_positives(self):
        return self.positives_per_query


def vg_test_recalls(eval_ds, queries_features, database_features, recall_values=(1, 5, 10, 20)):
    index = faiss.IndexFlatL2(database_features.shape[1])
    index.add(np.ascontiguousarray(database_features, dtype=np.float32))
    _, predictions = index.search(
        np.ascontiguousarray(queries_features, dtype=np.float32), max(recall_values)
    )
    positives = eval_ds.get_positives()
    recalls = np.zeros(len(recall_values))
    for q, pred in enumerate(predictions):
        for i, n in enumerate(recall_values):
            if np.any(np.isin(pred[:n], positives[q])):
                recalls[i:] += 1
                break
    recalls = recalls / eval_ds.queries_num * 100
    recalls_str = ", ".join(f"R@{n}: {r:.1f}" for n, r in zip(recall_values, recalls, strict=True))
    return recalls, recalls_str
