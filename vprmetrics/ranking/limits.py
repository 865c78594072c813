"""The engine's size limits and path thresholds, in one place.

They bound memory (every buffer the engine allocates is at most a few of these sizes, never
queries x database) and choose between equivalent internal paths; no value changes a
result. The modules read them at call time (``limits.POOL_MAX``), so tests can force each
path by setting them.
"""

from __future__ import annotations

import os

TOPK_SLACK = 16  # extra exact candidates kept so tie groups at the k-th place stay whole
EXACT_ELEMENTS = 1 << 20  # float64 elements per chunk of exact distances (8 MB)
SCORE_ELEMENTS = 1 << 22  # float32 elements of one (query chunk x database block) score tile
POOL_START = 32  # initial pool slots per query (grown on demand)
POOL_MAX = 256  # beyond this many slots a query's pool is resolved exactly and truncated
POOL_KEEP_FACTOR = 4  # ... but never below this many times (>= 1) the kept top-k length
THREADS = min(4, os.cpu_count() or 1)  # threads for the exact distances
UNION_GEMM_RATIO = 16  # positives pass: one GEMM when queries x union <= this x pairs
DENSE_TILE = 32  # a tile selecting more than 1/DENSE_TILE of its entries is tightened
GEMM_CHUNK = 512  # smallest inner-dimension chunk of the float32 GEMM when the band is dense
CHUNK_MIN_DIM = 1024  # ... only above this many dimensions
CHUNK_BAND_SHARE = 1 / 100  # chunk when the float32 band holds more than this share of a tile
CHUNK_TARGET_SHARE = 1 / 500  # ... with chunks short enough to bring it to about this share
CHUNK_PROBE = 256  # queries scored against the first block to measure that share
