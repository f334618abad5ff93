"""How soon does Stop act, and how soon is it shown?

For each epoch asked (the first included), a run of the default Trainer settings
(steps per host call chosen automatically) is stopped part-way through that
epoch, from a main thread that runs an asyncio loop as a kernel does:

* acted: ``run.stop()`` → the run's end (``run.ended_at``: the training
  thread has left ``fit`` and ``run.status`` says "stopped");
* shown, event-driven: → the watching ``Dashboard``'s monitor says "stopped",
  drawn by the loop the run's events woke (kernel_events.KernelWake);
* shown, heartbeat only: the same with no loop to wake, pumped every 250 ms as
  the front end's heartbeat does (Colab), for comparison.

Times are taken where they happen (the run's end, the monitor's state trait
changing), not by polling.  Targets (issue 17): acted <= 50 ms in
every epoch, shown <= 100 ms where event-driven drawing is possible.

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_stop.py [--trials 3] [--epochs 0 1 2]
"""

import argparse
import asyncio
import statistics
import time

from convlab_widgets.dashboard.dashboard import Dashboard
from convlab_widgets.training import Trainer, datasets

HEARTBEAT_S = 0.25


async def stopped_in(trainer, board, epoch, batch_size, woken):
    run = trainer.start(epochs=epoch + 2, batch_size=batch_size)
    if woken:
        board.watch(run)  # on this loop's thread: events wake it
    else:
        loop_free, board._wake._loop = board._wake.use_this_thread, None
        board._wake.use_this_thread = lambda: None  # as where no loop can be woken
        try:
            board.watch(run)
        finally:
            board._wake.use_this_thread = loop_free
    steps = run.config["steps_per_epoch"]
    beat = time.perf_counter()
    while not run.batch_history["step"] or (run.batch_history["epoch"][-1], run.batch_history["step"][-1]) < (
            epoch, steps // 3):
        await asyncio.sleep(0.001)
        if not woken and time.perf_counter() - beat >= HEARTBEAT_S:
            beat += HEARTBEAT_S
            board.pump()
    shown = []
    watcher = lambda change: shown.append(time.time()) if change["new"].get("status") == "stopped" else None
    board.monitor.observe(watcher, "state")
    asked = time.time()
    run.stop()
    while not shown:
        await asyncio.sleep(0.001)
        if not woken and time.perf_counter() - beat >= HEARTBEAT_S:
            beat += HEARTBEAT_S
            board.pump()
    board.monitor.unobserve(watcher, "state")
    acted, shown = run.ended_at - asked, shown[0] - asked
    run.wait()
    return acted, shown, run.config["steps_per_execution"]


async def main_async(args):
    data = datasets.load(args.data)
    trainer = Trainer(args.preset, data)
    board = Dashboard()
    results = {}
    for trial in range(args.trials):
        for epoch in args.epochs:
            for woken in (True, False):
                acted, shown, per_call = await stopped_in(trainer, board, epoch, args.batch_size, woken)
                results.setdefault((epoch, woken), []).append((acted, shown))
    print(f"{args.preset} on {args.data}, batch {args.batch_size}, steps_per_execution={per_call}, "
          f"{args.trials} trials each (ms: median / max)")
    for (epoch, woken), values in sorted(results.items()):
        acted = [a * 1000 for a, _ in values]
        shown = [s * 1000 for _, s in values]
        print(f"stopped in epoch {epoch + 1}, {'event-driven' if woken else 'heartbeat only'}: acted "
              f"{statistics.median(acted):.0f} / {max(acted):.0f}, shown {statistics.median(shown):.0f} / "
              f"{max(shown):.0f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preset", default="conv_small")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
