"""Run-folder files: atomic writes, weights-only reads, RNG state round trips."""

import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference_models.training.checkpoints import (  # noqa: E402
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    write_json,
)
from reference_models.training.pairs import PairMiner  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402


class _NotATensor:
    pass


def test_checkpoint_round_trip_leaves_no_temporary_file(tmp_path):
    state = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "history": json.dumps([{"a": 1}])}
    save_checkpoint(tmp_path / "last.pt", state)
    write_json(tmp_path / "log.json", {"epoch": 2})
    back = load_checkpoint(tmp_path / "last.pt")
    assert torch.equal(back["model"]["w"], state["model"]["w"]) and back["epoch"] == 2
    assert json.loads((tmp_path / "log.json").read_text()) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt", "log.json"]


def test_checkpoints_never_unpickle_objects(tmp_path):
    torch.save({"payload": _NotATensor()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="holds Python objects, which are never unpickled"):
        load_checkpoint(tmp_path / "evil.pt")


def test_rng_state_repeats_the_next_draws(tmp_path):
    db = np.stack([np.arange(10) * 10.0, np.zeros(10)], axis=1)
    sampler = PairMiner(db, db + 1.0, negative_rank=3, seed=1)
    save_checkpoint(tmp_path / "rng.pt", {"rng": rng_state(sampler)})
    first = (torch.rand(2).tolist(), random.random(), sampler.sample_queries(3).tolist())
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"], sampler)
    assert (torch.rand(2).tolist(), random.random(), sampler.sample_queries(3).tolist()) == first
