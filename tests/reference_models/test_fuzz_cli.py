"""Fuzzed argument lists for ``python -m reference_models``: every outcome is exit 0 or
exit 2 with at most 3 lines and no traceback, a failed run writes nothing, and a pickle
that would run code is never loaded."""

from __future__ import annotations

import contextlib
import io
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from reference_models.cli import main
from tests.fuzz.contract import FUZZ_EXAMPLES

MARKER = Path("/tmp/vprmetrics-unpickled-marker-cli")


class _Payload:
    def __reduce__(self):
        return (Path.touch, (MARKER,))


JUNK = st.sampled_from(
    ["", "0", "-1", "1e309", "nan", "x", "4x", "0x0", "99999x99999", "../..", "\x00", "none",
     "resnet18-gem", "cvm-net-i", "no-such-model", "cpu", "cuda:7", "tinytown", "jitter,bogus"]
)  # fmt: skip
OPTIONS = {
    "describe": ["--model", "--input", "--flops", "--json"],
    "export": ["--run", "--protocol", "--dataset-root", "--out", "--batch-size", "--torchscript",
               "--input-size", "--checkpoint", "--device"],
    "train": ["--model", "--protocol", "--dataset-root", "--out", "--epochs", "--batch-size",
              "--lr", "--image-size", "--augment", "--weights", "--seed", "--threads", "--preset"],
}  # fmt: skip


@st.composite
def argument_lists(draw, root: Path) -> list[str]:
    command = draw(st.sampled_from(sorted(OPTIONS)))
    files = st.sampled_from([str(root / n) for n in ("evil.pt", "empty.pt", "nope", "")])
    args = [command]
    for option in draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=6)):
        args += [option, draw(st.one_of(JUNK, files))]
    return args


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzzcli")
    (root / "evil.pt").write_bytes(pickle.dumps({"model": _Payload()}))
    (root / "empty.pt").write_bytes(b"")
    return root


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 2
    return code, err.getvalue()


def test_fuzzed_argument_lists_keep_the_contract(root):
    MARKER.unlink(missing_ok=True)

    @settings(
        max_examples=FUZZ_EXAMPLES * 5,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(argument_lists(root))
    def check(argv: list[str]) -> None:
        before = sorted(p.name for p in root.iterdir())
        code, err = _run(argv)
        assert "Traceback" not in err, (argv, err)
        assert code in (0, 2), (argv, code, err)
        if code == 2:
            assert 1 <= len(err.strip().splitlines()) <= 3, (argv, err)
            assert sorted(p.name for p in root.iterdir()) == before, argv
        assert not MARKER.exists(), argv

    check()
