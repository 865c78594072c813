"""``vprmetrics protocols`` and ``vprmetrics validate``: output, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vprmetrics.cli as cli
from vprmetrics.data.loaders import Dataset, save_ground_truth_npz
from vprmetrics.data.protocol import load_protocol

REPO_PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"


@pytest.fixture(autouse=True)
def _register(monkeypatch):
    names = tuple(dict.fromkeys((*cli.SUBCOMMANDS, "protocols", "validate")))
    names = tuple(n for n in names if _importable(n))
    monkeypatch.setattr(cli, "SUBCOMMANDS", names)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"vprmetrics.cli.{name}") is not None


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_protocols_lists_every_protocol(capsys):
    assert cli.main(["protocols"]) == 0
    out = capsys.readouterr().out
    for name in ("pitts30k-test", "msls-val-official", "cvusa", "nordland-vprbench"):
        assert name in out
    assert "10,000" in out and "1:1 pair" in out


def test_protocols_show_prints_file_and_hash(capsys):
    assert cli.main(["protocols", "show", "tokyo247"]) == 0
    out = capsys.readouterr().out
    p = load_protocol("tokyo247")
    assert p.sha256 in out and 'name = "tokyo247"' in out


def test_protocols_show_unknown_suggests(capsys):
    assert cli.main(["protocols", "show", "pits30k-test"]) == 2
    line = one_line_error(capsys)
    assert (
        line.startswith("vprmetrics protocols: error: unknown protocol")
        and "'pitts30k-test'" in line
    )


@pytest.fixture
def gt_file(tmp_path):
    p = load_protocol("cvusa")
    n = 8884
    ds = Dataset(
        p,
        None,
        np.array([f"a/{i}.jpg" for i in range(n)]),
        np.array([f"g/{i}.jpg" for i in range(n)]),
    )
    path = tmp_path / "gt.npz"
    save_ground_truth_npz(path, ds)
    return path


def test_validate_ok_with_ground_truth(tmp_path, gt_file, capsys):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "q.npy", rng.standard_normal((8884, 4)).astype("float32"))
    np.save(tmp_path / "db.npy", rng.standard_normal((8884, 4)).astype("float32"))
    rc = cli.main(
        [
            "validate",
            "--protocol",
            "cvusa",
            "--ground-truth",
            str(gt_file),
            "--submission",
            str(tmp_path / "q.npy"),
            str(tmp_path / "db.npy"),
        ]
    )
    assert rc == 0
    assert "submission OK for protocol cvusa" in capsys.readouterr().out


def test_validate_reports_each_problem_and_exits_2(tmp_path, gt_file, capsys):
    q = np.ones((10, 4), "float32")
    q[3, 0] = np.nan
    np.savez(tmp_path / "s.npz", queries=q, database=np.ones((8884, 5), "int64"))
    rc = cli.main(
        [
            "validate",
            "--protocol",
            "cvusa",
            "--ground-truth",
            str(gt_file),
            "--submission",
            str(tmp_path / "s.npz"),
        ]
    )
    assert rc == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert any("dtype int64" in x for x in lines)
    assert any("queries has 10 rows" in x for x in lines)
    assert any("NaN or inf" in x for x in lines)
    assert all(x.startswith("vprmetrics validate: error:") for x in lines[:-1])
    assert lines[-1].startswith("submission NOT valid")


def _tiny_vg(tmp_path):
    root = tmp_path / "ds"
    for side, n in (("database", 3), ("queries", 2)):
        for i in range(n):
            name = f"@{500000 + 10 * i:010.2f}@{4500000:010.2f}@17@T" + "@" * 11 + ".jpg"
            path = root / "images/test" / side / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("L", (2, 2)).save(path)
    text = (REPO_PROTOCOLS / "pitts30k-test.toml").read_text()
    text = (
        text.replace("pitts30k-test", "tiny")
        .replace("count = 10000", "count = 3")
        .replace("count = 6816", "count = 2")
    )
    (tmp_path / "tiny.toml").write_text(text)
    return root, tmp_path / "tiny.toml"


def test_validate_with_dataset_root_checks_id_order(tmp_path, capsys):
    from vprmetrics.data.loaders import load_dataset

    root, proto = _tiny_vg(tmp_path)
    ds = load_dataset(load_protocol(proto), root)
    arrays = dict(queries=np.eye(2, 4, dtype="float32"), database=np.eye(3, 4, dtype="float32"))
    np.savez(tmp_path / "s.npz", **arrays, database_ids=ds.database_ids, query_ids=ds.query_ids)
    args = [
        "validate",
        "--protocol",
        str(proto),
        "--dataset-root",
        str(root),
        "--submission",
        str(tmp_path / "s.npz"),
    ]
    assert cli.main(args) == 0
    np.savez(
        tmp_path / "s.npz", **arrays, database_ids=ds.database_ids[::-1], query_ids=ds.query_ids
    )
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "different order" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--protocol", "nope", "--submission", "s.npz"], "unknown protocol 'nope'"),
        (
            [
                "--protocol",
                "pitts30k-test",
                "--dataset-root",
                "/no/such/dir",
                "--submission",
                "s.npz",
            ],
            "is not a folder",
        ),
        (["--protocol", "pitts30k-test", "--submission", "/no/s.npz"], "does not exist"),
        (
            [
                "--protocol",
                "pitts30k-test",
                "--ground-truth",
                "/no/gt.npz",
                "--submission",
                "s.npz",
            ],
            "does not exist",
        ),
    ],
)
def test_validate_bad_input_is_one_line_exit_2(capsys, args, needle):
    assert cli.main(["validate", *args]) == 2
    line = one_line_error(capsys)
    assert line.startswith("vprmetrics validate: error:") and needle in line


def test_validate_bad_file_name_in_dataset(tmp_path, capsys):
    root, proto = _tiny_vg(tmp_path)
    Image.new("L", (2, 2)).save(root / "images/test/queries/IMG_0001.jpg")
    np.savez(
        tmp_path / "s.npz", queries=np.ones((2, 4), "float32"), database=np.ones((3, 4), "float32")
    )
    rc = cli.main(
        [
            "validate",
            "--protocol",
            str(proto),
            "--dataset-root",
            str(root),
            "--submission",
            str(tmp_path / "s.npz"),
        ]
    )
    assert rc == 2
    assert "IMG_0001.jpg" in one_line_error(capsys)
