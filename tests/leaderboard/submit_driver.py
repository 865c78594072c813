"""``vprmetrics leaderboard submit`` in a child process, with a pause or a SIGKILL placed
inside the write transaction (after the INSERT, before the COMMIT).

    python -m tests.leaderboard.submit_driver MODE MARKER STORE FILE --name NAME

MODE is ``pause`` (touch MARKER inside the transaction, then hold it for 3 s), ``kill``
(touch MARKER, then SIGKILL this process) or ``plain``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from vprmetrics.cli import main
from vprmetrics.leaderboard.store import Store


def _wrap(mode: str, marker: Path):
    original = Store._insert

    def insert(self, conn, values):
        out = original(self, conn, values)
        marker.touch()
        if mode == "pause":
            time.sleep(3.0)
        elif mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    return insert


if __name__ == "__main__":
    mode, marker, *argv = sys.argv[1:]
    if mode != "plain":
        Store._insert = _wrap(mode, Path(marker))  # type: ignore[method-assign]
    sys.exit(main(["leaderboard", "submit", *argv]))
