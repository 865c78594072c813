"""Fixtures of the sampler tests."""

import numpy as np
import pytest


@pytest.fixture
def line():
    """(database, queries) UTM coordinates: 40 database images 5 m apart on a line and a
    query 2.2 m from every fourth one."""
    db = np.stack([np.arange(40) * 5.0, np.zeros(40)], axis=1) + np.array([500000.0, 4e6])
    return db, db[::4] + np.array([1.0, 2.0])
