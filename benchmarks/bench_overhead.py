"""Overhead of training through Trainer (events consumed on the main thread)
versus a plain ``model.fit`` two ways — on numpy arrays, as users write it, and
on the very tf.data pipeline the Trainer uses — with livelossplot's
PlotLossesKeras beside them (on numpy arrays, as its users write it),
and the real ``Dashboard`` consuming every event as the app does: ``watch(run)``
then ``pump()`` on the main thread at the front end's heartbeat rate (4/s)
until the run ends, every widget message serialised as the kernel would
(``jupyter_client.Session.serialize``; outside a kernel ipywidgets would
otherwise drop it before serialising) and counted.

Same architecture, loss, epochs and seed for every variant; trials are
interleaved so that load on the machine affects all variants alike (each
trial starts one leg later than the one before, so that no leg always runs
after the same neighbour), and the
medians are compared, against each baseline, in wall time and in CPU time.
Each leg's final validation accuracy is printed beside it: a leg that is faster
because it does less is not faster.  The plain ``fit`` on the pipeline and the
Trainer see the same batches in the same order, so their numbers must be
identical (the Trainer runs several steps per host call: training/execution.py);
the numpy leg shuffles its own way.  Wall time is what a learner waits; the process's
CPU time (all threads) is less disturbed by other work on a shared machine.

The dashboard leg is timed twice: until the run has ended (its own clock:
what the dashboard costs the training) and until the dashboard has drawn the
end, at the first heartbeat after it (what a learner waits for).  A fifth leg
builds the same widgets but pumps only once, at the end, to tell the cost of
pumping from the cost of the widgets existing.  As in the app, one Dashboard
is built once (before the clock) and watches every run.  Every leg starts
with a full garbage collection outside the clock: otherwise a leg pays for
the garbage the previous leg left (a collection of the whole heap, ~500,000
objects once TensorFlow is loaded, takes 0.3-0.8 s on a quiet machine and
lands on whichever leg allocates when it falls due).  The main thread's CPU
time inside ``pump()`` is the dashboard's own cost, the least noisy number.

Two legs measure the gradient-health snapshots (``training/health.py``), which every lab run takes
at its start and at each epoch end: the Trainer leg with them switched off (what the default
costs, against the Trainer leg) and with ``health_every=5`` as well (what a learner asking for
more pays).  The autosave leg is the Trainer leg with ``ConvLab(autosave=...)``'s writer: the lab
written to a folder after every epoch (the run's record, its arrays and a checkpoint of model and
optimizer).

Every Trainer leg builds a new Trainer, as a script does per experiment or a lab's cell run again
does; the process keeps the compiled models of its last runs (``models.WARM_MODELS``), so these
runs train the model an earlier leg traced, with a cold run's numbers.  The cold Trainer leg lets
go of every warm model first (outside the clock): it traces its train step as a plain ``fit``
does, what the first run of each architecture pays.

Also reports the time from ``start()`` to the first batch event: cold (Keras traces the train
step) and warm (the traced step is reused), for a new Trainer each run and for the same Trainer
started again with the same settings.

    TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg python benchmarks/bench_overhead.py [--trials 9] [--epochs 8] [--jit-compile]
"""

import argparse
import contextlib
import gc
import io
import itertools
import statistics
import tempfile
import time

import keras

from convlab_widgets.architecture import presets
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.models import WARM_MODELS


JIT_COMPILE = False  # --jit-compile: measure what XLA costs at start-up
ARRAYS = None  # (x, y, x_val, y_val) of the data, for the legs on numpy arrays
TRAINER_CONFIG = {}  # the last Trainer run's config: what it chose
AUTOSAVE_WAITS = []  # seconds from a run's end to its last autosave written


def compiled_model(arch):
    """As the Trainer compiles it (models.compile_model): the same loss, so that accuracies compare."""
    from convlab_widgets.training.adapter import outputs_probabilities

    model = arch.to_keras()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not outputs_probabilities(model)),
                  weighted_metrics=["accuracy"], jit_compile=JIT_COMPILE)
    return model


def arrays(data):
    """(x, y, x_val, y_val) as numpy arrays, float32 in [0, 1]: what a user passes to ``fit``."""
    import numpy as np

    from convlab_widgets.training import pipelines

    x = pipelines.prepare(data._pixels(data._train), data.input_shape)
    x_val, y_val = data.validation_images(np.arange(data.validation_size))
    return x, data._train.y, x_val, y_val


def plain(arch, data, epochs, batch_size, callbacks=()):
    """``fit`` on the Trainer's own tf.data pipeline (shuffled by it with seed 0)."""
    keras.utils.set_random_seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    model = compiled_model(arch)
    history = model.fit(data.train(batch_size, seed=0), validation_data=data.validation(batch_size), epochs=epochs,
                        verbose=0, shuffle=False, callbacks=list(callbacks))
    return time.perf_counter() - start, time.process_time() - cpu, history.history["val_accuracy"][-1]


def plain_numpy(arch, data, epochs, batch_size, callbacks=()):
    """``fit`` on numpy arrays, as users write it (Keras shuffles them every epoch)."""
    x, y, x_val, y_val = ARRAYS
    keras.utils.set_random_seed(0)
    start, cpu = time.perf_counter(), time.process_time()
    model = compiled_model(arch)
    history = model.fit(x, y, batch_size=batch_size, validation_data=(x_val, y_val), epochs=epochs, verbose=0,
                        callbacks=list(callbacks))
    return time.perf_counter() - start, time.process_time() - cpu, history.history["val_accuracy"][-1]


def livelossplot(arch, data, epochs, batch_size):
    import matplotlib.pyplot as plt
    from livelossplot import PlotLossesKeras

    with contextlib.redirect_stdout(io.StringIO()):  # it prints a text summary outside notebooks
        elapsed = plain_numpy(arch, data, epochs, batch_size, [PlotLossesKeras()])
    plt.close("all")  # it leaves its figures open, and every later leg would collect them again and again
    return elapsed


@contextlib.contextmanager
def no_health():
    """The lab's run without its health snapshots, for this benchmark only: the probe is never built."""
    from convlab_widgets.training.callbacks import RunCallback

    measure = RunCallback._measure_health
    RunCallback._measure_health = lambda self, epoch, batch: None
    try:
        yield
    finally:
        RunCallback._measure_health = measure


def trainer(arch, data, epochs, batch_size, health=True, health_every=None, autosave_to=None, cold=False):
    """As the dashboard consumes a run: drain on the main thread, per event.  ``cold``: no warm model
    (the pool emptied before the clock starts), as the first run of an architecture.  ``health``: take the
    health snapshots as every lab run does (at the start and each epoch end), ``health_every``
    batches too.  ``autosave_to``: a folder the run is autosaved to after every epoch, as
    ``ConvLab(autosave=...)`` does (the writer thread's work is in the CPU time; the wall time is the
    run's, and ``AUTOSAVE_WAITS`` gets how long the last write took after it)."""
    seen = {"batch": 0, "epoch": 0, "filters": 0}
    first = []
    if cold:
        WARM_MODELS.clear()

    def on_event(event):
        if event.kind == "batch" and not first:
            first.append(time.perf_counter() - start)
        seen[event.kind] = seen.get(event.kind, 0) + 1

    start, cpu = time.perf_counter(), time.process_time()
    training = Trainer(arch, data)
    if autosave_to is not None:
        from convlab_widgets.autosave import Autosave

        training.checkpoint = autosave = Autosave(autosave_to)
    with contextlib.nullcontext() if health else no_health():  # the probe is built on the training thread
        run = training.start(epochs=epochs, batch_size=batch_size, seed=0, jit_compile=JIT_COMPILE,
                             health_every=health_every)
        if autosave_to is not None:
            autosave.capture(arch, data.name, run.settings, [run])
        run.wait(on_event=on_event)
    ended = time.perf_counter()
    if autosave_to is not None:
        assert autosave.flush() and autosave.error is None, autosave.error
        AUTOSAVE_WAITS.append(time.perf_counter() - ended)
        assert autosave.writes >= epochs
    elapsed = ended - start, time.process_time() - cpu, run.history["val_accuracy"][-1]
    assert run.status == "completed", run.error
    assert run.model is not None  # built on the training thread just after the end: not in the next leg's time
    assert bool(run.health) == health
    TRAINER_CONFIG.update(run.config)
    return elapsed, first[0], seen


class MessageCounter:
    """Wraps ``ipywidgets.Widget._send``: serialises each message as a kernel
    session does (JSON, HMAC signature) and counts messages and bytes."""

    def __init__(self):
        from ipywidgets import Widget
        from jupyter_client.session import Session

        self.session = Session(key=b"bench", username="bench")
        self.messages = 0
        self.bytes = 0
        self._original = Widget._send
        counter = self

        def _send(widget, msg, buffers=None):
            if widget.comm is None:  # not open yet: ipywidgets sends nothing either
                return counter._original(widget, msg, buffers)
            content = {"comm_id": widget.model_id, "data": msg}
            frames = counter.session.serialize(counter.session.msg("comm_msg", content))
            counter.messages += 1
            counter.bytes += sum(len(f) for f in frames) + sum(memoryview(b).nbytes for b in buffers or ())
            return counter._original(widget, msg, buffers)

        Widget._send = _send

    def take(self):
        counts = (self.messages, self.bytes)
        self.messages = self.bytes = 0
        return counts


HEARTBEAT_S = 0.25  # Monitor.interval_ms


def dashboard(arch, data, epochs, batch_size, counter, board, pumping=True):
    """As the app consumes a run: ``board.watch(run)``, then a pump per heartbeat on this (main) thread.

    The heartbeats keep the browser's fixed rate (``setInterval``), however
    long a pump takes.  Without ``pumping``, the widgets exist and watch the
    run but are pumped only once, after it has ended.  Returns the time until
    the run ended, the time until the dashboard had drawn the end, and counts.
    """
    counter.take()
    start, cpu, clock = time.perf_counter(), time.process_time(), time.time()
    run = Trainer(arch, data).start(epochs=epochs, batch_size=batch_size, seed=0, jit_compile=JIT_COMPILE)
    board.watch(run)
    pumps, pumped, pumped_cpu = 0, 0.0, 0.0
    beat = start
    while board._source is not None:  # pump() lets go of the run after its "ended" event
        beat += HEARTBEAT_S
        time.sleep(max(0.0, beat - time.perf_counter()))
        if not pumping and not run.done:
            continue
        tick, tock = time.perf_counter(), time.thread_time()
        board.pump()
        pumped += time.perf_counter() - tick
        pumped_cpu += time.thread_time() - tock
        pumps += 1
    drawn = time.perf_counter() - start, time.process_time() - cpu
    assert run.status == "completed", run.error
    assert run.model is not None  # as in trainer(): the training thread is done
    # The dashboard draws the run's own record: every batch, kept once.
    assert board.history is run.record
    calls = -(-run.config["steps_per_epoch"] // run.config["steps_per_execution"])  # a record per host call
    assert len(run.record.batch["loss"]) == epochs * calls
    assert len(run.record.epoch["loss"]) == epochs
    messages, size = counter.take()
    accuracy = run.history["val_accuracy"][-1]
    drawn = (*drawn, accuracy)
    ended = run.ended_at - clock, drawn[1], accuracy  # the CPU time until the end was drawn, a slight overestimate
    return ended, drawn, {"pumps": pumps, "events": len(run.events), "messages": messages, "bytes": size,
                          "pump_s": pumped, "pump_cpu_s": pumped_cpu, "late_s": drawn[0] - ended[0]}


def warm_starts(arch, data, batch_size, runs=5):
    """start() → first batch event when one Trainer starts again and again with the same settings,
    its first run cold."""
    WARM_MODELS.clear()
    trainer = Trainer(arch, data)
    firsts = []
    for seed in range(runs + 1):
        begun = time.perf_counter()
        run = trainer.start(epochs=1, batch_size=batch_size, seed=seed, jit_compile=JIT_COMPILE)
        first = []

        def on_event(event):
            if event.kind == "batch" and not first:
                first.append(time.perf_counter() - begun)

        run.wait(on_event=on_event)
        assert run.status == "completed" and run.model is not None, run.error  # the next Train comes later than that
        firsts.append(first[0])
    return firsts[0], firsts[1:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preset", default="conv_small")
    parser.add_argument("--jit-compile", action="store_true", help="XLA for every variant (default: off, as on CPU)")
    parser.add_argument("--no-dashboard", action="store_true", help="leave the Dashboard legs out")
    args = parser.parse_args()
    global JIT_COMPILE, ARRAYS
    JIT_COMPILE = args.jit_compile
    data = datasets.load(args.data)
    ARRAYS = arrays(data)
    arch = presets.get(args.preset)
    work = (arch, data, args.epochs, args.batch_size)

    counter = MessageCounter()
    from convlab_widgets.dashboard.dashboard import Dashboard

    built = time.perf_counter()
    board = Dashboard()  # the app builds it once, when the cell is displayed, and watches every run with it
    built = time.perf_counter() - built
    cold_plain = plain(*work)  # warm TensorFlow up once, for every variant
    plain_numpy(*work)
    _, cold_first, _ = trainer(*work)
    if not args.no_dashboard:
        dashboard(*work, counter, board)
    numpy_leg, pipeline_leg = "plain fit, numpy arrays", "plain fit, same pipeline"
    folder = tempfile.mkdtemp(prefix="bench-autosave-")
    times = {numpy_leg: [], pipeline_leg: [], "Trainer + main-thread drain": [], "Trainer without health": [],
             "Trainer, health every 5 batches": [], "Trainer + autosave every epoch": [], "Trainer, cold": [],
             "livelossplot PlotLossesKeras": []}
    if not args.no_dashboard:
        times.update({"Dashboard: until the run ended": [], "Dashboard: until the end drawn": [],
                      "Dashboard, pumped once at end": []})
    firsts, cold_firsts, boards = [], [], []

    def timed(leg, *extra, **options):
        gc.collect()  # no leg pays for the garbage of the one before
        return leg(*work, *extra, **options)

    consumed = {}  # the events of a Trainer run, by kind

    def trainer_leg():
        elapsed, first, seen = timed(trainer)
        firsts.append(first)
        consumed.update(seen)
        return {"Trainer + main-thread drain": elapsed}

    def dashboard_legs():
        ended, drawn, info = timed(dashboard, counter, board)
        boards.append(info)
        return {"Dashboard: until the run ended": ended, "Dashboard: until the end drawn": drawn,
                "Dashboard, pumped once at end": timed(dashboard, counter, board, pumping=False)[0]}

    def cold_leg():
        elapsed, first, _ = timed(trainer, cold=True)
        cold_firsts.append(first)
        return {"Trainer, cold": elapsed}

    serial = itertools.count()  # a new autosave folder each trial
    legs = [lambda: {numpy_leg: timed(plain_numpy)}, lambda: {pipeline_leg: timed(plain)}, trainer_leg,
            lambda: {"Trainer without health": timed(trainer, health=False)[0]},
            lambda: {"Trainer, health every 5 batches": timed(trainer, health_every=5)[0]},
            lambda: {"Trainer + autosave every epoch":
                     timed(trainer, autosave_to=f"{folder}/lesson-{next(serial)}.convlab")[0]}, cold_leg,
            lambda: {"livelossplot PlotLossesKeras": timed(livelossplot)}]
    if not args.no_dashboard:
        legs.append(dashboard_legs)
    for trial in range(args.trials):
        # Each trial starts one leg later: every leg runs after every other, so none always pays
        # for what the same neighbour leaves running (tf.data's threads, TensorFlow's executors).
        for leg in legs[trial % len(legs):] + legs[:trial % len(legs)]:
            for name, elapsed in leg().items():
                times[name].append(elapsed)
    cold_trainer, warm_firsts = warm_starts(arch, data, args.batch_size)

    steps = data.steps_per_epoch(args.batch_size)
    print(f"{args.preset} on {args.data}: {args.epochs} epochs × {steps} steps, batch {args.batch_size}, "
          f"jit_compile={JIT_COMPILE}, {args.trials} interleaved trials (cold plain fit {cold_plain[0]:.2f} s); "
          f"the Trainer chose steps_per_execution={TRAINER_CONFIG['steps_per_execution']}")
    median = statistics.median
    bases = {name: {key: median(t[i] for t in times[name]) for i, key in enumerate(("wall", "cpu"))}
             for name in (numpy_leg, pipeline_leg)}
    print(f"{'variant':30} {'wall median s':>13} {'÷numpy':>7} {'÷pipeline':>9} {'wall min s':>10} "
          f"{'CPU median s':>12} {'÷numpy':>7} {'÷pipeline':>9} {'final val acc':>13}")
    for name, values in times.items():
        wall, cpu = median(t[0] for t in values), median(t[1] for t in values)
        accuracies = sorted({round(float(t[2]), 6) for t in values})
        print(f"{name:30} {wall:13.3f} {wall / bases[numpy_leg]['wall']:7.3f} {wall / bases[pipeline_leg]['wall']:9.3f} "
              f"{min(t[0] for t in values):10.3f} {cpu:12.3f} {cpu / bases[numpy_leg]['cpu']:7.3f} "
              f"{cpu / bases[pipeline_leg]['cpu']:9.3f} {'/'.join(f'{a:.4f}' for a in accuracies):>13}")
    same = [float(t[2]) for t in times[pipeline_leg]] == [float(t[2]) for t in times["Trainer + main-thread drain"]]
    print(f"Trainer and plain fit on the same pipeline reach the same final validation accuracy in every trial: "
          f"{'yes' if same else 'NO'}")
    print(f"events consumed per Trainer run: {consumed}")
    print(f"autosave: the last write done {median(AUTOSAVE_WAITS) * 1000:.0f} ms after the run ended "
          f"(median; max {max(AUTOSAVE_WAITS) * 1000:.0f} ms)")
    if boards:
        print(f"Dashboard per run: median {median(b['pumps'] for b in boards):.0f} pumps, "
              f"{median(b['events'] for b in boards):.0f} events, {median(b['messages'] for b in boards):.0f} widget "
              f"messages, {median(b['bytes'] for b in boards) / 1024:.0f} KiB serialised, "
              f"{median(b['pump_s'] for b in boards) * 1000:.0f} ms inside pump() "
              f"({median(b['pump_cpu_s'] for b in boards) * 1000:.0f} ms of main-thread CPU); the end drawn "
              f"{median(b['late_s'] for b in boards) * 1000:.0f} ms after the run ended (median, "
              f"max {max(b['late_s'] for b in boards) * 1000:.0f} ms); "
              f"building Dashboard() {built * 1000:.0f} ms (once, not timed above)")
    print(f"start() → first batch event, new Trainer each run: the process's first {cold_first:.2f} s; cold median "
          f"{median(cold_firsts):.2f} s, max {max(cold_firsts):.2f} s; warm median {median(firsts):.2f} s, "
          f"max {max(firsts):.2f} s")
    print(f"start() → first batch event, the same Trainer again ({len(warm_firsts)} runs after a first one of "
          f"{cold_trainer:.2f} s): median {median(warm_firsts):.2f} s, max {max(warm_firsts):.2f} s")


if __name__ == "__main__":
    main()
