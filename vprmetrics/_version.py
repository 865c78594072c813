"""The installed version of vprmetrics, read once from the package metadata.

Kept apart from the package ``__init__`` so that any wing can record the version (reports,
provenance, ``--version``) without importing the whole public API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("vprmetrics")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
