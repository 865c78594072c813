"""``vprmetrics leaderboard``: many submissions per protocol, ranked with paired tests.

vprmetrics leaderboard init lb.sqlite --protocol synthtown --dataset-root DIR
vprmetrics leaderboard submit lb.sqlite S.npz --name "my model" --team me
vprmetrics leaderboard show lb.sqlite [--sort R@5] [--json]
vprmetrics leaderboard compare lb.sqlite "my model" "baseline" [--json]
vprmetrics leaderboard build lb.sqlite --out site/
"""

from __future__ import annotations

import argparse
import json
import sys

from vprmetrics.cli import OneLineErrorParser
from vprmetrics.metrics.ties import TIE_POLICIES
from vprmetrics.ranking.distances import METRICS
from vprmetrics.ranking.engine import BACKENDS

__all__ = ["add_parser"]


def _pct(key: str, value: float) -> str:
    from vprmetrics.leaderboard.html import fmt_metric

    return fmt_metric(key, value)


def _init(args: argparse.Namespace) -> int:
    from vprmetrics.leaderboard import Leaderboard

    settings = {
        k: getattr(args, k)
        for k in ("metric", "ties", "seed", "n_resamples", "confidence", "n_permutations")
    }
    with Leaderboard.init(
        args.store,
        args.protocol,
        dataset_root=args.dataset_root,
        ground_truth=args.ground_truth,
        **settings,
    ) as board:
        record = max(board.store.protocols(), key=lambda r: r.id)
    print(
        f"{args.store}: protocol {record.name!r} fixed (protocol sha256 "
        f"{record.protocol_sha256[:12]}, ground truth {record.ground_truth_sha256[:12]}, "
        f"{args.metric}, ties {args.ties})"
    )
    return 0


def _submit(args: argparse.Namespace) -> int:
    from vprmetrics.leaderboard import Leaderboard

    with Leaderboard(args.store) as board:
        entry = board.submit(
            args.submission,
            args.name,
            team=args.team,
            notes=args.notes,
            protocol=args.protocol,
            backend=args.backend,
        )
    if entry.status == "rejected":
        print(
            f"vprmetrics leaderboard: rejected {entry.name!r} (recorded as entry #{entry.id}): "
            f"{entry.reason}",
            file=sys.stderr,
        )
        return 2
    assert entry.report is not None
    recall = ", ".join(f"R@{n} {_pct('R', v)}" for n, v in entry.report["recall_at_n"].items())
    print(
        f"scored {entry.name!r} (entry #{entry.id}, sha256 {entry.submission_sha256[:12]}): "
        f"{recall}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from vprmetrics.leaderboard import Leaderboard

    with Leaderboard(args.store) as board:
        st = board.standings(args.protocol, args.sort)
    if args.json:
        print(json.dumps(st.as_json(), indent=2, allow_nan=False))
        return 0
    keys = [c.key for c in st.columns]
    print(
        f"{st.protocol.name}: ranked on {st.sort.key if st.sort else '-'} "
        f"({len(st.rows)} scored, {len(st.rejected)} rejected; * = ties decide the number)"
    )
    head = ["rank", "name", "team", *keys, "dim", "bytes", "ms/q"]
    lines = [head]
    for r in st.rows:
        e = r.entry
        cells = [str(r.rank), e.name, e.team]
        for k in keys:
            lo, hi = r.intervals[k]
            flag = "*" if r.ties_decide[k] else ""
            cells.append(f"{_pct(k, r.values[k])}{flag} [{_pct(k, lo)}, {_pct(k, hi)}]")
        ms = "" if e.matching_ms_per_query is None else f"{e.matching_ms_per_query:.3f}"
        cells += [str(e.descriptor_dim), str(e.bytes_per_descriptor), ms]
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    for row in lines:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for e in st.rejected:
        print(f"rejected: {e.name} ({e.submitted_at}): {e.reason}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from vprmetrics.leaderboard import Leaderboard

    with Leaderboard(args.store) as board:
        results = board.compare(args.a, args.b, protocol=args.protocol, metric=args.metric)
    if args.json:
        print(json.dumps(results, indent=2, allow_nan=False))
        return 0
    for r in results:
        k = r["metric"]
        lo, hi = r["interval"]
        verdict = "significant" if r["significant"] else "not significant"
        print(
            f"{k}: {r['a']} {_pct(k, r['value_a'])} - {r['b']} {_pct(k, r['value_b'])} = "
            f"{_pct(k, r['difference'])} [{_pct(k, lo)}, {_pct(k, hi)}], p {r['p_value']:.4f}, "
            f"Holm p {r['p_holm']:.4f} over {r['family_size']} comparisons ({verdict})"
        )
    return 0


def _build(args: argparse.Namespace) -> int:
    from vprmetrics.leaderboard import Leaderboard

    with Leaderboard(args.store) as board:
        out = board.build_site(args.out, args.sort)
    print(f"wrote {out / 'index.html'}")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "leaderboard",
        help="store many submissions per protocol, rank them with paired tests, publish a site",
        description="A leaderboard in one SQLite file: init a protocol, submit descriptors, "
        "show or compare the ranked table, build a static site.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", parser_class=OneLineErrorParser)
    sub.required = True

    init = sub.add_parser("init", help="create the store (or add a protocol to it)")
    init.add_argument("store", metavar="STORE.sqlite")
    init.add_argument("--protocol", required=True, metavar="NAME", help="name or .toml file")
    src = init.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset-root", metavar="DIR", help="the dataset folder")
    src.add_argument("--ground-truth", metavar="GT.npz", help="precomputed ids and coordinates")
    init.add_argument("--metric", choices=METRICS, default="l2", help="distance (default l2)")
    init.add_argument("--ties", choices=TIE_POLICIES, default="expected", help="tie policy")
    init.add_argument("--seed", type=int, default=0, help="seed of intervals and tests (0)")
    init.add_argument("--n-resamples", type=int, default=1000, help="bootstrap resamples")
    init.add_argument("--n-permutations", type=int, default=9999, help="sign-flip permutations")
    init.add_argument(
        "--confidence", type=float, default=0.95, help="interval level; alpha = 1 - it"
    )
    init.set_defaults(func=_init)

    submit = sub.add_parser("submit", help="validate, score and store a submission")
    submit.add_argument("store", metavar="STORE.sqlite")
    submit.add_argument("submission", nargs="+", metavar="SUBMISSION", help="S.npz or Q.npy D.npy")
    submit.add_argument("--name", required=True, help="the entry's name (unique)")
    submit.add_argument("--team", default="", help="who submitted it")
    submit.add_argument("--notes", default="", help="free text shown on its page")
    submit.add_argument("--protocol", help="needed when the store holds several protocols")
    submit.add_argument("--backend", choices=BACKENDS, default="numpy", help="GEMM backend")
    submit.set_defaults(func=_submit)

    show = sub.add_parser("show", help="the ranked table")
    show.add_argument("store", metavar="STORE.sqlite")
    show.add_argument("--sort", metavar="METRIC", help="rank on this metric (default R@first N)")
    show.add_argument("--json", action="store_true", help="JSON, with rejected entries")
    show.add_argument("--protocol", help="needed when the store holds several protocols")
    show.set_defaults(func=_show)

    compare = sub.add_parser("compare", help="a paired test of two entries")
    compare.add_argument("store", metavar="STORE.sqlite")
    compare.add_argument("a", metavar="NAME_A")
    compare.add_argument("b", metavar="NAME_B")
    compare.add_argument("--metric", help="one metric (default: every table metric)")
    compare.add_argument("--json", action="store_true", help="JSON output")
    compare.add_argument("--protocol", help="needed when the store holds several protocols")
    compare.set_defaults(func=_compare)

    build = sub.add_parser("build", help="write the static site")
    build.add_argument("store", metavar="STORE.sqlite")
    build.add_argument("--out", required=True, metavar="SITE_DIR")
    build.add_argument("--sort", metavar="METRIC", help="rank on this metric (default R@first N)")
    build.set_defaults(func=_build)
    return p
