"""The train/val siblings of a VG-layout protocol."""

import dataclasses

import pytest

from reference_models.training.splits import open_split, split_protocol
from vprmetrics.data.protocol import load_protocol
from vprmetrics.errors import InputError


def test_split_protocol_swaps_the_split_folder(tiny):
    protocol = load_protocol("tinytown")
    val = split_protocol(protocol, "val")
    assert val.database.path == "images/val/database" and val.name == "tinytown[val]"
    assert val.queries.path == "images/val/queries" and val.database.count is None
    assert split_protocol(protocol, "test") is protocol
    with pytest.raises(InputError, match="layout"):
        split_protocol(dataclasses.replace(protocol, layout="csv"), "val")


def test_open_split_by_word_or_protocol_name(tiny):
    train = open_split("tinytown", tiny, "train")
    assert (train.n_database, train.n_queries) == (20, 10)
    assert train.database_ids[0].startswith("images/train/database/")
    assert open_split("tinytown", tiny, "tinytown").protocol.name == "tinytown"
