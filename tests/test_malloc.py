"""glibc's malloc thresholds that ndgrad sets at import (src/ndgrad/_malloc.py): a loop that
allocates and frees a few MB of arrays a step stops faulting its heap in again every step, and
NDGRAD_MALLOC=default, or the user's own MALLOC_*_ settings, leave malloc alone."""
import os
import subprocess
import sys

import pytest

# Each step holds 8 arrays of 2 MB at once, then frees them all, as a training step does with
# its activations; the count is of minor page faults over 20 steps after 3 of warm-up.
LOOP = """
import resource, numpy as np, ndgrad
def step():
    held = [np.ones(1 << 18) for _ in range(8)]
    del held
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(ndgrad._malloc.TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def run_loop(**env):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("MALLOC_") and k not in ("NDGRAD_MALLOC", "GLIBC_TUNABLES")}
    out = subprocess.run([sys.executable, "-c", LOOP], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0] == "True", int(out[1])


def glibc() -> bool:
    import ctypes
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return sys.platform.startswith("linux")


needs_glibc = pytest.mark.skipif(not glibc(), reason="the thresholds are glibc's")


@needs_glibc
def test_freed_heap_is_reused_not_faulted_in_again():
    tuned, faults = run_loop()
    untouched, default_faults = run_loop(NDGRAD_MALLOC="default")
    assert tuned and not untouched
    # 20 steps of 16 MB given back and faulted in again: ~80k faults with glibc's defaults
    assert default_faults > 20 * 1000
    assert faults < default_faults / 20


@needs_glibc
@pytest.mark.parametrize("env", [{"MALLOC_TRIM_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_the_users_malloc_settings_win(env):
    tuned, _ = run_loop(**env)
    assert not tuned
