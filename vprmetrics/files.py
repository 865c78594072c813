"""Atomic file writes: a reader never sees a half-written file, and a run's outputs change
together or not at all.

:func:`commit_files` writes several files as one commit:

1. **check** every target first: none may be a folder, repeat another target, or sit
   under a path that is a file; missing parent folders are created (and removed again if
   the commit fails);
2. **write** each file's bytes to a temporary file in its target's folder
   (``.<name>.vprtmp-<pid>-<random>``), flushed to disk, with the mode of the file it
   replaces (a new file gets ``0666`` minus the umask, as ``open()`` would give it);
3. **rename** every temporary file over its target (``os.replace``, atomic on POSIX and
   Windows), with SIGINT, SIGTERM and SIGHUP deferred until the last rename is done.

Any failure or signal before step 3 removes every temporary file and leaves all targets
as they were. A process killed outright (SIGKILL, power loss) during step 2 leaves its
temporary files behind, never a changed target; the next commit into that folder deletes
the temporary files of processes that no longer run. Only a SIGKILL inside step 3 (a few
renames, microseconds) can leave some targets new and others old.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> commit_files([(out / "r.json", b"{}"), (out / "sub" / "r.md", b"# r")])
[PosixPath('...r.json'), PosixPath('...r.md')]
>>> sorted(p.name for p in out.rglob("*"))
['r.json', 'r.md', 'sub']
>>> save_npz_atomic(out / "a" / "x.npz", ids=np.arange(3))
>>> np.load(out / "a" / "x.npz")["ids"].tolist()
[0, 1, 2]
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import signal
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vprmetrics.errors import OutputError

__all__ = [
    "InterruptedAfterCommit",
    "check_targets",
    "commit_files",
    "save_npz_atomic",
    "write_atomic",
]

_TEMP_MARK = ".vprtmp-"
_TEMP_RE = re.compile(r"^\..+\.vprtmp-(\d+)-[0-9a-f]+$")
_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class InterruptedAfterCommit(KeyboardInterrupt):
    """A signal held back during the renames arrived: every output was written."""


def _why(err: OSError) -> str:
    return err.strerror or type(err).__name__


def check_targets(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Check output paths before any work: not empty, not a folder, not repeated, not under
    a file. Returns them as :class:`Path` (nothing is created)."""
    targets: list[Path] = []
    for raw in paths:
        if not os.fspath(raw):
            raise OutputError("an output path is empty; give a file name, e.g. report.json")
        if "\0" in os.fspath(raw):
            raise OutputError(f"output {os.fspath(raw)!r} has a NUL byte in its name; fix it")
        path = Path(raw).expanduser()
        if path.is_dir():
            raise OutputError(f"output {str(path)!r} is a folder; give a file path in it")
        resolved = path.resolve()
        if resolved in {t.resolve() for t in targets}:
            raise OutputError(f"output {str(path)!r} is given twice; give each output its own file")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(
                        f"output {str(path)!r} cannot be written: {str(parent)!r} is a file, "
                        "not a folder; choose another path"
                    )
                break
        targets.append(path)
    return targets


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM), or the platform cannot tell
        return True
    return True


def _sweep_stale(folder: Path) -> None:
    """Delete temporary files that killed processes left in ``folder``."""
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            match = _TEMP_RE.match(entry.name)
            if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match[1])):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP: a handler records them, and once the block has finished
    they raise :class:`InterruptedAfterCommit`. (Python-level handlers, not a signal mask:
    a mask holds only the calling thread, and a BLAS worker thread would take the signal.)
    Signal handlers can be set from the main thread only; elsewhere nothing is deferred."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in _HELD}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if caught:
        raise InterruptedAfterCommit(signal.Signals(caught[0]).name)


def _make_parents(path: Path, created: list[Path]) -> None:
    missing = [p for p in reversed(path.parents) if not p.exists()]
    for folder in missing:
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputError(
                f"cannot create the folder of output {str(path)!r} ({_why(err)}); choose a "
                "folder you can write to"
            ) from None
        created.append(folder)


def _write_temp(path: Path, data: bytes, new_mode: int, temps: list[Path]) -> None:
    """Write ``data`` to a new temporary file beside ``path``, listed in ``temps`` before it
    is created (so an interrupt at any point leaves nothing that cleanup does not know)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = new_mode
    tmp = path.parent / f".{path.name}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    temps.append(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.chmod(tmp, mode)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def commit_files(outputs: Sequence[tuple[str | os.PathLike[str], bytes]]) -> list[Path]:
    """Write every ``(path, bytes)`` of ``outputs``, or none of them (see the module
    docstring for the three steps). Raises :class:`~vprmetrics.errors.OutputError` naming
    the target; :class:`InterruptedAfterCommit` when a signal arrived during the renames."""
    targets = check_targets([p for p, _ in outputs])
    new_mode = _new_file_mode()
    created: list[Path] = []
    temps: list[Path] = []
    try:
        for path in targets:
            _make_parents(path, created)
        for folder in {p.parent for p in targets}:
            _sweep_stale(folder)
        for path, (_, data) in zip(targets, outputs, strict=True):
            try:
                _write_temp(path, data, new_mode, temps)
            except OSError as err:
                raise OutputError(
                    f"cannot write output {str(path)!r} ({_why(err)}); check the folder is "
                    "writable and has free space"
                ) from None
        with _signals_held():
            for tmp, path in zip(temps, targets, strict=True):
                os.replace(tmp, path)
            temps.clear()
    except BaseException as err:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if not isinstance(err, InterruptedAfterCommit):
            for folder in reversed(created):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise OutputError(
                f"cannot write the outputs ({_why(err)}); nothing was changed"
            ) from None
        raise
    return targets


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (one-file
    :func:`commit_files`)."""
    commit_files([(path, data)])


def save_npz_atomic(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """``np.savez`` to ``path`` atomically (no pickled objects: plain arrays only)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy stubs: allow_pickle kw
    write_atomic(path, buf.getvalue())
