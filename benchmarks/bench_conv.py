"""Forward + backward of a small convnet (32 images 1x28x28, conv 3x3 -> 16, relu, max_pool 2,
conv 3x3 -> 32, relu) in ndgrad and in PyTorch on the CPU: the median of repeats and their ratio.

    python benchmarks/bench_conv.py            # print a markdown table
    python benchmarks/bench_conv.py --record   # also append it, dated, to benchmarks/RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch

import ndgrad
from _timing import median_ms, parse_args, record


def make_step(lib, arrays):
    F = lib.nn.functional
    x, w1, b1, w2, b2 = (lib.tensor(a, requires_grad=i > 0) for i, a in enumerate(arrays))

    def step():
        for p in (w1, b1, w2, b2):
            p.grad = None
        h = F.max_pool2d(lib.relu(F.conv2d(x, w1, b1)), 2)
        F.conv2d(h, w2, b2).relu().sum().backward()
        return w1.grad
    return step


def main():
    args = parse_args(__doc__, 30)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in
              ((32, 1, 28, 28), (16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,))]
    nd_step, th_step = make_step(ndgrad, arrays), make_step(torch, arrays)
    np.testing.assert_allclose(nd_step().numpy(), th_step().numpy(), rtol=1e-3, atol=1e-3)
    nd, th = median_ms((nd_step, th_step), args.repeats)
    table = ("| case | ndgrad (ms) | torch CPU (ms) | ratio |\n|---|---|---|---|\n"
             f"| convnet fwd+bwd, 32x1x28x28, float32 | {nd:.2f} | {th:.2f} | {nd / th:.2f}x |\n")
    print(table, end="")
    if args.record:
        record("bench_conv", args.repeats, table)


if __name__ == "__main__":
    main()
