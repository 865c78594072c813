"""Files a stranger made: weights, checkpoints and run folders fail in one line, exit 2,
and a pickle that would run code never runs."""

from __future__ import annotations

import io
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from reference_models.cli import main  # noqa: E402
from reference_models.models.weights import load_tensors  # noqa: E402
from vprmetrics.errors import InputError  # noqa: E402

MARKER = Path("/tmp/vprmetrics-unpickled-marker")


class _Payload:
    """Unpickling this would create MARKER (it never may)."""

    def __reduce__(self):
        return (Path.touch, (MARKER,))


def _bad_files(tmp: Path) -> dict[str, Path]:
    """One file per way a weights file can be wrong."""
    good = io.BytesIO()
    torch.save({"w": torch.ones(3)}, good)
    raw = good.getvalue()
    files = {
        "malicious pickle": pickle.dumps({"model": _Payload()}),
        "torch file with an object": None,
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "text": b"this is not a checkpoint\n",
        "random bytes": bytes(range(256)) * 3,
        "zip without torch data": None,
    }
    out = {}
    for name, data in files.items():
        path = tmp / (name.replace(" ", "_") + ".pt")
        if name == "torch file with an object":
            torch.save({"model": _Payload()}, path)
        elif name == "zip without torch data":
            with zipfile.ZipFile(path, "w") as z:
                z.writestr("a.txt", "x")
        else:
            path.write_bytes(data)
        out[name] = path
    folder = tmp / "folder.pt"
    folder.mkdir()
    out["a folder"] = folder
    out["missing"] = tmp / "missing.pt"
    return out


def test_every_bad_weights_file_is_one_input_error(tmp_path):
    MARKER.unlink(missing_ok=True)
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(InputError) as info:
            load_tensors(path)
        message = str(info.value)
        assert "\n" not in message and len(message) < 300, name
        assert str(path.name) in message, name
    assert not MARKER.exists(), "a pickled payload ran"
    with pytest.raises(InputError, match="never unpickled"):
        load_tensors(tmp_path / "malicious_pickle.pt")


@settings(max_examples=40)
@given(st.binary(max_size=2048), st.integers(0, 4096))
def test_fuzzed_torch_bytes_never_crash(data, cut):
    """Random bytes, or a real torch file cut anywhere, give a result or one InputError."""
    import tempfile

    good = io.BytesIO()
    torch.save({"w": torch.arange(10.0)}, good)
    with tempfile.TemporaryDirectory() as tmp:
        for blob in (data, good.getvalue()[:cut]):
            path = Path(tmp) / "x.pt"
            path.write_bytes(blob)
            try:
                load_tensors(path)
            except InputError as err:
                assert "\n" not in str(err)


@pytest.fixture
def run_copy(trained, tmp_path):
    data, root = trained
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    return data, run


def _code(argv: list[str]) -> int:
    """The exit code of ``python -m reference_models ARGV`` (argparse errors exit 2)."""
    try:
        return main(argv)
    except SystemExit as done:
        return int(done.code or 0)


def _export(data: Path, run: Path, out: Path, *extra: str) -> list[str]:
    return [
        "export", "--run", str(run), "--protocol", "tinytown", "--dataset-root", str(data),
        "--out", str(out), "--device", "cpu", "--quiet", *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "config",
    ['{"model": ', "[1, 2]", '{"no_such_option": 1}', '{"model": 3}', "\xff\xfe"],
    ids=["truncated", "a list", "unknown option", "wrong type", "not utf-8"],
)
def test_a_malformed_config_json_is_one_line_exit_2(run_copy, tmp_path, capsys, config):
    data, run = run_copy
    (run / "config.json").write_bytes(config.encode("latin-1"))
    out = tmp_path / "s.npz"
    assert _code(_export(data, run, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("bad", ["malicious pickle", "truncated", "empty", "text"])
def test_a_bad_checkpoint_in_a_run_is_one_line_exit_2(run_copy, tmp_path, capsys, bad):
    MARKER.unlink(missing_ok=True)
    data, run = run_copy
    shutil.copy(_bad_files(tmp_path)[bad], run / "best.pt")
    assert _code(_export(data, run, tmp_path / "s.npz")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "best.pt" in err
    assert not MARKER.exists()


def test_a_checkpoint_of_another_model_is_refused(run_copy, tmp_path, capsys):
    data, run = run_copy
    torch.save({"model": {"nope": torch.zeros(1)}}, run / "best.pt")
    assert _code(_export(data, run, tmp_path / "s.npz")) == 2
    assert "does not hold the weights" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_export_batch_size_must_be_positive(run_copy, tmp_path, capsys, value):
    data, run = run_copy
    assert _code(_export(data, run, tmp_path / "s.npz", "--batch-size", value)) == 2
    assert "positive integer" in capsys.readouterr().err


def test_train_refuses_bad_weights_and_resume_files(tiny, tmp_path, capsys):
    MARKER.unlink(missing_ok=True)
    bad = _bad_files(tmp_path)
    base = ["train", "--model", "resnet18-gem", "--protocol", "tinytown", "--dataset-root"]
    base += [str(tiny), "--epochs", "1", "--device", "cpu", "--quiet"]
    assert (
        _code([*base, "--out", str(tmp_path / "a"), "--weights", str(bad["malicious pickle"])]) == 2
    )
    assert "never unpickled" in capsys.readouterr().err
    resume = tmp_path / "b"
    resume.mkdir()
    shutil.copy(bad["truncated"], resume / "last.pt")
    assert _code([*base, "--out", str(resume), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "last.pt" in err
    assert _code([*base, "--out", str(tmp_path / "c"), "--batch-size", "0"]) == 2
    assert not MARKER.exists()


def test_export_commits_the_submission_and_torchscript_together(run_copy, tmp_path, capsys):
    """A TorchScript target that cannot be written leaves the old submission as it was."""
    data, run = run_copy
    out = tmp_path / "s.npz"
    out.write_bytes(b"the previous submission")
    out.chmod(0o644)
    (tmp_path / "ts.pt").mkdir()  # a folder where the TorchScript file should go
    argv = _export(data, run, out, "--torchscript", str(tmp_path / "ts.pt"), "--input-size")
    assert _code([*argv, "32x48"]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert out.read_bytes() == b"the previous submission"
    ok = _export(data, run, out, "--torchscript", str(tmp_path / "ok.pt"), "--input-size", "32x48")
    assert _code(ok) == 0
    assert out.read_bytes()[:2] == b"PK" and (tmp_path / "ok.pt").is_file()
    assert out.stat().st_mode & 0o777 == 0o644  # a replaced file keeps its mode
