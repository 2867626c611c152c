"""Python Celery side of bench/redis.ts: a no-op task, and a client loop for latency."""
import os
import sys
import time

from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
app = Celery("celery_bench", broker=URL, backend=URL)
app.conf.task_default_queue = "bench-celery"


@app.task(name="bench.noop")
def noop(i=0):
    return None


def enqueue(n):
    for i in range(n):
        noop.apply_async((i,))


def latency(n):
    samples = []
    for i in range(n):
        start = time.perf_counter()
        noop.apply_async((i,)).get(timeout=30)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    print(f"{samples[len(samples) // 2]:.3f} {samples[int(len(samples) * 0.99) - 1]:.3f}")


if __name__ == "__main__":
    {"enqueue": enqueue, "latency": latency}[sys.argv[1]](int(sys.argv[2]))
