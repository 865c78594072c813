"""Submissions: loading without pickle, validation problems one line each, hashes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vprmetrics.data.loaders import Dataset
from vprmetrics.data.protocol import load_protocol
from vprmetrics.data.submission import (
    descriptor_stats,
    load_submission,
    provenance,
    submission_hash,
)
from vprmetrics.data.validation import Problem, raise_for_problems, validate_submission
from vprmetrics.errors import InputError, InputTypeError, ProtocolError

RNG = np.random.default_rng(0)


@pytest.fixture
def dataset():
    p = load_protocol("pitts30k-test")
    return Dataset(
        p,
        None,
        np.array([f"db/{i}.jpg" for i in range(5)]),
        np.array(["q/0.jpg", "q/1.jpg"]),
        np.zeros((5, 2)),
        np.zeros((2, 2)),
    )


def save(tmp_path, **arrays):
    path = tmp_path / "s.npz"
    np.savez(path, **arrays)
    return load_submission(path)


def good(dataset):
    return dict(
        queries=RNG.standard_normal((2, 8)).astype("float32"),
        database=RNG.standard_normal((5, 8)).astype("float32"),
        query_ids=dataset.query_ids,
        database_ids=dataset.database_ids,
    )


def errors(problems):
    return [p.message for p in problems if p.severity == "error"]


def test_good_submission_has_no_problem(tmp_path, dataset):
    sub = save(tmp_path, **good(dataset))
    assert validate_submission(sub, dataset.protocol, dataset) == []
    assert sub.query_ids.dtype.kind == "U"


def test_two_npy_files_are_memory_mapped(tmp_path, dataset):
    arrays = good(dataset)
    np.save(tmp_path / "q.npy", arrays["queries"])
    np.save(tmp_path / "db.npy", arrays["database"])
    sub = load_submission([tmp_path / "q.npy", tmp_path / "db.npy"])
    assert isinstance(sub.database, np.memmap)
    assert validate_submission(sub, dataset.protocol, dataset) == []
    h = hashlib.sha256(
        (
            f"queries:{hashlib.sha256((tmp_path / 'q.npy').read_bytes()).hexdigest()}\n"
            f"database:{hashlib.sha256((tmp_path / 'db.npy').read_bytes()).hexdigest()}\n"
        ).encode()
    ).hexdigest()
    assert sub.sha256 == h


def test_hash_is_sha256_of_the_file(tmp_path, dataset):
    sub = save(tmp_path, **good(dataset))
    assert (
        submission_hash(tmp_path / "s.npz")
        == hashlib.sha256((tmp_path / "s.npz").read_bytes()).hexdigest()
    )
    assert sub.sha256 == submission_hash([tmp_path / "s.npz"])


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (dict(queries=np.ones((3, 8), "float32")), "queries has 3 rows but the dataset"),
        (dict(database=np.ones((5, 7), "float32")), "dim 8 but database has 7"),
        (dict(database=np.ones((5, 8), "int32")), "dtype int32, expected float"),
        (dict(queries=np.ones(8, "float32")), r"shape \(8,\)"),
        (dict(database_ids=np.array([f"db/{i}.jpg" for i in (1, 0, 2, 3, 4)])), "different order"),
        (
            dict(database_ids=np.array([f"db/{i}.jpg" for i in (0, 1, 2, 3, 9)])),
            "1 not in the protocol",
        ),
        (dict(database_ids=np.array([b"a", b"b", b"c", b"d", b"e"])), "unicode string array"),
        (dict(database_ids=np.array(["a", "a", "b", "c", "d"])), "repeats 'a'"),
        (dict(query_ids=np.array(["q/0.jpg"])), "1 entries but there are 2"),
    ],
)
def test_each_problem_is_one_line_with_a_fix(tmp_path, dataset, change, pattern):
    arrays = {**good(dataset), **change}
    problems = validate_submission(save(tmp_path, **arrays), dataset.protocol, dataset)
    msgs = errors(problems)
    assert msgs, problems
    assert any(__import__("re").search(pattern, m) for m in msgs), msgs
    assert all("\n" not in m and ";" in m for m in msgs)


def test_non_finite_rows_are_counted(tmp_path, dataset):
    arrays = good(dataset)
    arrays["database"][[1, 3], 0] = [np.nan, np.inf]
    msgs = errors(validate_submission(save(tmp_path, **arrays), dataset.protocol, dataset))
    assert msgs == [
        "database has 2 rows with NaN or inf (first: row 1); recompute or repair those descriptors"
    ]


def test_identical_rows_and_ignored_keys_are_warnings(tmp_path, dataset):
    arrays = good(dataset)
    arrays["database"][:] = 1.0
    problems = validate_submission(
        save(tmp_path, extra=np.zeros(1), **arrays), dataset.protocol, dataset
    )
    assert [p.severity for p in problems] == ["warning", "warning"]
    assert "identical" in problems[0].message and "'extra'" in problems[1].message


def test_without_dataset_counts_come_from_the_protocol(tmp_path):
    p = load_protocol("pitts30k-test")
    sub = save(
        tmp_path,
        queries=np.ones((2, 4), "float32") * [[1], [2]],
        database=np.eye(3, 4, dtype="float32"),
    )
    msgs = errors(validate_submission(sub, p))
    assert any("expects 6816" in m for m in msgs) and any("expects 10000" in m for m in msgs)
    unverified = validate_submission(sub, load_protocol("sf-xs-test"))
    assert {x.severity for x in unverified} == {"warning"}


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_submission(tmp_path / "none.npz")
    np.savez(tmp_path / "s.npz", queries=np.ones((1, 2)))
    with pytest.raises(InputError, match="no 'database' array"):
        load_submission(tmp_path / "s.npz")
    np.savez(
        tmp_path / "s.npz",
        queries=np.ones((1, 2)),
        database=np.ones((1, 2)),
        query_ids=np.array(["a"], dtype=object),
    )
    with pytest.raises(InputTypeError, match="never unpickled"):
        load_submission(tmp_path / "s.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"not an \.npz archive"):
        load_submission(tmp_path / "junk.npz")
    np.save(tmp_path / "q.npy", np.ones((1, 2)))
    with pytest.raises(InputError, match=r"single \.npy"):
        load_submission(tmp_path / "q.npy")
    np.save(tmp_path / "o.npy", np.array([{}], dtype=object))
    with pytest.raises((InputError, InputTypeError), match="Python objects"):
        load_submission([tmp_path / "q.npy", tmp_path / "o.npy"])


def test_raise_for_problems_and_report_parts(tmp_path, dataset):
    raise_for_problems([Problem("warning", "just a note")])
    with pytest.raises(ProtocolError, match=r"invalid submission: a; fix \(and 1 more"):
        raise_for_problems([Problem("error", "a; fix"), Problem("error", "b; fix")])
    sub = save(tmp_path, **good(dataset))
    stats = descriptor_stats(sub)
    assert stats["descriptor_dim"] == 8 and stats["bytes_per_descriptor"] == 32
    assert stats["database_bytes"] == 5 * 32
    prov = provenance(dataset.protocol, dataset.ground_truth(), sub)
    assert prov["protocol"] == "pitts30k-test" and prov["submission_sha256"] == sub.sha256
    assert len(prov["protocol_sha256"]) == len(prov["ground_truth_sha256"]) == 64


def test_swapped_queries_and_database_are_named_as_such(tmp_path):
    """Counts that match the protocol the other way round: the error says "swapped"."""
    from vprmetrics.data.submission import load_submission

    q, db = np.zeros((30, 4), np.float32), np.ones((12, 4), np.float32)
    np.save(tmp_path / "q.npy", q)
    np.save(tmp_path / "d.npy", db)
    np.savez(tmp_path / "s.npz", queries=q, database=db)
    for files in ([tmp_path / "q.npy", tmp_path / "d.npy"], tmp_path / "s.npz"):
        with pytest.raises(InputError, match="look swapped; give the queries first"):
            load_submission(files, expected_rows=(12, 30))
    assert load_submission(tmp_path / "s.npz", expected_rows=(30, 12)).queries.shape == (30, 4)
    with pytest.raises(InputError, match="rows but 13 are expected"):  # not a swap
        load_submission(tmp_path / "s.npz", expected_rows=(13, 30))
