"""The fuzz suite: every entry point on crafted input (hypothesis), signals during the
output commit, and peak memory under an address-space cap.

``make test`` runs the fast profile (20 examples per property, derandomized, ~40 s);
``make fuzz`` (``VPRMETRICS_FUZZ=thorough``) runs 1000 random examples per property and
the slow memory checks.
"""
