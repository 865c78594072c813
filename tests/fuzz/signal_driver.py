"""Run ``vprmetrics ARGS`` and pause at one moment of the output commit, announcing it on
stdout, so a test can signal the process there. The moment is ``$PAUSE_AT``:
``render`` (reports being rendered), ``temp1`` / ``temp2`` (after the first / second
temporary file is written), ``rename1`` (after the first rename)."""

from __future__ import annotations

import os
import signal
import sys
import time


def main() -> int:
    import vprmetrics.files as files
    import vprmetrics.report.writers as writers
    from vprmetrics.cli import main as cli

    # A shell without job control starts background jobs with SIGINT ignored, and Python
    # keeps an inherited "ignore"; the tests send SIGINT on purpose, so restore Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    moment = os.environ["PAUSE_AT"]
    render_csv, write_temp, replace = writers.render_csv, files._write_temp, os.replace
    count = {"temp": 0, "rename": 0}

    def pause(name: str) -> None:
        if name == moment:
            print(f"PAUSED {name}", flush=True)
            time.sleep(2 if name.startswith("rename") else 60)  # signals wait out renames

    def slow_render(rows):
        pause("render")
        return render_csv(rows)

    def slow_write_temp(*args):
        write_temp(*args)
        count["temp"] += 1
        pause(f"temp{count['temp']}")

    def slow_replace(src, dst):
        replace(src, dst)
        count["rename"] += 1
        pause(f"rename{count['rename']}")

    writers.render_csv = slow_render
    files._write_temp = slow_write_temp
    files.os.replace = slow_replace  # type: ignore[attr-defined]
    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
