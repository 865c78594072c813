"""How numbers read in human-readable output: one source for the console, Markdown and plots.

JSON and the Python API keep fractions and raw floats; everything a person reads shows
percentages with two decimals and metres with one (``202.8 m``, never
``202.76913995580026 m``).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["metres", "percent", "title_of"]


def percent(v: float | None) -> str:
    """A fraction as a percentage with two decimals, as every human-readable output shows it.

    >>> percent(0.123456), percent(1.0), percent(None)
    ('12.35', '100.00', 'n/a')
    """
    return "n/a" if v is None else f"{100 * v:.2f}"


def metres(v: float | None) -> str:
    """A distance in metres with one decimal: ``metres(202.76913995580026) == '202.8 m'``."""
    return "n/a" if v is None else f"{v:.1f} m"


def title_of(report: Mapping, what: str) -> str:
    """A plot or section title naming the model when the report has a ``label``."""
    label = report.get("label")
    return f"{what}: {label}" if label else what
