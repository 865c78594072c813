"""hypothesis strategies for descriptor sets full of ties and duplicates."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

QUANTIZED = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])
FLOATS = st.floats(-4, 4, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def problems(draw, max_n=24, max_q=6, max_dim=4, allow_empty_positives=True):
    """(queries, database, positive lists) with quantized, constant, duplicated or random rows."""
    dim = draw(st.integers(1, max_dim))
    n = draw(st.integers(1, max_n))
    nq = draw(st.integers(1, max_q))
    kind = draw(st.sampled_from(["quantized", "constant", "duplicated", "random"]))
    if kind == "constant":
        value = draw(QUANTIZED)
        database = np.full((n, dim), value)
        queries = draw(hnp.arrays(np.float64, (nq, dim), elements=QUANTIZED))
    elif kind == "duplicated":
        distinct = draw(hnp.arrays(np.float64, (draw(st.integers(1, 3)), dim), elements=FLOATS))
        rows = draw(st.lists(st.integers(0, distinct.shape[0] - 1), min_size=n, max_size=n))
        database = distinct[rows]
        qrows = draw(st.lists(st.integers(0, distinct.shape[0] - 1), min_size=nq, max_size=nq))
        queries = distinct[qrows]
    else:
        elements = QUANTIZED if kind == "quantized" else FLOATS
        database = draw(hnp.arrays(np.float64, (n, dim), elements=elements))
        queries = draw(hnp.arrays(np.float64, (nq, dim), elements=elements))
    min_size = 0 if allow_empty_positives else 1
    positives = [
        sorted(set(draw(st.lists(st.integers(0, n - 1), min_size=min_size, max_size=n))))
        for _ in range(nq)
    ]
    return queries, database, positives
