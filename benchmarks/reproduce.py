"""Reproduce the papers' claims at a small scale on the embedded data, on CPU,
and write docs/results.md with tables and PNG plots (docs/results/).

    python -m benchmarks.reproduce --workdir /tmp/vidzoo_results
    python -m benchmarks.reproduce --workdir W --study atfr --study sfc
    python -m benchmarks.reproduce --workdir W --report_only
    python -m benchmarks.reproduce --workdir W --study atfr --seeds 3
    python -m benchmarks.reproduce --workdir W --study sfc --defer_timing

Each study trains with `vidzoo.training` and caches every result as JSON in
`workdir/results/`; training runs resume from checkpoints. Rerunning the same
command therefore continues an interrupted reproduction and then rewrites the
page from all cached results. A study is reported only once all its runs exist.
Each finished study's results and run record (command, date, machine) are also
stored next to the page, in docs/results/data/: `--report_only` rewrites the
page from them in a fresh clone, and a study without results in `workdir`
keeps the page's stored results (or, without those, its section as it is).

Machines here do not outlive a session, so every untimed result is also kept
in docs/results/data/cache/ (`--store`; commit it as runs finish) and a new
work directory starts from it; models that a later step needs are retrained,
deterministically (benchmarks/studies/common.py).

`--defer_timing` trains and evaluates but skips the timed measurements
(latency, videos/s, the speed study), so several studies can train side by
side on a small machine; it writes no study results and no page. The same
command without it then times what is missing, alone on the machine.
"""

import argparse
import datetime
import os
import sys
import time

from benchmarks.studies import STUDIES, common, report
from vidzoo.training.train import single_inter_op_thread


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/vidzoo_results")
    parser.add_argument("--study", action="append", choices=tuple(STUDIES),
                        help="run only these studies (repeatable; default: all)")
    parser.add_argument("--report_only", action="store_true",
                        help="rewrite the page from cached results (the work directory's, "
                             "else docs/results/data/) without running anything")
    parser.add_argument("--out", default="docs/results.md")
    parser.add_argument("--seeds", type=int, default=3,
                        help="training runs per configuration (seeds 0, 1, ...; tables add "
                             "the mean and sd of top-1)")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--store", default=None,
                        help="keep every untimed result here too and start from it, so a "
                             "reproduction outlives its machine (default: cache/ beside the "
                             "page's data, committed); 'none': the work directory only")
    parser.add_argument("--defer_timing", action="store_true",
                        help="train and evaluate only; skip (do not cache) the timed "
                             "measurements, and write no study results or page")
    args = parser.parse_args()
    single_inter_op_thread()  # before any TF op: deterministic runs repeat bit for bit
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1; got {args.seeds}")
    settings = common.Settings(seeds=args.seeds)
    store = args.store or os.path.join(report.data_dir(args.out), "cache")
    bench = common.Bench(args.workdir, settings, verbose=args.verbose,
                         defer_timing=args.defer_timing,
                         store=None if store == "none" else store)
    runs = report.read_json(bench.path("results", report.RUNS_FILE)) or {}
    if not args.report_only:
        for name in args.study or tuple(STUDIES):
            start = time.perf_counter()
            results = STUDIES[name].run(bench)
            if bench.deferred:
                print(f"study {name}: trained; {len(bench.deferred)} timed measurements "
                      "deferred (rerun without --defer_timing, alone)", flush=True)
                bench.deferred.clear()
                continue
            report.write_json(bench.path("results", f"study_{name}.json"), results)
            print(f"study {name}: {time.perf_counter() - start:.0f} s", flush=True)
            # The page names the command, date and machine that produced each study.
            runs[name] = {"command": " ".join(["python -m benchmarks.reproduce"] + sys.argv[1:]),
                          "date": datetime.date.today().isoformat(),
                          "machine": common.machine()}
            report.write_json(bench.path("results", report.RUNS_FILE), runs)
    if not args.defer_timing:
        report.write(bench, args.out, runs)


if __name__ == "__main__":
    main()
