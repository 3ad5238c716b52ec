"""Engine speed: the Fig. 1 network (digits, 64-100-100-100-10, sigmoid, BN,
batch 60, float32, SGD) in bnviz and, when installed, in PyTorch on the CPU;
then the small CNN on the digits (benchmarks/cnn_steps.py, batch 64) in both.

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
sys.path.insert(0, os.path.dirname(__file__))   # cnn_steps

import numpy as np  # noqa: E402

from bnviz.engine import RunConfig, Trainer  # noqa: E402
from bnviz.engine.trainer import PLAYING_SUMMARY_EVERY  # noqa: E402

FIG1 = RunConfig(dataset="digits", hidden=(100, 100, 100), activation="sigmoid", batchnorm=True,
                 init="gaussian", optimizer="sgd", lr=0.1, batch_size=60, dtype="float32", seed=0)


RECORD_EVERY = 20   # the training process builds one frozen record per frame: ~20 steps at 600/s
BARE = "bnviz bare step"
ROWS = "bnviz with history rows"
GUI = "bnviz as the window trains"
ADVANCE = "bnviz advance() with history"
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
    # The training process's pattern (training/host.py with Comparison.advance
    # and summarize_last=False): a history row at every step, a percentile
    # summary every PLAYING_SUMMARY_EVERY steps, a frozen record per frame.
    rows = Trainer(FIG1, summary_every=1 << 40)
    gui = Trainer(FIG1, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    lib = Trainer(FIG1, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    every = Trainer(FIG1)

    def as_the_window(tr):
        def step():
            tr.train_batch()
            tr.write_history()
            if tr.step_count % RECORD_EVERY == 0:
                tr.record()
        return step

    def advance_chunks():
        lib.advance(RECORD_EVERY)

    torch_step = make_torch_step()
    contenders = {BARE: bare.train_batch, ROWS: as_the_window(rows), GUI: as_the_window(gui),
                  EVERY: every.step}
    if torch_step:
        contenders[f"PyTorch {torch_step[1]}"] = torch_step[0]
    for fn in contenders.values():  # warm up
        time_steps(fn, 50)
    lib.advance(50)
    rates = {k: [] for k in [*contenders, ADVANCE]}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            rates[name].append(time_steps(fn, args.steps))
        rates[ADVANCE].append(RECORD_EVERY * time_steps(advance_chunks, args.steps // RECORD_EVERY))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"Fig. 1 network, digits, batch 60, float32, 1 thread, {args.rounds} rounds x {args.steps} steps")
    for name, r in med.items():
        print(f"  {name:<34} {r:8.0f} steps/s  ({1e6 / r:6.0f} us/step)")
    print(f"  ({ROWS}: a history row at every step, a frozen record every {RECORD_EVERY};")
    print(f"   {GUI}: the same and a percentile summary every {PLAYING_SUMMARY_EVERY}th step, as the")
    print(f"   training process does; {ADVANCE}: advance({RECORD_EVERY}) with that summary interval,")
    print("   which also summarises each call's last step; step(): a summary and a record every step)")
    bare_us = 1e6 / med[BARE]
    for name in (ROWS, GUI, ADVANCE, EVERY):
        cost = 1e6 / med[name] - bare_us
        print(f"  bookkeeping, {name}: {cost:.0f} us/step = {cost / bare_us:.0%} of a bare step")
    summary_us = (1e6 / med[GUI] - 1e6 / med[ROWS]) * PLAYING_SUMMARY_EVERY
    print(f"  one percentile summary (batch and probe): about {summary_us / 1e3:.1f} ms")
    if torch_step:
        tname = next(k for k in med if k.startswith("PyTorch"))
        for name in (BARE, ROWS, GUI, ADVANCE, EVERY):
            print(f"  ratio {name} / PyTorch: {med[name] / med[tname]:.2f}x")
        for name, target in ((GUI, 1.5), (ADVANCE, 1.6)):
            ratio = med[name] / med[tname]
            print(f"  target: {name} >= {target}x PyTorch: {'MET' if ratio >= target else 'MISSED'}")
    else:
        print("  PyTorch is not installed: no ratio (pip install torch to compare)")
    rows_share = (1e6 / med[ROWS] - bare_us) / bare_us
    print(f"  target: history rows <= 15 % of a bare step: {'MET' if rows_share <= 0.15 else 'MISSED'}")
    cnn_section(args.rounds, args.steps)
    return 0


def cnn_section(rounds: int, steps: int) -> None:
    """The small CNN on the digits: a bare training step in bnviz's engine
    against PyTorch's, alternating rounds in this process, medians."""
    from cnn_steps import BATCH, CHANNELS, make_bnviz_cnn_step, make_torch_cnn_step
    contenders = {"bnviz CNN step": make_bnviz_cnn_step()}
    torch_step = make_torch_cnn_step()
    if torch_step:
        contenders["PyTorch CNN step"] = torch_step
    for fn in contenders.values():
        time_steps(fn, 50)
    rates = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            rates[name].append(time_steps(fn, steps))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"Small CNN, digits 1x8x8, conv 3x3 {CHANNELS[0]} and {CHANNELS[1]} channels with BN, ReLU "
          f"and 2x2 max pooling, dense 64 with BN, batch {BATCH}, float32, 1 thread")
    for name, r in med.items():
        print(f"  {name:<34} {r:8.0f} steps/s  ({1e6 / r:6.0f} us/step)")
    if torch_step:
        ratio = med["bnviz CNN step"] / med["PyTorch CNN step"]
        print(f"  ratio bnviz / PyTorch: {ratio:.2f}x; target >= 1.0x: {'MET' if ratio >= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
