"""The seed papers' experiments, one command each: ``python -m reference_models study NAME``.

:data:`STUDIES` maps each study name to its module. A study module defines
``add_arguments(parser)`` (options beyond the common ``--dataset-root``, ``--out``,
``--scale``, ``--device``) and ``run(args, cells) -> dict``,
which runs its cells through :class:`reference_models.studies.cells.CellRunner` (resumable:
a finished cell is read back, never re-run; one progress line per cell) and returns the
summary that :func:`reference_models.studies.cells.write_study` writes as ``results.json``
and ``results.md`` beside the plots.
"""

from __future__ import annotations

__all__ = ["SCALES", "STUDIES"]

#: Study name -> module. The modules import torch only inside ``run`` (building the CLI
#: parser imports them for their options).
STUDIES: dict[str, str] = {
    "pssr": "reference_models.studies.pssr",
    "siamese": "reference_models.studies.siamese",
    "losses": "reference_models.studies.losses",
    "heads": "reference_models.studies.heads",
    "benchmark": "reference_models.studies.benchmark",
}

#: Sizes every study understands: ``tiny`` (seconds, for tests), ``small`` (minutes on a
#: CPU), ``full`` (the published settings, for a GPU and the real dataset).
SCALES: tuple[str, ...] = ("tiny", "small", "full")
