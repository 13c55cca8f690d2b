"""The workloads in JAX, eager: jax.numpy and jax.value_and_grad without jit (jax_jit.py jits them)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

from workloads import LR, data  # noqa: E402


def _xent(logits, y):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))


def _sgd(loss_fn, lr=LR):
    """One SGD step of `loss_fn(params)`: (loss, updated params)."""
    def step(params):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        return loss, jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    return step


def _trainer(update, params):
    """A zero-argument step that applies `update` to params kept between calls."""
    state = [params]

    def step():
        loss, state[0] = update(state[0])
        return float(loss)
    return step


def make_workloads(wrap) -> dict:
    """The workloads with every differentiated step passed through `wrap` (identity or jax.jit)."""
    def seed_regression():
        x = jnp.array([1, 2, 3, 4, 5], jnp.float32)
        y = jnp.array([3, 5, 7, 9, 11], jnp.float32)

        def loss_fn(ab):
            return jnp.mean((ab[0] * x + ab[1] - y) ** 2)
        epoch = wrap(_sgd(loss_fn, 0.1))

        def run():
            ab = (jnp.ones(1, jnp.float32), jnp.ones(1, jnp.float32))
            for _ in range(100):
                loss, ab = epoch(ab)
            return float(loss)
        return run

    def seed_descent():
        epoch = wrap(_sgd(lambda x: x ** 2, 0.1))

        def run():
            x = jnp.float32(3.0)
            for _ in range(50):
                _, x = epoch(x)
            return float(x)
        return run

    def op_chain():
        def chain(x):
            y = x
            for _ in range(250):
                y = y * 1.001
                y = y + 0.001
                y = jnp.sin(y)
                y = y - 0.001
            return y.sum()
        dchain = wrap(jax.grad(chain))
        return lambda: float(dchain(jnp.array([0.5], jnp.float32))[0])

    def mlp_step():
        d = data("mlp_step")
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        def loss_fn(params):
            w1, b1, w2, b2, w3, b3 = params
            h = jax.nn.relu(x @ w1 + b1)
            h = jax.nn.relu(h @ w2 + b2)
            return _xent(h @ w3 + b3, y)
        return _trainer(wrap(_sgd(loss_fn)), [jnp.asarray(p) for p in d["params"]])

    def blas_step():
        d = data("blas_step")
        x = jnp.asarray(d["x"])

        def loss_fn(params):
            h = x
            for w in params:
                h = jnp.tanh(h @ w)
            return h.sum()
        value_and_grad = wrap(jax.value_and_grad(loss_fn))
        params = [jnp.asarray(w) for w in d["params"]]

        def step():
            loss, grads = value_and_grad(params)
            jax.block_until_ready(grads)
            return float(loss)
        return step

    def scalar_mlp_step():
        d = data("scalar_mlp_step")
        xs, ys = d["x"].tolist(), d["y"].tolist()

        def loss_fn(layers):
            losses = []
            for x, y in zip(xs, ys):
                h = x
                for k, (w, b) in enumerate(layers):
                    h = [sum((wi * hi for wi, hi in zip(row, h)), bj) for row, bj in zip(w, b)]
                    if k < len(layers) - 1:
                        h = [jax.nn.relu(a) for a in h]
                losses.append(jax.nn.relu(1 + -y * h[0]))
            params = jax.tree_util.tree_leaves(layers)
            return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
        layers = [([[jnp.float32(v) for v in row] for row in w.tolist()],
                   [jnp.float32(v) for v in b.tolist()]) for w, b in zip(d["params"][::2], d["params"][1::2])]
        return _trainer(wrap(_sgd(loss_fn)), layers)

    def conv_step():
        d = data("conv_step")
        x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])

        def conv(h, w, b):
            return lax.conv_general_dilated(h, w, (1, 1), "VALID") + b[:, None, None]

        def pool(h):
            return lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def loss_fn(params):
            w1, b1, w2, b2, w3, b3 = params
            h = pool(jax.nn.relu(conv(x, w1, b1)))
            h = pool(jax.nn.relu(conv(h, w2, b2)))
            return _xent(h.reshape(h.shape[0], -1) @ w3 + b3, y)
        return _trainer(wrap(_sgd(loss_fn)), [jnp.asarray(p) for p in d["params"]])

    return {"seed_regression": seed_regression, "seed_descent": seed_descent, "op_chain": op_chain,
            "mlp_step": mlp_step, "blas_step": blas_step, "scalar_mlp_step": scalar_mlp_step,
            "conv_step": conv_step}


WORKLOADS = make_workloads(lambda f: f)
