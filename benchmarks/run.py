"""Run the benchmark workloads, each library in its own process, and print markdown tables.

    python benchmarks/run.py                       # all workloads, all libraries
    python benchmarks/run.py --record              # also append the tables, dated, to RESULTS.md
    python benchmarks/run.py --rounds 3 --record   # libraries take turns three times: fairer under noise
    python benchmarks/run.py -w op_chain -r 30 --libs ndgrad,torch,micrograd

Times are medians of repeated calls after warm-up (each workload sets its repeats, -r overrides
them, and its fewest rounds); ratios compare with PyTorch eager and with hand-written NumPy
measured in the same run, round by round: each is the median of the rounds' ratios.
Peers (benchmarks/peers/) run their own implementation of each workload they support; the first
call's result of every library is checked against PyTorch's.
"""
import argparse
import datetime
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# NOTE: in each round the libraries run in this order; the ones compared with ndgrad run close
# to it in time, and JAX, whose eager runs take minutes, last.
LIBS = ["ndgrad", "torch", "numpy", "mygrad", "autograd", "micrograd", "jax", "jax.jit"]
PEERS_TO_BEAT = ["mygrad", "autograd", "micrograd"]  # their ratio to ndgrad has its own column
PEERS = {"jax": "peers.jax", "jax.jit": "peers.jax_jit", "autograd": "peers.autograd",
         "mygrad": "peers.mygrad", "micrograd": "peers.micrograd"}
# NOTE: where one call takes about a minute (JAX eager dispatches each of the scalar MLP's
# ~65,000 ops one by one), that library makes a single call, timed: its warm-up happens inside
# that call, since the same few ops repeat thousands of times.
SINGLE_CALL = {("jax", "scalar_mlp_step")}
RTOL = 1e-3


def measure(lib: str, name: str, repeats: int | None) -> dict:
    """Time one library on one workload in this process: median seconds, first result, note."""
    from workloads import WORKLOADS
    w = WORKLOADS[name]
    note = None
    if lib == "numpy":
        step = w.setup_numpy()
    elif lib in ("ndgrad", "torch"):
        step = w.setup(importlib.import_module(lib))
    else:
        peer = importlib.import_module(PEERS[lib])
        note = getattr(peer, "SUBSTITUTED", {}).get(name)
        if name not in peer.WORKLOADS:
            return {"time": None, "note": getattr(peer, "OMITTED", {}).get(name)}
        step = peer.WORKLOADS[name]()
    if (lib, name) in SINGLE_CALL:
        t0 = time.perf_counter()
        first = step()
        return {"time": time.perf_counter() - t0, "first": float(first), "note": note}
    first = step()
    for _ in range(w.warmups - 1):
        step()
    times = []
    for _ in range(repeats or w.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"time": statistics.median(times), "first": float(first), "note": note}


def run_child(lib: str, name: str, repeats: int | None) -> dict:
    """measure() in a fresh process; a failure comes back as {"error": last line of stderr}."""
    cmd = [sys.executable, __file__, "--child", lib, name] + (["-r", str(repeats)] if repeats else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        lines = out.stderr.strip().splitlines() or [f"exit status {out.returncode}"]
        return {"time": None, "error": lines[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """Cores, Python, NumPy, BLAS (threadpoolctl), thread settings and library versions."""
    import numpy as np
    parts = [f"{platform.machine()}, {os.cpu_count()} cores", f"Python {platform.python_version()}",
             f"NumPy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info
        parts += [f"{i['internal_api']} {i.get('version') or '(version unknown)'} "
                  f"({i['num_threads']} threads)" for i in threadpool_info()]
    except ImportError:
        parts.append("BLAS: threadpoolctl not installed")
    import torch
    parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    for dist in ("jax", "jaxlib", "autograd", "mygrad", "micrograd"):
        try:
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{dist} not installed")
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in
                    ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"))
    return "; ".join(parts) + f"; env {env}"


def fmt_ms(t: float | None) -> str:
    if t is None:
        return ""
    ms = t * 1e3
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}" if ms >= 1 else f"{ms:.3f}"


def paired_ratio(a: list, b: list) -> float | None:
    """The median, over rounds, of the ratio of library a's time to library b's in the same round
    (a library run once, a minute-long single call, is paired with every round of the other).

    NOTE: the machine's speed shifts by up to ~1.8x for seconds to minutes at a time, for every
    process alike: a ratio taken within a round, from processes that ran seconds apart, cancels
    the shift, where a ratio of the two medians may set one library's fast round against the
    other's slow one."""
    if len(a) == 1 or len(b) == 1:
        pairs = [(x, y) for x in a for y in b]
    else:
        pairs = list(zip(a, b))
    ratios = [x["time"] / y["time"] for x, y in pairs if x.get("time") and y.get("time")]
    return statistics.median(ratios) if ratios else None


def ratio(a: list, b: list | None) -> str:
    r = paired_ratio(a, b) if b else None
    if r is None:
        return ""
    return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"


def tables(rows: list, libs: list) -> tuple[str, list]:
    """The times table, the ratios table, and their footnotes."""
    notes = []

    def mark(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f" [{notes.index(text) + 1}]"

    head = ["workload"] + libs
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(libs) + "|"]
    for name, res, _ in rows:
        ref = res.get("torch") or res.get("numpy")
        cells = []
        for lib in libs:
            r = res[lib]
            cell = fmt_ms(r.get("time"))
            if r.get("error"):
                cell = "failed" + mark(f"{lib} on {name}: {r['error']}")
            if r.get("note"):
                cell += mark(f"{lib} on {name}: {r['note']}")
            elif ref and r.get("first") is not None and ref.get("first") is not None and not math.isclose(
                    r["first"], ref["first"], rel_tol=RTOL, abs_tol=1e-6):
                cell += mark(f"{lib} on {name}: first result {r['first']:.6g}, PyTorch's {ref['first']:.6g}")
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    times = "\n".join(lines)
    pairs = [("ndgrad", "torch"), ("ndgrad", "numpy")] + [(lib, "torch") for lib in libs
                                                          if lib not in ("ndgrad", "torch")]
    pairs += [("ndgrad", lib) for lib in PEERS_TO_BEAT]
    pairs = [(a, b) for a, b in pairs if a in libs and b in libs]
    lines = ["| workload | " + " | ".join(f"{a}/{b}" for a, b in pairs) + " |",
             "|---" + "|---:" * len(pairs) + "|"]
    for name, _, runs in rows:
        lines.append(f"| {name} | " + " | ".join(ratio(runs[a], runs[b]) for a, b in pairs) + " |")
    spread = ["", "ndgrad/torch in each round:", ""] + [
        f"- {name}: " + ", ".join(f"{x['time'] / y['time']:.3g}" for x, y in zip(runs["ndgrad"], runs["torch"])
                                  if x.get("time") and y.get("time"))
        for name, _, runs in rows if "ndgrad" in runs and "torch" in runs]
    lines += spread if len(spread) > 3 else []
    return times + ("\n\nRatios, each the median over rounds of the two libraries' times in the "
                    "same round (below 1: faster than the second library):\n\n") + "\n".join(lines), notes


def _median_run(runs: list) -> dict:
    """The run with the median time among a library's rounds (the first, if none has a time)."""
    timed = sorted((r for r in runs if r.get("time") is not None), key=lambda r: r["time"])
    return timed[(len(timed) - 1) // 2] if timed else runs[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-w", "--workload", action="append", help="a workload to run (repeatable)")
    ap.add_argument("-r", "--repeats", type=int, help="timed calls per library (default: per workload)")
    ap.add_argument("--libs", help=f"comma-separated libraries (default: {','.join(LIBS)})")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run every library this many times, in turn: times are the median round, "
                         "ratios the median of each round's (the machine's noise comes in bursts)")
    ap.add_argument("--record", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.repeats)))
        return 0
    from workloads import WORKLOADS
    names = args.workload or list(WORKLOADS)
    libs = args.libs.split(",") if args.libs else LIBS
    unknown = [n for n in names if n not in WORKLOADS] + [lib for lib in libs if lib not in LIBS]
    if unknown:
        ap.error(f"unknown workload or library: {', '.join(unknown)} (workloads: {', '.join(WORKLOADS)}; "
                 f"libraries: {', '.join(LIBS)})")
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows = []
    for name in names:
        runs = {lib: [] for lib in libs}
        for _ in range(max(args.rounds, WORKLOADS[name].rounds)):
            for lib in libs:
                if (lib, name) in SINGLE_CALL and runs[lib]:
                    continue  # a minute-long single call is not repeated
                runs[lib].append(run_child(lib, name, args.repeats))
                print(f"{name} {lib}: {fmt_ms(runs[lib][-1].get('time')) or '-'} ms", file=sys.stderr,
                      flush=True)
        res = {lib: _median_run(r) for lib, r in runs.items()}
        rows.append((name, res, runs))
    body, notes = tables(rows, libs)
    workloads = "\n".join(f"- {name}: {WORKLOADS[name].description}" for name in names)
    footnotes = "\n".join(f"[{i}] {n}" for i, n in enumerate(notes, 1))
    plan = (f"{args.repeats} timed calls" if args.repeats else
            "timed calls per workload: " + ", ".join(f"{n} {WORKLOADS[n].repeats}" for n in names))
    single = "; ".join(f"{lib} on {n}: one call, timed" for lib, n in sorted(SINGLE_CALL)
                       if lib in libs and n in names)
    rounds = {n: max(args.rounds, WORKLOADS[n].rounds) for n in names}
    if max(rounds.values()) > 1:
        plan += ("; rounds of every library in turn, the median round kept: " +
                 ", ".join(f"{n} {r}" for n, r in rounds.items()))
    report = (f"Times in ms, the median of the timed calls after warm-up ({plan}"
              f"{'; ' + single if single else ''}), each library in its own process; blank: the library "
              f"has no version of the workload.\n\n{body}\n\n{footnotes}\n\nWorkloads:\n{workloads}\n")
    print(report)
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.record:
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write(f"\n## workloads vs peers, {stamp}\n\nMachine: {machine()}; 1-minute load average "
                    f"{load:.1f} before the run, {os.getloadavg()[0]:.1f} after it (the run adds about 1)."
                    f"\n\n{report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
