"""The same seeded run on each Keras backend installed: time to the first loss and images per second.

Run from the repository root (no pytest; one subprocess per backend and trial,
since Keras reads its backend once per process):

    python benchmarks/bench_backends.py [--trials 3] [--epochs 5] [--data digits|synthetic28]

Each trial starts a fresh process per backend, in interleaved order (tf, jax,
torch, then again), and runs ``Trainer(presets.get("conv_small")).start(...)``
with the same seed: a cold run (model built, step traced or compiled) then a
warm one (the trainer's compiled model trained again).  ``first loss`` is the
time from ``start()`` to the first batch recorded in the cold run;
``images/s`` counts the warm run's training images over its wall time, from
``start()`` to completed.  ``--data synthetic28`` trains on 6,000 random
28×28×1 images (the size of MNIST, which cannot be downloaded here), for a GPU.
JAX runs with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` when
``--jax-devices N`` is given (N > 1 shards each batch: DataParallel).
Ratios are against TensorFlow, measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TRIAL = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from convlab_widgets import Trainer, datasets, presets
    from convlab_widgets.backend import in_force

    epochs, kind = int(sys.argv[1]), sys.argv[2]
    if kind == "synthetic28":
        rng = np.random.default_rng(0)
        data = datasets.load((rng.integers(0, 256, (6000, 28, 28, 1), dtype=np.uint8), np.arange(6000) % 10))
    else:
        data = datasets.load("digits")
    arch = presets.get("conv_small").configure(input_shape=data.input_shape)
    trainer = Trainer(arch, data)
    timings = {}
    for leg in ("cold", "warm"):
        start = time.perf_counter()
        run = trainer.start(epochs=epochs, batch_size=64, seed=1)
        while not run.batch_history["loss"] and not run.done:
            time.sleep(0.001)
        first = time.perf_counter() - start
        run.wait()
        wall = time.perf_counter() - start
        assert run.status == "completed", run.message
        timings[leg] = {"first_loss_s": first, "wall_s": wall, "images_per_s": data.train_size * epochs / wall,
                        "val_accuracy": run.history["val_accuracy"][-1]}
    print(json.dumps({"backend": in_force().name, "badge": trainer.strategy_info.description, **timings}))
""")


def trial(backend, epochs, data, jax_devices):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["KERAS_BACKEND"] = backend
    if backend == "jax" and jax_devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={jax_devices}"
    done = subprocess.run([sys.executable, "-c", TRIAL, str(epochs), data], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data", choices=("digits", "synthetic28"), default="digits")
    parser.add_argument("--jax-devices", type=int, default=1)
    args = parser.parse_args()
    backends = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b) is not None]
    results = {b: [] for b in backends}
    for _ in range(args.trials):
        for backend in backends:  # interleaved: machine load drifts alike for every backend
            results[backend].append(trial(backend, args.epochs, args.data, args.jax_devices))
    print(f"\n{args.data}, conv_small, batch 64, {args.epochs} epochs, {args.trials} trials (median)\n")
    print("| backend | badge | first loss (cold) | images/s (warm) | × TensorFlow | val acc |")
    print("|---|---|---|---|---|---|")
    base = statistics.median(r["warm"]["images_per_s"] for r in results.get("tensorflow", [])) \
        if "tensorflow" in results else None
    for backend, rows in results.items():
        speed = statistics.median(r["warm"]["images_per_s"] for r in rows)
        first = statistics.median(r["cold"]["first_loss_s"] for r in rows)
        accuracy = statistics.median(r["warm"]["val_accuracy"] for r in rows)
        ratio = f"{speed / base:.2f}" if base else "—"
        print(f"| {backend} | {rows[0]['badge']} | {first:.2f} s | {speed:,.0f} | {ratio} | {accuracy:.3f} |")


if __name__ == "__main__":
    main()
