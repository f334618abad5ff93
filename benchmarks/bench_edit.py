"""How fast the architecture model answers after an edit, next to a full Keras rebuild.

Run from the repository root:

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_edit.py

A 40-layer architecture (augmentation, conv/batch-norm/pooling stages, dense
head) is edited the way a learner edits it in the builder: parameter changes
on random rows (filters, kernel sizes and strides included, which change the
shapes of every row below), inserting and removing a layer in the middle, and
a cold summary with every cache emptied. Each timing includes ``summary()``.
The same model is rebuilt with Keras for comparison, and the final summary is
checked against Keras row by row.
"""

from __future__ import annotations

import random
import statistics
import time

from architectures import forty_layers  # benchmarks/ is sys.path[0] when run as a script

from convlab_widgets.architecture import Architecture, shapes

ROUNDS = 200
SEED = 0




def edit(arch: Architecture, rng: random.Random) -> None:
    """One learner-like parameter edit on a random row."""
    while True:
        index = rng.randrange(len(arch) - 1)
        entry = arch[index]
        if entry.type == "Conv2D":
            name, value = rng.choice([("filters", rng.randint(8, 256)), ("kernel_size", rng.choice([1, 3, 5])),
                                      ("strides", rng.choice([1, 2])), ("activation", rng.choice(["relu", "tanh"]))])
        elif entry.type == "Dense":
            name, value = "units", rng.randint(16, 512)
        elif entry.type == "Dropout":
            name, value = "rate", round(rng.uniform(0, 0.6), 2)
        elif entry.type == "BatchNormalization":
            name, value = "center", rng.choice([True, False])
        else:
            continue
        arch.update(index, **{name: value})
        return


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def percentiles(samples) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ordered)})"


def keras_view(arch: Architecture):
    """Per-row (output shape, params) and totals as Keras reports them."""
    model = arch.to_keras()
    rows = [(tuple(layer.output.shape[1:]), layer.count_params()) for layer in model.layers]
    return rows, model.count_params()


def main() -> None:
    rng = random.Random(SEED)
    base = forty_layers()
    keras_view(base)  # import and warm up Keras once, outside the measurements

    cold = []
    for _ in range(20):
        shapes.clear_cache()
        fresh = Architecture.from_dict(base.to_dict())
        cold.append(timed(fresh.summary))

    arch = base.copy()
    edits = [timed(lambda: (edit(arch, rng), arch.summary())) for _ in range(ROUNDS)]

    arch = base.copy()
    middle = len(arch) // 2
    structural = []
    for _ in range(ROUNDS // 2):
        layer = rng.choice([("Conv2D", {"filters": rng.randint(8, 128), "kernel_size": 1, "padding": "same"}),
                            ("BatchNormalization", {}), ("Dropout", {"rate": 0.2}), ("MaxPooling2D", {})])
        structural.append(timed(lambda: (arch.insert(middle, layer[0], **layer[1]), arch.summary())))
        structural.append(timed(lambda: (arch.remove(middle), arch.summary())))

    rebuild = [timed(lambda: keras_view(base)) for _ in range(10)]

    summary = base.summary()
    rows, total = keras_view(base)
    assert [(row.output_shape, row.param_count) for row in summary] == rows, "summary differs from Keras"
    assert summary.total_params == total, "totals differ from Keras"

    print(f"40-layer architecture, {summary.total_params:,} parameters; numbers identical to Keras: yes")
    print(f"(a) one parameter edit + summary     {percentiles(edits)}")
    print(f"(b) insert/remove in the middle      {percentiles(structural)}")
    print(f"(c) cold summary (caches emptied)    {percentiles(cold)}")
    print(f"    full Keras rebuild (to_keras)    {percentiles(rebuild)}")


if __name__ == "__main__":
    main()
