"""The CVUSA cross-view split CSV: one pair per row (aerial path, ground path, ...).

The split files (``splits/train-19zl.csv``, ``splits/val-19zl.csv``) have no header;
row ``i`` pairs ground image ``i`` with aerial image ``i``. Paths are relative to the
dataset root; every listed image must exist.
"""

from __future__ import annotations

from pathlib import Path

from vprmetrics.data.loaders._common import (
    SideData,
    as_id_array,
    check_exist,
    csv_rows,
    inside_root,
    require_file,
    safe_relative,
)
from vprmetrics.errors import InputError

__all__ = ["load_cvusa_pairs"]


def load_cvusa_pairs(
    root: Path,
    split_file: str,
    *,
    aerial_column: int = 0,
    ground_column: int = 1,
    protocol_name: str = "",
    check_images: bool = True,
) -> tuple[SideData, SideData]:
    """``(ground, aerial)`` sides of the pairs in ``split_file``, in row order."""
    path = inside_root(root, split_file, "loader.split_file")
    require_file(path, protocol_name, "CVUSA split file")
    need = max(aerial_column, ground_column) + 1
    aerial: list[str] = []
    ground: list[str] = []
    for line, row in csv_rows(path, "CVUSA split file"):
        if len(row) < need:
            raise InputError(
                f"CVUSA split file {path} line {line} has {len(row)} columns, expected at "
                f"least {need} (aerial path, ground path, ...); fix that line"
            )
        where = f"{path} line {line}"
        aerial.append(safe_relative(row[aerial_column], where))
        ground.append(safe_relative(row[ground_column], where))
    if not aerial:
        raise InputError(f"CVUSA split file {path} has no pairs; give one pair a line")
    g, a = as_id_array(ground), as_id_array(aerial)
    if check_images:
        check_exist(root, g, "ground")
        check_exist(root, a, "aerial")
    return SideData(g), SideData(a)
