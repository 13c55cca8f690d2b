"""Function transforms in ndgrad and in PyTorch on the CPU: the Hessian of a 100-input function,
the Jacobian of a 100-to-100 function (vectorize=True), per-sample gradients of a 784-128-10 MLP
over a batch of 64 (vmap of grad). Medians of repeats and their ratio.

    python benchmarks/bench_functional.py            # print a markdown table
    python benchmarks/bench_functional.py --record   # also append it, dated, to RESULTS.md
"""
from __future__ import annotations

import numpy as np
import torch
import torch.autograd.functional as TAF
import torch.func as tf

import ndgrad
import ndgrad.autograd.functional as AF
import ndgrad.func as nf
from _timing import median_ms, parse_args, record


def scalar_fn(lib, A):
    a = lib.tensor(A)
    return lambda x: (lib.tanh(a @ x) * x).sum() + (x ** 3).sum()


def vector_fn(lib, A):
    a = lib.tensor(A)
    return lambda x: lib.tanh(a @ x) * x.sin()


def mlp_loss(lib):
    F = lib.nn.functional

    def loss(params, x, y):
        w1, b1, w2, b2 = params
        out = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
        return F.cross_entropy(out.unsqueeze(0), y.unsqueeze(0))
    return loss


def cases(rng):
    A = rng.standard_normal((100, 100)) / 10
    x = rng.standard_normal(100)
    params = [rng.standard_normal(s).astype(np.float32) * 0.05
              for s in ((128, 784), (128,), (10, 128), (10,))]
    xs = rng.standard_normal((64, 784)).astype(np.float32)
    ys = rng.integers(0, 10, 64)

    def hess(lib, F):
        f, t = scalar_fn(lib, A), lib.tensor(x)
        return lambda: F.hessian(f)(t)

    def hess_af(lib, F):
        f, t = scalar_fn(lib, A), lib.tensor(x)
        return lambda: F.hessian(f, t, vectorize=True)

    def jac(lib, F):
        f, t = vector_fn(lib, A), lib.tensor(x)
        return lambda: F.jacobian(f, t, vectorize=True)

    def per_sample(lib, F):
        p = tuple(lib.tensor(q) for q in params)
        xb, yb = lib.tensor(xs), lib.tensor(ys)
        g = F.vmap(F.grad(mlp_loss(lib)), in_dims=(None, 0, 0))
        return lambda: g(p, xb, yb)[0]

    return [("hessian, 100 inputs (func.hessian)", hess, nf, tf),
            ("hessian, 100 inputs (autograd.functional, vectorize=True)", hess_af, AF, TAF),
            ("jacobian, 100 -> 100 (autograd.functional, vectorize=True)", jac, AF, TAF),
            ("per-sample grads, MLP 784-128-10, batch 64 (vmap(grad))", per_sample, nf, tf)]


def main():
    args = parse_args(__doc__, 20)
    rng = np.random.default_rng(0)
    rows = ["| case | ndgrad (ms) | torch CPU (ms) | ratio |", "|---|---|---|---|"]
    for name, make, nd_mod, th_mod in cases(rng):
        nd_step, th_step = make(ndgrad, nd_mod), make(torch, th_mod)
        np.testing.assert_allclose(nd_step().numpy(), th_step().numpy(), rtol=1e-4, atol=1e-5)
        nd, th = median_ms((nd_step, th_step), args.repeats)
        rows.append(f"| {name} | {nd:.2f} | {th:.2f} | {nd / th:.2f}x |")
    table = "\n".join(rows) + "\n"
    print(table, end="")
    if args.record:
        record("bench_functional", args.repeats, table)


if __name__ == "__main__":
    main()
