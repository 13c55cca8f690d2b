"""glibc's malloc, set at import where its own adaptive thresholds end up once large arrays have
come and gone, so that a training loop reuses its freed heap rather than giving it back to the
system and faulting it in again on the next step.

glibc serves a large request (128 KB at start) with its own mmap, and raises that threshold to
the size of each such block freed, up to 32 MB; it gives the top of the heap back to the system
once more than twice the threshold lies free there. A training step allocates its activations
and gradients, a few MB, and frees them all when its graph goes: the heap's top falls free past
the trim threshold at the end of every step, is given back, and every page of it faults in again
on the next one. ndgrad sets the two thresholds to their adaptive ceilings (32 MB and 64 MB)
from the start: arrays under 32 MB come from the heap, and up to 64 MB of freed heap stays for
reuse.

PERF: conv_step (benchmarks/workloads.py), one process, 2 threads: ~1,400 page faults a step
before, 0 after; 19.2-21.0 ms a step before, 11.2-12.6 ms after (medians of 50 steps, three
runs each). mlp_step, blas_step, seed_regression and op_chain made no page faults before.

Set NDGRAD_MALLOC=default to leave malloc as it is. ndgrad also leaves it alone when any of
glibc's MALLOC_*_ tuning variables is set (the user's choice wins), and off glibc.
"""
from __future__ import annotations

import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's ceiling for its adaptive mmap threshold on 64-bit systems
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # glibc's adaptive trim threshold: twice the mmap threshold
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "MALLOC_MMAP_MAX_")


def tune() -> bool:
    """Set glibc's thresholds as the module says; whether they were set."""
    if os.environ.get("NDGRAD_MALLOC", "").strip().lower() == "default":
        return False
    if not sys.platform.startswith("linux") or any(os.environ.get(v) for v in _USER_SETTINGS) \
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    import ctypes  # only here: off Linux, and with the opt-out, ndgrad never loads it
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # NOTE: setting either threshold switches glibc's adaptation of both off, so both are set;
    # mallopt returns 1 on success.
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1


TUNED = tune()
