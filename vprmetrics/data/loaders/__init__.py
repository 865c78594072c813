"""Dataset loaders: turn a dataset folder and a protocol into ordered ids, coordinates
and ground truth.

:func:`load_dataset` dispatches on ``protocol.layout`` (``vg``, ``msls``, ``cvusa``,
``csv``) and checks the counts against the protocol.
:func:`load_ground_truth_npz` reads the same facts from a ``GT.npz`` for users who have
the coordinates but not the images.

>>> import numpy as np, tempfile, pathlib
>>> from vprmetrics.data.protocol import load_protocol
>>> p = load_protocol("pitts30k-test")
>>> ds = Dataset(p, None, np.array(["d0", "d1"]), np.array(["q0"]),
...              np.array([[0.0, 0.0], [0.0, 30.0]]), np.array([[0.0, 25.0]]))
>>> ds.ground_truth().ids.tolist()
[0, 1]
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gt.npz"
>>> save_ground_truth_npz(path, ds)
>>> again = load_ground_truth_npz(path, p, strict_counts=False)  # 2 of 10,000 images
>>> ground_truth_hash(again.ground_truth()) == ground_truth_hash(ds.ground_truth())
True
"""

from __future__ import annotations

from vprmetrics.data.loaders._common import SideData
from vprmetrics.data.loaders.dataset import Dataset
from vprmetrics.data.loaders.ground_truth_file import (
    ground_truth_hash,
    load_ground_truth_npz,
    save_ground_truth_npz,
)
from vprmetrics.data.loaders.registry import LOADERS, load_dataset, open_dataset

__all__ = [
    "LOADERS",
    "Dataset",
    "SideData",
    "ground_truth_hash",
    "load_dataset",
    "load_ground_truth_npz",
    "open_dataset",
    "save_ground_truth_npz",
]
