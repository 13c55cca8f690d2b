"""The op table of the tests: one Row per public op, expanded by test_ops.py into forward,
gradient and finite-difference checks against PyTorch (see tests/README.md for the grammar).

A row's `samples(rng)` returns Samples: positional args (NumPy arrays become tensors, anything
else is passed as is) and keyword args. Every row's samples should include a broadcast pair
(for ops with several tensor inputs) and a 0-d tensor, and respect the op's domain.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Sample:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    # indices of args that get requires_grad=True (default: every floating array)
    grad_args: tuple | None = None

    def diff_indices(self):
        if self.grad_args is not None:
            return self.grad_args
        return tuple(i for i, a in enumerate(self.args)
                     if isinstance(a, np.ndarray) and a.dtype.kind == "f")


@dataclass
class Row:
    name: str                       # dotted path under ndgrad / torch, e.g. "exp", "nn.functional.relu"
    samples: Callable[[np.random.Generator], list]
    torch_name: str | None = None   # when torch spells it differently
    method: str | None = None       # Tensor method name to check as well (None: none)
    grad: bool = True               # differentiable (compare gradients, finite differences)
    gradgrad: bool = True           # check second derivatives too
    atol: float = 1e-5
    rtol: float = 1e-4
    fd_atol: float = 1e-5           # finite differences are taken in float64
    outputs: Callable[[Any], list] | None = None  # pick the float outputs of a result
    # maps each random finite-difference direction into the inputs' domain (e.g. `symmetric`)
    project: Callable[[np.ndarray], np.ndarray] | None = None
    note: str = ""
    alias: str | None = None        # a second public name the same row covers


# Public names that are the same function object as a row's (e.g. `multiply` for `mul`).
ALIASES: set = set()


def alias(*names: str) -> None:
    ALIASES.update(names)


def symmetric(d):
    """The symmetric part of (a batch of) square matrices: a direction for ops that read one
    triangle of their input (cholesky, eigh), whose gradient is defined on symmetric inputs."""
    return (d + np.swapaxes(d, -1, -2)) / 2


def arr(rng, *shape, low=-2.0, high=2.0, dtype=np.float64):
    return rng.uniform(low, high, size=shape).astype(dtype)


def pos(rng, *shape, low=0.5, high=2.0, dtype=np.float64):
    return rng.uniform(low, high, size=shape).astype(dtype)


def unary(domain=arr):
    """Samples for an elementwise unary op: a matrix, a vector, a 0-d tensor, float32."""
    return lambda rng: [Sample((domain(rng, 3, 4),)), Sample((domain(rng, 5),)),
                        Sample((domain(rng),)), Sample((domain(rng, 2, 3, dtype=np.float32),))]


def binary(domain_a=arr, domain_b=arr, scalar=True):
    """Samples for a binary op: equal shapes, broadcast pairs, 0-d with a matrix, a number."""
    def make(rng):
        s = [Sample((domain_a(rng, 3, 4), domain_b(rng, 3, 4))),
             Sample((domain_a(rng, 3, 1), domain_b(rng, 1, 4))),
             Sample((domain_a(rng, 2, 3, 4), domain_b(rng, 4))),
             Sample((domain_a(rng), domain_b(rng, 3, 2))),
             Sample((domain_a(rng, 2, 3), domain_b(rng))),
             Sample((domain_a(rng, 2, 3, dtype=np.float32), domain_b(rng, 2, 3, dtype=np.float32)))]
        if scalar:
            s.append(Sample((domain_a(rng, 2, 3), float(domain_b(rng)))))
        return s
    return make


ROWS: list[Row] = []


def rows(*new: Row) -> None:
    ROWS.extend(new)
