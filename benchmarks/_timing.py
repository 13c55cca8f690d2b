"""Timing shared by the bench_*.py scripts."""
import statistics
import time


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
