"""Timing and recording shared by the bench_*.py scripts."""
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
