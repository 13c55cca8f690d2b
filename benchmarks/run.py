"""Run the benchmark workloads, each library in its own process, and print a markdown table.

    python benchmarks/run.py                 # all workloads
    python benchmarks/run.py --record        # also append the table, dated, to RESULTS.md
    python benchmarks/run.py -w op_chain -r 30

Times are medians of repeated runs after warm-up; ratios compare with PyTorch eager and with
hand-written NumPy measured in the same run.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def measure(lib: str, name: str, repeats: int) -> float:
    from workloads import WORKLOADS
    fn, np_fn, _ = WORKLOADS[name]
    if lib == "numpy":
        call = np_fn
    else:
        mod = __import__(lib)
        call = lambda: fn(mod)  # noqa: E731
    for _ in range(3):
        call()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> str:
    import numpy as np
    parts = [f"{platform.machine()}, {os.cpu_count()} cores", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info
        parts += [f"{i['internal_api']} {i.get('version', '')} ({i['num_threads']} threads)"
                  for i in threadpool_info()]
    except ImportError:
        parts.append("BLAS: threadpoolctl not installed")
    try:
        import torch
        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        pass
    return "; ".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-w", "--workload", action="append")
    ap.add_argument("-r", "--repeats", type=int, default=21)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.repeats)))
        return 0
    from workloads import WORKLOADS
    names = args.workload or list(WORKLOADS)
    libs = ["ndgrad", "torch", "numpy"]
    rows = []
    for name in names:
        t = {}
        for lib in libs:
            out = subprocess.run([sys.executable, __file__, "--child", lib, name, "-r", str(args.repeats)],
                                 capture_output=True, text=True, check=True)
            t[lib] = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((name, t))
    lines = ["| workload | ndgrad | torch | numpy | ndgrad/torch | ndgrad/numpy |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, t in rows:
        lines.append(f"| {name} | {t['ndgrad'] * 1e3:.3f} ms | {t['torch'] * 1e3:.3f} ms | "
                     f"{t['numpy'] * 1e3:.3f} ms | {t['ndgrad'] / t['torch']:.2f} | "
                     f"{t['ndgrad'] / t['numpy']:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.record:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write(f"\n## core workloads, {stamp}\n\nMachine: {machine()}. Median of "
                    f"{args.repeats} runs after 3 warm-ups, each library in its own process.\n\n"
                    f"{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
