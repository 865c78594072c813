"""The exception hierarchy of vprmetrics.

Every error says, in one line, what was wrong and how to fix it. They subclass the
built-in exceptions a caller would expect (``ValueError``, ``TypeError``,
``ImportError``), so ``except ValueError`` keeps working, and they share the base
:class:`VPRMetricsError`, which the CLI turns into a one-line message and exit code 2.

>>> try:
...     raise InputError("queries has 3 columns but database has 4: give both the same dim")
... except ValueError as err:
...     print(err)
queries has 3 columns but database has 4: give both the same dim
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingDependencyError",
    "OutputError",
    "ProtocolError",
    "VPRMetricsError",
    "require",
]


class VPRMetricsError(Exception):
    """Base class of every error raised on purpose by vprmetrics."""


class InputError(VPRMetricsError, ValueError):
    """An input has the wrong shape, size or value (NaN, a negative radius, ...)."""


class InputTypeError(VPRMetricsError, TypeError):
    """An input has the wrong type or dtype (object arrays, integers for descriptors, ...)."""


class ProtocolError(VPRMetricsError, ValueError):
    """A protocol file or a dataset does not follow the protocol's rules."""


class OutputError(VPRMetricsError, OSError):
    """An output file cannot be written (a folder in its place, no permission, disk full);
    the message names the target, never a temporary file."""


class MissingDependencyError(VPRMetricsError, ImportError):
    """An optional dependency is needed for this feature; the message names the extra."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency lazily, or say which extra installs it.

    >>> require("math", "none", "arithmetic").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{feature} needs the optional package '{module}': pip install 'vprmetrics[{extra}]'"
        ) from err
