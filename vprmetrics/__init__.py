"""vprmetrics: exact metrics for visual place recognition and cross-view geo-localization."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from vprmetrics.errors import (
    InputError,
    InputTypeError,
    MissingDependencyError,
    ProtocolError,
    VPRMetricsError,
)
from vprmetrics.positives import Positives

try:
    __version__ = version("vprmetrics")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingDependencyError",
    "Positives",
    "ProtocolError",
    "VPRMetricsError",
    "__version__",
]
