"""Celery 5.2.6's integration scenarios (t/integration/test_canvas.py and test_tasks.py), driven
from a Python Celery client against whichever worker consumes IT_QUEUE (a Python worker running
celery_it.py's tasks, or a celeriac worker running the same names in TypeScript).

`python3 celery_it_scenarios.py [--shard=i/n] [name ...]` runs the scenarios (all by default, or
every n-th from the i-th) one after another and prints one JSON line per scenario
({"name", "ok", "error", "seconds"}), then one line {"not_run": {name: reason}} for the scenarios
left out on both sides. The scenarios live in celery_it_canvas.py and celery_it_chords.py
(test_canvas.py) and below (test_tasks.py); celery_it_support.py holds what they share.

Each scenario is written from what the Celery test of the same name sends and expects (not
copied). Redis keys are unique per scenario, except redis_echo's default list, which is one per
worker queue (the scenarios using it run in one client process). Where a scenario differs from Celery's (a shorter wait, fewer repetitions), its
comment says so.
"""
import json
import sys
import time
import traceback

import celery_it_canvas  # noqa: F401 (registers its scenarios)
import celery_it_chords  # noqa: F401 (registers its scenarios)
from celery_it_support import *  # noqa: F401,F403


# ---- test_tasks.py -----------------------------------------------------------------------------

@scenario("test_class_based_task_retried")
def _():
    assert get(signature("auto_retry_class_task").delay()) == 1


scenario("test_simple_call", "calls the function in the client: no worker involved")(None)


@scenario("test_basic_task")
def _():
    for z in (None, True):
        results = [(i * (3 if z else 2), add.delay(i, i, z=i) if z else add.delay(i, i)) for i in range(10)]
        for expected, r in results:
            assert get(r) == expected
            assert r.status == "SUCCESS" and r.ready() and r.successful()


def producer(j):
    results = [(i + j, add.delay(i, j)) for i in range(20)]
    for expected, r in results:
        assert get(r) == expected and r.status == "SUCCESS"
    return j


scenario("test_multiprocess_producer", "forks 20 client processes; the threaded variant covers the worker side")(None)


@scenario("test_multithread_producer")
def _():
    # Celery maps 120 producers over 20 threads; 20 producers (400 tasks) keep the harness short.
    with ThreadPool(20) as pool:
        assert pool.map(producer, range(20)) == list(range(20))


@scenario("test_ignore_result")
def _():
    result = add.apply_async((1, 2), ignore_result=True)
    assert result.get() is None
    time.sleep(1)
    assert result.result is None


@scenario("test_timeout")
def _():
    result = sleeping.delay(10)
    raises(CeleryTimeout, lambda: result.get(timeout=5))


@scenario("test_expired")
def _():
    for expires in (1, datetime.utcnow() + timedelta(seconds=1)):
        for _ in range(4):
            sleeping.delay(2)
        result = add.apply_async((1, 1), expires=expires)
        raises(TaskRevokedError, lambda: get(result))
        assert result.status == "REVOKED" and result.ready() and not result.failed() and not result.successful()


@scenario("test_eta")
def _():
    for args, when in (((1, 1), {"countdown": 3}), ((2, 2), {"eta": datetime.utcnow() + timedelta(seconds=3)})):
        start = time.perf_counter()
        result = add.apply_async(args, **when)
        time.sleep(1)
        assert result.status == "PENDING" and not result.ready()
        assert get(result) == args[0] * 2
        assert result.status == "SUCCESS" and result.ready()
        assert time.perf_counter() - start > 3


@scenario("test_fail")
def _():
    result = fail.delay()
    raises(ExpectedException, lambda: get(result, timeout=5))
    assert result.status == "FAILURE" and result.ready() and result.failed() and not result.successful()


@scenario("test_revoked")
def _():
    for _ in range(4):
        sleeping.delay(2)
    result = add.apply_async((1, 1))
    result.revoke()
    raises(TaskRevokedError, lambda: get(result))
    assert result.status == "REVOKED" and result.ready() and not result.failed() and not result.successful()


@scenario("test_wrong_arguments")
def _():
    raises(TypeError, lambda: add.delay(5))
    raises(TypeError, lambda: add.delay(5, wrong_arg=5))
    for result in (add_not_typed.delay(5), add_not_typed.delay(5, wrong_arg=5)):
        raises(TypeError, lambda: get(result, timeout=5))
        assert result.status == "FAILURE"


scenario("test_retry", "30 s per worker (three retries 5 s apart, twice); test_task_retried covers retries")(None)
scenario("test_task_accepted", "inspects the worker through the test manager's remote control helpers")(None)


@scenario("test_task_retried")
def _():
    assert get(retry_once.delay()) == 1


@scenario("test_task_retried_priority")
def _():
    assert get(retry_once_priority.apply_async(priority=7)) == 7


@scenario("test_unicode_task")
def _():
    res = group(print_unicode.s() for _ in range(5))()
    get(res, propagate=True)


@scenario("test_properties")
def _():
    assert get(celery_it.return_properties.apply_async(app_id="1234"))["app_id"] == "1234"


@scenario("test_ignoring_result_no_subscriptions")
def _():
    result = add_ignore_result.delay(1, 2)
    assert result.ignored is True


@scenario("test_asyncresult_get_cancels_subscription")
def _():
    assert get(add.delay(1, 2), timeout=3) == 3


scenario("test_asyncresult_forget_cancels_subscription", "counts the Redis channels of the client: no worker difference")(None)


# ---- runner ------------------------------------------------------------------------------------

def main(args):
    """Runs the scenarios named in `args` (default all); `--shard i/n` runs every n-th from i."""
    names = [a for a in args if not a.startswith("--shard")]
    shard = next((a.split("=", 1)[1] for a in args if a.startswith("--shard=")), "0/1")
    index, count = (int(x) for x in shard.split("/"))
    chosen = names or list(SCENARIOS)
    shared = [n for n in chosen if n in SHARED_KEY]
    mine = [n for n in chosen if n not in SHARED_KEY][index::count] + (shared if index == 0 else [])
    for name in mine:
        started = time.monotonic()
        try:
            SCENARIOS[name]()
            outcome = {"ok": True, "error": None}
        except BaseException as exc:  # noqa: B902 - report anything, keep going
            last = traceback.extract_tb(exc.__traceback__)[-1]
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc!s:.300} (line {last.lineno})"}
        print(json.dumps({"name": name, **outcome, "seconds": round(time.monotonic() - started, 2)}), flush=True)
    print(json.dumps({"not_run": NOT_RUN}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
