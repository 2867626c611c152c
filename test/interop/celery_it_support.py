"""Shared pieces of the Celery integration scenarios (see celery_it_scenarios.py): the registry,
waits on results and on Redis keys, and the imports every scenario module uses."""
# The scenario modules take everything from here with `from celery_it_support import *`.
# flake8: noqa
import json
import sys
import time
import traceback
import uuid
from datetime import datetime, timedelta
from multiprocessing.pool import ThreadPool

from celery import chain, chord, group, signature
from celery.exceptions import ImproperlyConfigured, TaskRevokedError
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.result import AsyncResult, GroupResult, ResultSet

from celery_it import (P, ExpectedException, ClassBasedAutoRetryTask, add, add_ignore_result, add_not_typed,
                       add_replaced, add_to_all, add_to_all_to_chord, app, build_chain_inside_task, collect_ids,
                       delayed_sum, delayed_sum_with_soft_guard, errback_old_style, fail, fail_replaced, identity,
                       ids, print_unicode, raise_error, rconn, rebuild_signature, redis_count, redis_echo,
                       replace_with_chain, replace_with_chain_which_raises, replace_with_empty_chain, second_order_replace1, ECHO_KEY, retry_once, retry_once_priority, return_exception, return_priority,
                       sleeping, tsum)
import celery_it

TIMEOUT = 15
# The 1000-task canvases: slow on either worker when the machine is busy.
LARGE_TIMEOUT = 60

SCENARIOS = {}
# Scenarios sharing redis_echo's default list: the runner keeps them in one client process.
SHARED_KEY = set()
# Scenarios that use a feature celeriac does not offer, with the reason (never run on either side).
NOT_RUN = {}


def scenario(test_name, needs=None):
    """Registers a scenario under the name of the Celery test it stands for."""
    def wrap(fn):
        if needs:
            NOT_RUN[test_name] = needs
        else:
            SCENARIOS[test_name] = fn
        return fn
    return wrap


def get(res, **kw):
    kw.setdefault("timeout", TIMEOUT)
    return res.get(**kw)


def raises(cls, fn):
    try:
        fn()
    except cls as exc:
        return exc
    raise AssertionError(f"{cls.__name__} not raised")


def key():
    return "it-" + str(uuid.uuid4())


def await_count(expected, redis_key):
    """Waits for a counter to reach `expected`, then checks it goes no further."""
    r = rconn()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        v = r.get(redis_key)
        if v is not None and int(v) == expected:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    v = r.get(redis_key)
    assert v is not None and int(v) == expected, f"count {v!r}, expected {expected}"


def await_echo(expected, redis_key):
    """Waits for the messages `expected` (a list, any order) in a list key, then for no more."""
    r = rconn()
    want = sorted(m.encode() if isinstance(m, str) else m for m in expected)
    got = []
    while len(got) < len(want):
        item = r.blpop(redis_key, int(TIMEOUT))
        assert item is not None, f"still awaiting {want}, got {got}"
        got.append(item[1])
    time.sleep(0.2)
    assert r.llen(redis_key) == 0, "unexpected extra message"
    assert sorted(got) == want, f"{got} != {want}"


def is_expected(exc, *args):
    return isinstance(exc, ExpectedException) and exc.args == ("Task expected to fail",) + args


EAGER = "runs eagerly in the client: no worker involved"

def echo_scenario(fn):
    """A scenario using redis_echo's default list (one per worker queue): run alone, list emptied."""
    def run():
        rconn().delete(ECHO_KEY)
        try:
            fn()
        finally:
            rconn().delete(ECHO_KEY)
    SHARED_KEY.add(fn.__name__)
    return run


def counted(build, expect_value, expect_error, count):
    """Builds a canvas with a counting callback/errback (given the key); checks value and count."""
    k = key()
    sig = build(redis_count.si(redis_key=k))
    res = sig()
    if expect_error:
        raises(ExpectedException, lambda: get(res))
    else:
        assert get(res) == expect_value
    await_count(count, k)


def linked(sig, cb=None, eb=None):
    if cb is not None:
        sig.link(cb)
    if eb is not None:
        sig.link_error(eb)
    return sig
