"""Does the notebook stay responsive while a run trains in the background?

Starts a real kernel (jupyter_client + ipykernel), starts a Trainer run in it
with a dashboard-like consumer (the kernel's event loop drains the run's
events every 100 ms on the main thread), and times trivial execute requests
from send to reply, idle first, then during training.  Target: p95 <= 100 ms.

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/bench_responsiveness.py [--requests 100]
"""

import argparse
import os
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]

SETUP = """
import asyncio
from convlab_widgets.training import Trainer, datasets
trainer = Trainer({preset!r}, datasets.load({data!r}))
consumed = []
"""

START = """
run = trainer.start(epochs=10_000, batch_size={batch_size})
loop = asyncio.get_running_loop()

def drain():  # what the dashboard does: read events on the main thread
    consumed.extend(event.kind for event in run.events.drain())
    if not run.done:
        loop.call_later(0.1, drain)

loop.call_later(0.1, drain)
"""


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Kernel:
    def __init__(self):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, cwd=str(ROOT))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def execute(self, code, timeout=300):
        """Seconds from sending the request to its reply; raises on errors."""
        start = time.perf_counter()
        msg_id = self.client.execute(code, store_history=False)
        while True:
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - start
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply['content'].get('evalue')}")
        while self.client.iopub_channel.msg_ready():  # keep the output queue short
            self.client.get_iopub_msg(timeout=1)
        return elapsed

    def value(self, expression):
        msg_id = self.client.execute("", user_expressions={"v": expression}, store_history=False)
        while True:
            reply = self.client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]["user_expressions"]["v"]["data"]["text/plain"]

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def measure(kernel, count, interval):
    latencies = []
    for _ in range(count):
        latencies.append(kernel.execute("1 + 1") * 1000)
        time.sleep(interval)
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between requests")
    parser.add_argument("--data", default="shapes")
    parser.add_argument("--preset", default="conv_shapes")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    kernel = Kernel()
    try:
        kernel.execute(SETUP.format(preset=args.preset, data=args.data))
        idle = measure(kernel, args.requests // 2, args.interval)
        kernel.execute(START.format(batch_size=args.batch_size))
        deadline = time.monotonic() + 120
        while "batch" not in kernel.value("set(consumed)"):
            assert time.monotonic() < deadline, "no batch event within 120 s"
            time.sleep(0.2)
        before = int(kernel.value("len(run.batch_history['loss'])"))
        started = time.perf_counter()
        training = measure(kernel, args.requests, args.interval)
        elapsed = time.perf_counter() - started
        after = int(kernel.value("len(run.batch_history['loss'])"))
        status = kernel.value("run.status")
        kernel.execute("run.stop(); run.wait(60)")
    finally:
        kernel.close()
    print(f"{args.preset} on {args.data}, batch {args.batch_size}; trivial execute requests every {args.interval * 1000:.0f} ms")
    for name, values in (("idle kernel", idle), ("while training", training)):
        print(f"{name:15} n={len(values):3d}  p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms  "
              f"max {max(values):6.1f} ms")
    print(f"training went on meanwhile ({status}): {after - before} batches in {elapsed:.1f} s "
          f"({(after - before) * args.batch_size / elapsed:.0f} images/s)")


if __name__ == "__main__":
    main()
