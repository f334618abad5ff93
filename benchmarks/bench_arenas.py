"""Does bounding glibc's arenas (convlab_widgets/native_memory.py: one per core, set by
``import convlab_widgets``) cost training speed?  The setting is per process, so each trial is a fresh Python
process; the variants take turns, trial by trial (rotated), so load on the machine falls on both alike:

``glibc default``: ``MALLOC_ARENA_MAX`` set to glibc's own default (8 per core), which the package
then leaves alone, as it leaves any value a user chose.
``bounded``: nothing set, the package bounds the arenas (what every user gets).

Each process trains ``conv_small`` on ``digits`` (a first run outside the clock: tracing, caches),
then ``--runs`` timed runs with a new Trainer each, and reports its median run time, its CPU time and
the final validation accuracy (identical between variants: the same seed, the same steps).

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_arenas.py [--trials 4] [--runs 6] [--epochs 3] [--also 4 8]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from convlab_widgets.architecture import presets
from convlab_widgets.training import Trainer, datasets
runs, epochs = int(sys.argv[1]), int(sys.argv[2])
data = datasets.load("digits")
walls, cpus, accs = [], [], []
for i in range(runs + 1):
    wall, cpu = time.perf_counter(), time.process_time()
    run = Trainer(presets.get("conv_small"), data).start(epochs=epochs, batch_size=32, seed=0)
    run.wait()
    assert run.status == "completed", run.error
    if i:  # the first run traces: outside the clock
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        accs.append(run.history["val_accuracy"][-1])
print(json.dumps({"wall": walls, "cpu": cpus, "acc": accs}))
"""


def trial(env_arenas, runs, epochs):
    env = dict(os.environ)
    env.pop("MALLOC_ARENA_MAX", None)
    if env_arenas is not None:
        env["MALLOC_ARENA_MAX"] = str(env_arenas)
    out = subprocess.run([sys.executable, "-c", CHILD, str(runs), str(epochs)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--also", type=int, nargs="*", default=[], metavar="N",
                        help="more variants: MALLOC_ARENA_MAX=N (the limit a user may choose)")
    args = parser.parse_args()
    variants = {"glibc default": 8 * (os.cpu_count() or 1), "bounded": None,
                **{f"MALLOC_ARENA_MAX={n}": n for n in args.also}}
    results = {name: {"wall": [], "cpu": [], "acc": []} for name in variants}
    for t in range(args.trials):
        order = list(variants)[t % len(variants):] + list(variants)[:t % len(variants)]  # rotated
        for name in order:
            measured = trial(variants[name], args.runs, args.epochs)
            for key in results[name]:
                results[name][key] += measured[key]
            print(f"trial {t + 1} {name}: median run {statistics.median(measured['wall']):.3f} s", flush=True)
    base = results["glibc default"]
    print(f"\n{args.trials} trials x {args.runs} runs of conv_small on digits, {args.epochs} epochs, batch 32")
    print(f"{'variant':15s} {'wall median':>12s} {'ratio':>6s} {'CPU median':>11s} {'ratio':>6s} {'val acc':>8s}")
    for name, values in results.items():
        wall, cpu = statistics.median(values["wall"]), statistics.median(values["cpu"])
        print(f"{name:15s} {wall:11.3f}s {wall / statistics.median(base['wall']):6.3f} {cpu:10.3f}s "
              f"{cpu / statistics.median(base['cpu']):6.3f} {sorted(set(round(a, 4) for a in values['acc']))}")


if __name__ == "__main__":
    main()
