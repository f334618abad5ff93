"""Overhead of training through Trainer (events consumed on the main thread)
versus a plain ``model.fit``, with livelossplot's PlotLossesKeras beside it.

Same architecture, data pipeline, epochs and seed for every variant; trials
are interleaved so that load on the machine affects all variants alike, and
the medians are compared.  Wall time is what a learner waits; the process's
CPU time (all threads) is less disturbed by other work on a shared machine.
Also reports the time from ``start()`` to the first batch event.

    TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg python benchmarks/bench_overhead.py [--trials 5] [--epochs 8]
"""

import argparse
import contextlib
import io
import statistics
import time

import keras

from convlab_widgets.architecture import presets
from convlab_widgets.training import Trainer, datasets


def compiled_model(arch):
    model = arch.to_keras()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=False)
    return model


def plain(arch, data, epochs, batch_size, callbacks=()):
    keras.utils.set_random_seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    model = compiled_model(arch)
    model.fit(data.train(batch_size, seed=0), validation_data=data.validation(batch_size), epochs=epochs,
              verbose=0, shuffle=False, callbacks=list(callbacks))
    return time.perf_counter() - start, time.process_time() - cpu


def livelossplot(arch, data, epochs, batch_size):
    from livelossplot import PlotLossesKeras

    with contextlib.redirect_stdout(io.StringIO()):  # it prints a text summary outside notebooks
        return plain(arch, data, epochs, batch_size, [PlotLossesKeras()])


def trainer(arch, data, epochs, batch_size):
    """As the dashboard consumes a run: drain on the main thread, per event."""
    seen = {"batch": 0, "epoch": 0, "filters": 0}
    first = []
    start, cpu = time.perf_counter(), time.process_time()
    run = Trainer(arch, data).start(epochs=epochs, batch_size=batch_size, seed=0)

    def on_event(event):
        if event.kind == "batch" and not first:
            first.append(time.perf_counter() - start)
        seen[event.kind] = seen.get(event.kind, 0) + 1

    run.wait(on_event=on_event)
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    assert run.status == "completed", run.error
    return elapsed, first[0], seen


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preset", default="conv_small")
    args = parser.parse_args()
    data = datasets.load(args.data)
    arch = presets.get(args.preset)
    work = (arch, data, args.epochs, args.batch_size)

    cold_plain = plain(*work)  # warm TensorFlow up once, for every variant
    _, cold_first, _ = trainer(*work)
    times = {"plain model.fit": [], "Trainer + main-thread drain": [], "livelossplot PlotLossesKeras": []}
    firsts = []
    for _ in range(args.trials):
        times["plain model.fit"].append(plain(*work))
        elapsed, first, seen = trainer(*work)
        times["Trainer + main-thread drain"].append(elapsed)
        firsts.append(first)
        times["livelossplot PlotLossesKeras"].append(livelossplot(*work))

    steps = data.steps_per_epoch(args.batch_size)
    print(f"{args.preset} on {args.data}: {args.epochs} epochs × {steps} steps, batch {args.batch_size}, "
          f"{args.trials} interleaved trials (cold plain fit {cold_plain[0]:.2f} s)")
    print(f"{'variant':30} {'wall median s':>13} {'ratio':>6} {'wall min s':>10} {'ratio':>6} "
          f"{'CPU median s':>12} {'ratio':>6}")
    base = {key: [t[i] for t in times["plain model.fit"]] for i, key in enumerate(("wall", "cpu"))}
    for name, values in times.items():
        wall, cpu = [t[0] for t in values], [t[1] for t in values]
        print(f"{name:30} {statistics.median(wall):13.3f} {statistics.median(wall) / statistics.median(base['wall']):6.3f} "
              f"{min(wall):10.3f} {min(wall) / min(base['wall']):6.3f} "
              f"{statistics.median(cpu):12.3f} {statistics.median(cpu) / statistics.median(base['cpu']):6.3f}")
    print(f"events consumed per Trainer run: {seen}")
    print(f"start() → first batch event: cold {cold_first:.2f} s, warm median {statistics.median(firsts):.2f} s, "
          f"max {max(firsts):.2f} s")


if __name__ == "__main__":
    main()
