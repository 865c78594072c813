"""Property: on any crafted input, every entry point keeps the contract of
:mod:`tests.fuzz.contract` (exit 2 with a short message and outputs untouched, or exit 0;
nothing unpickled), and a success on an input equal to the clean one gives its results."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as fs
from tests.fuzz.contract import FUZZ, check, report_numbers, run
from vprmetrics.cli import build_parser


@pytest.fixture(scope="module")
def clean_raw_report(world, tmp_path_factory):
    path = tmp_path_factory.mktemp("clean") / "r.json"
    assert run([*world.raw_args(), "--json", str(path)], path.parent).rc == 0
    return report_numbers(path)


def _same_array(path, clean_path) -> bool:
    try:
        return bool(np.array_equal(np.load(path, allow_pickle=False), np.load(clean_path)))
    except Exception:
        return False


@pytest.mark.parametrize("flag, name", [("queries", "q"), ("database", "db"), ("query-utm", "qu")])
@FUZZ
@given(data=st.data())
def test_raw_arrays(world, clean_raw_report, tmp_path, flag, name, data):
    clean = world.data / f"{name}.npy"
    path = tmp_path / f"{name}.npy"
    path.write_bytes(data.draw(fs.npy_files(clean.read_bytes())))
    outcome = check(
        run([*world.raw_args(**{flag: str(path)}), *world.outputs()], world.out), world.marker
    )
    if outcome.rc == 0 and _same_array(path, clean):
        assert report_numbers(world.out / "r.json") == clean_raw_report


def _npz_arrays(path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return dict(npz)


@pytest.mark.parametrize("command", ["evaluate", "validate"])
@FUZZ
@given(data=st.data())
def test_submission_archives(world, tmp_path, command, data):
    path = tmp_path / "S.npz"
    path.write_bytes(data.draw(fs.npz_files(_npz_arrays(world.data / "S.npz"))))
    argv = world.protocol_args(command, submission=str(path))
    outputs = world.outputs() if command == "evaluate" else []
    check(run([*argv, *outputs], world.out), world.marker, max_lines=12)


@FUZZ
@given(data=st.data())
def test_ground_truth_archives(world, tmp_path, data):
    path = tmp_path / "GT.npz"
    path.write_bytes(data.draw(fs.npz_files(_npz_arrays(world.data / "GT.npz"))))
    argv = [*world.protocol_args(**{"ground-truth": str(path)}), *world.outputs()]
    check(run(argv, world.out), world.marker)


@FUZZ
@given(data=st.data())
def test_protocol_files(world, tmp_path, data):
    path = tmp_path / "fuzztown.toml"
    path.write_bytes(data.draw(fs.toml_texts(world.protocol.read_text())))
    check(run(["protocols", "show", str(path)], world.out), world.marker)
    check(
        run(world.protocol_args("validate", protocol=str(path)), world.out),
        world.marker,
        max_lines=12,
    )


@pytest.fixture
def dataset_copy(world, tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(world.data, root)
    return root


@FUZZ
@given(data=st.data())
def test_dataset_csv_files(world, dataset_copy, data):
    good = (world.data / "q.csv").read_text()
    (dataset_copy / "q.csv").write_bytes(data.draw(fs.csv_texts(good)))
    argv = world.protocol_args(
        protocol=str(dataset_copy / "fuzztown.toml"), **{"dataset-root": str(dataset_copy)}
    )
    check(run([*argv, *world.outputs()], world.out), world.marker)


def _evaluate_options() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices["evaluate"]  # type: ignore[union-attr]
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--")]


VALUES = st.one_of(
    st.sampled_from(
        [
            *["", "0", "-1", "1", "2", "inf", "-inf", "nan", "1e400", "1,5,10", "1,,x", "0.5"],
            *["99999999999999999999", "/dev/zero", "/", ".", "-", "l2", "cosine", "stable"],
            *["a\0b", "out\0.json", "q.npy\0"],
        ]
    ),
    st.text(max_size=8),
)


@FUZZ
@given(data=st.data())
def test_argument_lists(world, data):
    options = _evaluate_options()
    argv = world.raw_args()
    for _ in range(data.draw(st.integers(1, 4))):
        argv.append(data.draw(st.sampled_from(options)))
        argv += data.draw(st.lists(VALUES, max_size=2))
    cwd = os.getcwd()
    os.chdir(world.out)  # relative output names land in the watched folder
    try:
        check(run([*argv, "--json", str(world.out / "r.json")], world.out), world.marker)
    finally:
        os.chdir(cwd)


@FUZZ
@given(rows=st.lists(st.lists(st.integers(0, 39), max_size=6), min_size=12, max_size=12))
def test_ground_truth_rows_in_any_order_score_as_sorted(world, tmp_path, rows):
    """Ids of a positives row may repeat and come in any order: the scores are those of
    the sorted, unique row (the contract's "success equals the clean input")."""
    arrays = _npz_arrays(world.data / "GT.npz")
    reports = []
    for variant in (rows, [sorted(set(r)) for r in rows]):
        lims = np.cumsum([0, *map(len, variant)])
        ids = np.asarray([i for r in variant for i in r], dtype=np.int64)
        np.savez(tmp_path / "GT.npz", **{**arrays, "positives_lims": lims, "positives_ids": ids})
        out = tmp_path / "r.json"
        argv = [*world.protocol_args(**{"ground-truth": str(tmp_path / "GT.npz")})]
        outcome = check(run([*argv, "--json", str(out)], tmp_path), world.marker)
        reports.append(report_numbers(out) if outcome.rc == 0 else outcome.err)
    assert reports[0] == reports[1]


@pytest.fixture(scope="module")
def vg_dataset(world, tmp_path_factory):
    from tests.fuzz.test_issue_cases import _vg

    return _vg(world, tmp_path_factory.mktemp("vg"))


@FUZZ
@given(data=st.data())
def test_vg_paths_files(world, vg_dataset, data):
    root, args = vg_dataset
    folder = root / "images/test/queries"
    good = sorted(p.name for p in folder.iterdir())
    paths_file = folder.parent / "queries_images_paths.txt"
    paths_file.write_bytes(data.draw(fs.paths_texts(good)))
    try:
        check(run(args, world.out), world.marker, max_lines=12)
    finally:
        paths_file.unlink()
