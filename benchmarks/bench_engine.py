"""Engine speed: the Fig. 1 network (digits, 64-100-100-100-10, sigmoid, BN,
batch 60, float32, SGD) in bnviz and, when installed, in PyTorch on the CPU.

Both run single-threaded in this one process, in alternating rounds, so a
noisy machine slows both alike; the figures are medians over the rounds.

    python benchmarks/bench_engine.py [--rounds 7] [--steps 400]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from bnviz.engine import RunConfig, Trainer  # noqa: E402

FIG1 = RunConfig(dataset="digits", hidden=(100, 100, 100), activation="sigmoid", batchnorm=True,
                 init="gaussian", optimizer="sgd", lr=0.1, batch_size=60, dtype="float32", seed=0)


GUI_CHUNK = 20          # steps per worker chunk (one record each)
GUI_SUMMARY_EVERY = 8   # the worker's percentile-summary interval (bnviz/training/host.py)
GUI = "bnviz as the GUI runs it"
EVERY = "bnviz step(): everything every step"


def time_steps(fn, steps: int) -> float:
    """Steps per second of ``fn`` called ``steps`` times."""
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return steps / (time.perf_counter() - t0)


def make_torch_step():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tr = Trainer(FIG1)
    x = torch.from_numpy(np.array(tr.x_train))
    y = torch.from_numpy(np.array(tr.y_train))
    layers, d = [], x.shape[1]
    for _ in range(3):
        layers += [torch.nn.Linear(d, 100, bias=False), torch.nn.BatchNorm1d(100), torch.nn.Sigmoid()]
        d = 100
    layers.append(torch.nn.Linear(d, tr.data.n_classes))
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    state = {"order": np.arange(0), "pos": 0}

    def step():
        # The same work as bnviz: a shuffled mini-batch of 60 per step.
        if state["pos"] + 60 > len(state["order"]):
            state["order"], state["pos"] = torch.from_numpy(rng.permutation(len(y))), 0
        idx = state["order"][state["pos"]:state["pos"] + 60]
        state["pos"] += 60
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
    return step, torch.__version__


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=400)
    args = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass

    bare = Trainer(FIG1)
    gui = Trainer(FIG1, summary_every=GUI_SUMMARY_EVERY)
    every = Trainer(FIG1)
    chunk = {"n": 0}

    def gui_step():
        # What the GUI's worker does: history at every step, percentile
        # summaries every few steps, a frozen record per chunk of steps.
        chunk["n"] += 1
        if chunk["n"] == GUI_CHUNK:
            gui.step(GUI_CHUNK)
            chunk["n"] = 0

    torch_step = make_torch_step()
    contenders = {"bnviz bare step": bare.train_batch, GUI: gui_step, EVERY: every.step}
    if torch_step:
        contenders[f"PyTorch {torch_step[1]}"] = torch_step[0]
    for fn in contenders.values():  # warm up
        time_steps(fn, 50)
    rates = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            rates[name].append(time_steps(fn, args.steps))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"Fig. 1 network, digits, batch 60, float32, 1 thread, {args.rounds} rounds x {args.steps} steps")
    for name, r in med.items():
        print(f"  {name:<34} {r:8.0f} steps/s  ({1e6 / r:6.0f} us/step)")
    print(f"  ({GUI}: history every step, percentile summaries every {GUI_SUMMARY_EVERY}th step,")
    print("   which at ~1,000 steps/s is still over 100 summaries per second of plot data;")
    print(f"   a frozen StepRecord every {GUI_CHUNK} steps; step(): history, summaries and a record every step)")
    bare_us = 1e6 / med["bnviz bare step"]
    for name in (GUI, EVERY):
        cost = 1e6 / med[name] - bare_us
        print(f"  bookkeeping cost, {name}: {cost:.0f} us/step = {cost / bare_us:.0%} of a bare step")
    if torch_step:
        tname = next(k for k in med if k.startswith("PyTorch"))
        for name in (GUI, EVERY, "bnviz bare step"):
            print(f"  ratio {name} / PyTorch: {med[name] / med[tname]:.2f}x")
        print(f"  target: {GUI} >= 1.5x PyTorch: "
              f"{'MET' if med[GUI] / med[tname] >= 1.5 else 'MISSED'}")
    else:
        print("  PyTorch is not installed: no ratio (pip install torch to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
