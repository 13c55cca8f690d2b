"""Forward + backward of matmul (512x512, and a batch of 64 64x64 matrices, float32) in ndgrad,
in PyTorch on the CPU and in NumPy by hand (the three matmuls a backward needs): medians, ratios.

    python benchmarks/bench_linalg.py            # print a markdown table
    python benchmarks/bench_linalg.py --record   # also append it, dated, to benchmarks/RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch

import ndgrad
from _timing import median_ms, parse_args, record

CASES = {"matmul 512x512 @ 512x512": ((512, 512), (512, 512)),
         "matmul 64x64x64 @ 64x64x64 (batched)": ((64, 64, 64), (64, 64, 64))}


def make_step(lib, a, b, g):
    x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
    go = lib.tensor(g)

    def step():
        x.grad = y.grad = None
        (x @ y).backward(go)
        return x.grad
    return step


def make_numpy_step(a, b, g):
    def step():
        np.matmul(a, b)
        ga = np.matmul(g, np.swapaxes(b, -1, -2))
        np.matmul(np.swapaxes(a, -1, -2), g)
        return ga
    return step


def main():
    args = parse_args(__doc__, 30)
    rng = np.random.default_rng(0)
    table = ("| case | ndgrad (ms) | torch CPU (ms) | NumPy (ms) | ndgrad/torch | ndgrad/NumPy |\n"
             "|---|---|---|---|---|---|\n")
    for name, (sa, sb) in CASES.items():
        a, b = (rng.standard_normal(s).astype(np.float32) for s in (sa, sb))
        g = rng.standard_normal(np.broadcast_shapes(sa[:-1] + sb[-1:])).astype(np.float32)
        steps = (make_step(ndgrad, a, b, g), make_step(torch, a, b, g), make_numpy_step(a, b, g))
        np.testing.assert_allclose(steps[0]().numpy(), steps[1]().numpy(), rtol=1e-3, atol=1e-3)
        nd, th, npy = median_ms(steps, args.repeats)
        table += (f"| {name}, float32, fwd+bwd | {nd:.2f} | {th:.2f} | {npy:.2f} | "
                  f"{nd / th:.2f}x | {nd / npy:.2f}x |\n")
    print(table, end="")
    if args.record:
        record("bench_linalg", args.repeats, table)


if __name__ == "__main__":
    main()
