"""Do repeated runs leak?  Twenty runs in a row in one process, RSS after each.

Each run has a new Trainer, so it builds and traces a fresh model in a fresh
training thread (one Trainer would reuse its compiled model: a warm start);
once a run is dropped, nothing of it may stay reachable (Keras state is per
thread, traced graphs must go).  Target: RSS growth <= 150 MB from the
first run to the last.

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_memory.py [--runs 20] [--epochs 2]
"""

import argparse
import gc

import psutil

from convlab_widgets.architecture import presets
from convlab_widgets.training import Trainer, datasets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preset", default="conv_small")
    args = parser.parse_args()
    process = psutil.Process()
    data = datasets.load(args.data)
    rss = []
    for i in range(args.runs):
        run = Trainer(presets.get(args.preset), data).start(epochs=args.epochs, batch_size=32, filter_every=5)
        run.wait()
        assert run.status == "completed", run.error
        del run
        gc.collect()
        rss.append(process.memory_info().rss / 2**20)
        print(f"run {i + 1:2d}: RSS {rss[-1]:7.1f} MB")
    growth = rss[-1] - rss[0]
    later = rss[-1] - rss[len(rss) // 2]
    print(f"{args.runs} runs of {args.preset} on {args.data}, {args.epochs} epochs each: RSS growth from run 1 to "
          f"run {args.runs}: {growth:.1f} MB (second half: {later:.1f} MB); target <= 150 MB")


if __name__ == "__main__":
    main()
