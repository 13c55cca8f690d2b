"""Timing and recording shared by the bench_*.py scripts."""
import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np


def median_ms(steps, repeats, warmup=3):
    """Median time of each step in milliseconds; the steps alternate, so a busy machine slows
    them alike and the ratio stays fair."""
    for _ in range(warmup):
        for step in steps:
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, ts in zip(steps, times):
            t0 = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) * 1e3 for ts in times]


def record(name: str, repeats: int, table: str) -> None:
    """Append ``table`` to RESULTS.md under a dated header naming the machine and its load."""
    import torch
    info = (f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads "
            f"{torch.get_num_threads()}, numpy {np.__version__}, torch {torch.__version__}, "
            f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    with open(path, "a") as f:
        f.write(f"\n## {name}, {datetime.datetime.now():%Y-%m-%d %H:%M} ({info})\n\n"
                f"median of {repeats} repeats\n\n{table}")


def row(name: str, ours: float, torch_ms: float) -> str:
    """A table row of two times in ms and their ratio, printed as it is made."""
    line = f"| {name} | {ours:.2f} | {torch_ms:.2f} | {ours / torch_ms:.2f}x |\n"
    print(line, end="", flush=True)
    return line


def publish(name: str, head: str, rows: list, args) -> None:
    """The table of ``rows`` under the column names ``head``: printed, and recorded with
    --record."""
    table = f"| {head} |\n|---|---|---|---|\n" + "".join(rows)
    print()
    print(table, end="")
    if args.record:
        record(name, args.repeats, table)


def parse_args(doc: str, repeats: int) -> argparse.Namespace:
    """The bench scripts' command line: --repeats, --record, -k NAME, --threads N (torch's)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=repeats)
    ap.add_argument("--record", action="store_true", help="append the table to RESULTS.md")
    ap.add_argument("-k", default="", help="only the cases whose name contains this")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    return args
