"""Do repeated runs leak?  A hundred runs in a row in one process, RSS after each, two ways.

``trainer``: each run has a new Trainer, in a fresh training thread; it trains
the compiled model the process kept from the run before (``models.WARM_MODELS``,
a warm start).  Once a run is dropped, nothing of it may stay reachable (Keras
state is per thread).

``cold``: the same with no warm model (the pool emptied before each run): each
run builds and traces a fresh model, and the one before must go with its traced
graphs.

``lab``: one ``ConvLab`` trains every run (``lab.train(wait=True)``, as a
learner clicks Train again and again) and keeps them all in ``lab.runs``: their
histories stay, their graphs and Keras models must not.  The runs alternate
between two seeds and two learning rates, as a learner's do.

Target (issue 17): growth per run after run 5 (a least-squares slope of RSS
over runs 6..N, less sensitive to one allocator step than last minus first)
<= 0.1 MB/run, for each.

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_memory.py [--runs 100] [--epochs 2] [--mode trainer cold lab]
"""

import argparse
import gc
import statistics
import time

import psutil

from convlab_widgets.architecture import presets
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.models import WARM_MODELS

SETTLE_RUNS = 5  # caches filled, allocator pools grown: growth is measured after these


def trainer_runs(args, data, cold=False):
    for _ in range(args.runs):
        if cold:
            WARM_MODELS.clear()
        run = Trainer(presets.get(args.preset), data).start(epochs=args.epochs, batch_size=32, filter_every=5)
        run.wait()
        assert run.status == "completed", run.error
        del run
        yield


def lab_runs(args, data):
    from convlab_widgets import ConvLab

    lab = ConvLab(dataset=args.data, architecture=args.preset)
    for i in range(args.runs):
        run = lab.train(epochs=args.epochs, batch_size=32, filter_every=5, seed=i % 2,
                        learning_rate=(1e-3, 2e-3)[i // 2 % 2], wait=True)
        assert run.status == "completed", run.error
        del run
        yield
    assert len(lab.runs) == args.runs and all(run.history["epoch"] for run in lab.runs)  # histories kept


def slope(values):
    """MB per run: the least-squares slope of ``values`` over their index."""
    xs = range(len(values))
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(values)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values)) / sum((x - mean_x) ** 2 for x in xs)


def measure(mode, runs, args, data):
    process = psutil.Process()
    rss = []
    started = time.perf_counter()
    for i, _ in enumerate(runs):
        gc.collect()
        rss.append(process.memory_info().rss / 2**20)
        if args.verbose or i < 3 or (i + 1) % 10 == 0:
            print(f"{mode} run {i + 1:3d}: RSS {rss[-1]:7.1f} MB", flush=True)
    later = rss[SETTLE_RUNS:]
    print(f"{mode}: {args.runs} runs of {args.preset} on {args.data}, {args.epochs} epochs each, "
          f"{time.perf_counter() - started:.0f} s: RSS {rss[0]:.1f} MB after run 1, {rss[SETTLE_RUNS - 1]:.1f} after "
          f"run {SETTLE_RUNS}, {rss[-1]:.1f} after run {args.runs}; growth after run {SETTLE_RUNS}: "
          f"{slope(later):.3f} MB/run (slope), {(later[-1] - later[0]) / max(len(later) - 1, 1):.3f} MB/run "
          f"(last minus first); target <= 0.1 MB/run", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preset", default="conv_small")
    parser.add_argument("--mode", nargs="+", choices=("trainer", "cold", "lab"), default=["trainer", "cold", "lab"])
    parser.add_argument("--verbose", action="store_true", help="print RSS after every run")
    args = parser.parse_args()
    data = datasets.load(args.data)
    for mode in args.mode:
        runs = lab_runs(args, data) if mode == "lab" else trainer_runs(args, data, cold=mode == "cold")
        measure(mode, runs, args, data)


if __name__ == "__main__":
    main()
