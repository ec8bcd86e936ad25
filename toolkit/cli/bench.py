"""``edge-bench``: latency, throughput, size and memory of ``edge-export`` bundles here (:mod:`export.bench`).

Console script ``edge-bench = toolkit.cli.bench:main``; without it: ``python -m toolkit.cli.bench``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from export.bench import run_bench
from toolkit.cli.args import MAX_THREADS, int_list, non_negative_int, positive_int
from toolkit.programs import EXIT_USAGE, output_folder, parse_args, run_cli

BENCH_EXAMPLES = """\
examples:
  edge-bench                      # benchmark ./dist (after edge-export), results in ./dist/bench
  edge-bench /tmp/dist --runs 500 --threads 1,2,4
"""


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_bench_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-bench", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Measure latency, throughput, size, peak RSS, parameters and MACs of "
                                            "edge-export artefacts on THIS machine.", epilog=BENCH_EXAMPLES)
    p.add_argument("dist", nargs="?", default="dist", help="edge-export output folder (default: %(default)s)")
    p.add_argument("--out", help="results folder (default: DIST/bench)")
    p.add_argument("--profiles", help="comma-separated (default: every profile found)")
    p.add_argument("--threads", type=int_list(MAX_THREADS), default=[1, 2],
                   help=f"comma-separated thread counts, each 1..{MAX_THREADS} (default: 1,2)")
    p.add_argument("--warmup", type=non_negative_int(1_000_000), default=20)
    p.add_argument("--runs", type=positive_int(10_000_000), default=200)
    p.add_argument("--no-op-profile", action="store_true", help="skip the ExecuTorch per-operator profile")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``edge-bench``."""
    args = parse_args(build_bench_parser(), argv)
    if args is None:
        return EXIT_USAGE

    def body() -> int:
        threads = list(args.threads)
        if args.out or Path(args.dist).is_dir():  # run_bench names a missing dist folder itself
            output_folder(args.out or Path(args.dist) / "bench")
        log = (lambda _msg: None) if args.quiet else (lambda msg: print(msg, flush=True))
        result = run_bench(args.dist, args.out, profiles=_csv(args.profiles) if args.profiles else None,
                           threads=threads, warmup=args.warmup, runs=args.runs, op_profile=not args.no_op_profile,
                           log=log)
        if not args.quiet:
            print((Path(args.out) if args.out else Path(args.dist) / "bench").joinpath("bench.md").read_text())
        return 0 if all("error" not in r for r in result["rows"]) else 1

    return run_cli("edge-bench", body)


#: The name this entry point had in ``export.cli``.
bench_main = main


if __name__ == "__main__":
    sys.exit(main())
