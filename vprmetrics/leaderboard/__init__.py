"""Leaderboards: many submissions per protocol, stored, compared with statistics, and
published as a static site.

* :class:`Leaderboard` (``init``, ``submit``, ``standings``, ``compare``, ``build_site``)
* :mod:`.store` (SQLite, WAL, versioned schema), :mod:`.statistics` (paired tests,
  Holm-Bonferroni, ranks), :mod:`.standings` (a protocol's table), :mod:`.site` (HTML).

This wing sits on top of ``report`` and ``data``; only ``cli`` and ``hosting`` import it.
"""

from vprmetrics.leaderboard.api import Leaderboard
from vprmetrics.leaderboard.standings import Standings
from vprmetrics.leaderboard.store import Entry

__all__ = ["Entry", "Leaderboard", "Standings"]
