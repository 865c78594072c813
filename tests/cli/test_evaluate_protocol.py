"""`vprmetrics evaluate --protocol`: a submission scored with the protocol's settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vprmetrics.cli import main
from vprmetrics.data.loaders import Dataset, save_ground_truth_npz
from vprmetrics.data.protocol import load_protocol, protocol_hash


@pytest.fixture
def cvusa(tmp_path):
    protocol = load_protocol("cvusa")
    n = protocol.queries.count
    ids = [f"{i:07d}.jpg" for i in range(n)]
    gt = Dataset(
        protocol,
        None,
        database_ids=np.asarray([f"bingmap/19/{i}" for i in ids], dtype=str),
        query_ids=np.asarray([f"streetview/panos/{i}" for i in ids], dtype=str),
    )
    save_ground_truth_npz(tmp_path / "GT.npz", gt)
    rng = np.random.default_rng(0)
    database = rng.standard_normal((n, 16)).astype("float32")
    queries = database + 0.5 * rng.standard_normal((n, 16)).astype("float32")
    np.savez(
        tmp_path / "S.npz",
        queries=queries,
        database=database,
        query_ids=gt.query_ids,
        database_ids=gt.database_ids,
    )
    return tmp_path


def _evaluate(tmp, submission="S.npz", *extra):
    return main(
        [
            "evaluate",
            "--protocol",
            "cvusa",
            "--ground-truth",
            str(tmp / "GT.npz"),
            "--submission",
            str(tmp / submission),
            "--json",
            str(tmp / "r.json"),
            *extra,
        ]
    )


def test_scores_with_protocol_settings_and_records_provenance(cvusa):
    assert _evaluate(cvusa) == 0
    report = json.loads((cvusa / "r.json").read_text())
    protocol = load_protocol("cvusa")
    assert report["protocol"]["name"] == "cvusa"
    assert report["protocol"]["protocol_sha256"] == protocol_hash(protocol)
    assert len(report["protocol"]["ground_truth_sha256"]) == 64
    assert len(report["protocol"]["submission_sha256"]) == 64
    assert list(report["recall_at_n"]) == [str(n) for n in protocol.recall_at_n]
    assert report["recall_at_percent_convention"] == protocol.recall_at_percent_convention
    assert report["n_database"] == report["n_queries"] == 8884
    eff = report["efficiency"]
    assert (eff["descriptor_dim"], eff["bytes_per_descriptor"]) == (16, 64)
    assert eff["matching_ms_per_query"] > 0
    assert 0.5 < report["recall_at_percent"]["1"] <= 1.0  # noisy copies: far above chance


def test_the_same_submission_gives_the_same_hashes(cvusa):
    assert _evaluate(cvusa) == 0
    first = json.loads((cvusa / "r.json").read_text())
    assert _evaluate(cvusa, "S.npz", "--ties", "pessimistic") == 0
    second = json.loads((cvusa / "r.json").read_text())
    assert first["protocol"] == second["protocol"]


def test_bad_submission_is_one_line_exit_2(cvusa, capsys):
    data = dict(np.load(cvusa / "S.npz"))
    data["queries"] = data["queries"][:100]
    np.savez(cvusa / "bad.npz", **data)
    assert _evaluate(cvusa, "bad.npz") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all("Traceback" not in line for line in err)
    assert "100" in err[-1]
    assert not (cvusa / "r.json").exists()


def test_unknown_protocol_suggests_names(capsys):
    assert (
        main(
            [
                "evaluate",
                "--protocol",
                "pitts30k-tset",
                "--ground-truth",
                "x.npz",
                "--submission",
                "s.npz",
            ]
        )
        == 2
    )
    assert "pitts30k-test" in capsys.readouterr().err
