"""Celery 5.2.6's integration scenarios (t/integration/test_canvas.py and test_tasks.py), driven
from a Python Celery client against whichever worker consumes IT_QUEUE (a Python worker running
celery_it.py's tasks, or a celeriac worker running the same names in TypeScript).

`python3 celery_it_scenarios.py [--shard=i/n] [name ...]` runs the scenarios (all by default, or
every n-th from the i-th) one after another and prints one JSON line per scenario ({"name", "ok", "error", "seconds"}), then one line
{"not_run": {name: reason}} for the scenarios left out on both sides.

Each scenario is written from what the Celery test of the same name sends and expects (not
copied). Redis keys are unique per run; the default key of redis_echo/redis_count is replaced
by a unique one. Where a scenario differs from Celery's (a shorter wait, fewer repetitions), its
comment says so.
"""
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

# ---- test_canvas.py: test_link_error -----------------------------------------------------

scenario("test_link_error_eager", EAGER)(None)
scenario("test_link_error", EAGER)(None)
scenario("test_link_error_callback_error_callback_retries_eager", EAGER)(None)
scenario("test_link_error_using_signature_eager", EAGER)(None)


@scenario("test_link_error_callback_retries")
def _():
    res = fail.apply_async(args=("test",), link_error=retry_once.s(countdown=None))
    assert get(res, propagate=False) == ExpectedException("Task expected to fail", "test")


@scenario("test_link_error_using_signature")
def _():
    f = signature(P + "fail", args=("test",))
    f.link_error(signature(P + "return_exception"))
    assert get(f.delay(), propagate=False) == ExpectedException("Task expected to fail", "test")


# ---- test_chain ------------------------------------------------------------------------------

@scenario("test_simple_chain")
def _():
    assert get((add.s(4, 4) | add.s(8) | add.s(16))()) == 32


@scenario("test_single_chain")
def _():
    assert get(chain(add.s(3, 4))()) == 7


@scenario("test_complex_chain")
def _():
    c = add.s(2, 2) | (add.s(4) | add_replaced.s(8) | add.s(16) | add.s(32)) | group(add.s(i) for i in range(4))
    assert get(c()) == [64, 65, 66, 67]


@scenario("test_group_results_in_chain")
def _():
    assert get(group(add.s(1, 2) | group(add.s(1), add.s(2)))()) == [4, 5]


scenario("test_chain_of_chain_with_a_single_task", "sends to a queue no worker reads: nothing to compare")(None)


@scenario("test_chain_on_error")
def _():
    res = chain(add.s(1, 2), fail.s(), add.s(3, 4))()
    raises(ExpectedException, lambda: get(res, propagate=True))
    raises(ExpectedException, lambda: get(res.parent, propagate=True))


@scenario("test_chain_inside_group_receives_arguments")
def _():
    assert get((add.s(5, 6) | group((add.s(1) | add.s(2), add.s(3))))()) == [14, 14]


scenario("test_eager_chain_inside_task", EAGER)(None)


@scenario("test_group_chord_group_chain")
def _():
    k = key()
    before = group(redis_echo.si(f"before {i}", redis_key=k) for i in range(3))
    after = group(redis_echo.si(f"after {i}", redis_key=k) for i in range(2))
    get((before | redis_echo.si("connect", redis_key=k) | after).delay())
    msgs = rconn().lrange(k, 0, -1)
    assert set(msgs[:3]) == {b"before 0", b"before 1", b"before 2"}, msgs
    assert msgs[3] == b"connect", msgs
    assert set(msgs[4:]) == {b"after 0", b"after 1"}, msgs


@scenario("test_group_result_not_has_cache")
def _():
    ct = chain(identity.si(5), group([identity.si(3), identity.si(4)]))
    assert get(group(identity.si(1), identity.si(2), ct).delay()) == [1, 2, [3, 4]]


@scenario("test_second_order_replace")
def _():
    rconn().delete(ECHO_KEY)
    get(second_order_replace1.delay())
    msgs = rconn().lrange(ECHO_KEY, 0, -1)
    rconn().delete(ECHO_KEY)
    assert msgs == [b"In A", b"In B", b"In/Out C", b"Out B", b"Out A"], msgs


def assert_chain_ids(res, top):
    root = res
    while root.parent:
        root = root.parent
    node, i = res, top
    while node:
        root_id, parent_id, value = get(node)
        assert value == i, (value, i)
        if node.parent:
            assert parent_id == node.parent.id, "parent id"
        assert root_id == root.id, "root id"
        node, i = node.parent, i - 1


@scenario("test_chain_parent_ids")
def _():
    c = chain(ids.si(i=i) for i in range(10))
    c.freeze()
    assert_chain_ids(c(), 9)


@scenario("test_chord_soft_timeout_recuperation")
def _():
    c = chord([add.s(1, 2), delayed_sum_with_soft_guard.s([100], pause_time=2).set(soft_time_limit=1)])
    assert get(c(delayed_sum.s(pause_time=0))) == 3


@scenario("test_chain_error_handler_with_eta")
def _():
    # Celery waits 10 s for the ETA; 2 s here keeps the harness short.
    eta = datetime.utcnow() + timedelta(seconds=2)
    c = chain(group(add.s(1, 2), add.s(3, 4)), tsum.s()).on_error(print_unicode.s()).apply_async(eta=eta)
    assert get(c) == 10


@scenario("test_groupresult_serialization")
def _():
    result = get(build_chain_inside_task.delay())
    assert len(result) == 2 and isinstance(result[0][1], list), result


@scenario("test_chain_of_task_a_group_and_a_chord")
def _():
    c = add.si(1, 0) | group(add.s(1), add.s(1)) | group(tsum.s(), tsum.s()) | tsum.s()
    assert get(c()) == 8


@scenario("test_chain_of_chords_as_groups_chained_to_a_task_with_two_tasks")
def _():
    c = add.si(1, 0) | group(add.s(1), add.s(1)) | tsum.s() | add.s(1) | group(add.s(1), add.s(1)) | tsum.s()
    assert get(c()) == 12


@scenario("test_chain_of_chords_with_two_tasks")
def _():
    c = add.si(1, 0) | group(add.s(1), add.s(1)) | tsum.s() | add.s(1) | chord(group(add.s(1), add.s(1)), tsum.s())
    assert get(c()) == 12


@scenario("test_chain_of_a_chord_and_a_group_with_two_tasks")
def _():
    c = add.si(1, 0) | group(add.s(1), add.s(1)) | tsum.s() | add.s(1) | group(add.s(1), add.s(1))
    assert get(c()) == [6, 6]


@scenario("test_chain_of_a_chord_and_a_task_and_a_group")
def _():
    c = group(add.s(1, 1), add.s(1, 1)) | tsum.s() | add.s(1) | group(add.s(1), add.s(1))
    assert get(c()) == [6, 6]


@scenario("test_chain_of_a_chord_and_two_tasks_and_a_group")
def _():
    c = group(add.s(1, 1), add.s(1, 1)) | tsum.s() | add.s(1) | add.s(1) | group(add.s(1), add.s(1))
    assert get(c()) == [7, 7]


@scenario("test_chain_of_a_chord_and_three_tasks_and_a_group")
def _():
    c = group(add.s(1, 1), add.s(1, 1)) | tsum.s() | add.s(1) | add.s(1) | add.s(1) | group(add.s(1), add.s(1))
    assert get(c()) == [8, 8]


@scenario("test_nested_chain_group_lone")
def _():
    assert get(chain(group(identity.s(42), identity.s(42))).delay()) == [42, 42]


@scenario("test_nested_chain_group_mid")
def _():
    assert get(chain(identity.s(42), group(identity.s(), identity.s()), identity.s()).delay()) == [42, 42]


@scenario("test_nested_chain_group_last")
def _():
    assert get(chain(identity.s(42), group(identity.s(), identity.s())).delay()) == [42, 42]


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


@scenario("test_chain_replaced_with_a_chain_and_a_callback")
@echo_scenario
def test_chain_replaced_with_a_chain_and_a_callback():
    msg = "Internal chain callback"
    res = chain(identity.s("Hello "), replace_with_chain.s(link_msg=msg), add.s("world")).delay()
    assert get(res) == "Hello world"
    await_echo([msg], ECHO_KEY)


@scenario("test_chain_replaced_with_a_chain_and_an_error_callback")
@echo_scenario
def test_chain_replaced_with_a_chain_and_an_error_callback():
    msg = "Internal chain errback"
    res = chain(identity.s("Hello "), replace_with_chain_which_raises.s(link_msg=msg), add.s(" will never be seen :(")).delay()
    raises(ValueError, lambda: get(res))
    await_echo([msg], ECHO_KEY)


@scenario("test_chain_with_cb_replaced_with_chain_with_cb")
@echo_scenario
def test_chain_with_cb_replaced_with_chain_with_cb():
    msg = "Internal chain callback"
    c = chain(identity.s("Hello "), replace_with_chain.s(link_msg=msg), add.s("world"))
    c.link(redis_echo.s())
    assert get(c.delay()) == "Hello world"
    await_echo([msg, "Hello world"], ECHO_KEY)


@scenario("test_chain_with_eb_replaced_with_chain_with_eb")
@echo_scenario
def test_chain_with_eb_replaced_with_chain_with_eb():
    inner, outer = "Internal chain errback", "External chain errback"
    c = chain(identity.s("Hello "), replace_with_chain_which_raises.s(link_msg=inner), add.s("world"))
    c.link_error(redis_echo.si(outer))
    res = c.delay()
    raises(ValueError, lambda: get(res))
    await_echo([inner, outer], ECHO_KEY)


@scenario("test_replace_chain_with_empty_chain")
def _():
    r = chain(identity.s(1), replace_with_empty_chain.s()).delay()
    exc = raises(ImproperlyConfigured, lambda: get(r))
    assert "Cannot replace with an empty chain" in str(exc)


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


@scenario("test_chain_with_callback_child_replaced")
def _():
    counted(lambda cb: linked(chain(add_replaced.si(42, 1337), identity.s()), cb=cb), 42 + 1337, False, 1)


@scenario("test_chain_with_errback_child_replaced")
def _():
    counted(lambda eb: linked(chain(add_replaced.si(42, 1337), fail.s()), eb=eb), None, True, 1)


@scenario("test_chain_child_with_callback_replaced")
def _():
    counted(lambda cb: chain(linked(add_replaced.si(42, 1337), cb=cb), identity.s()), 42 + 1337, False, 1)


@scenario("test_chain_child_with_errback_replaced")
def _():
    counted(lambda eb: chain(linked(fail_replaced.si(), eb=eb), identity.si(42)), None, True, 1)


@scenario("test_task_replaced_with_chain")
def _():
    assert get(replace_with_chain.si(42).delay()) == 42


@scenario("test_chain_child_replaced_with_chain_first")
def _():
    assert get(chain(replace_with_chain.si(42), identity.s()).delay()) == 42


@scenario("test_chain_child_replaced_with_chain_middle")
def _():
    assert get(chain(identity.s(42), replace_with_chain.s(), identity.s()).delay()) == 42


@scenario("test_chain_child_replaced_with_chain_last")
def _():
    assert get(chain(identity.s(42), replace_with_chain.s()).delay()) == 42


@scenario("test_chain_children_with_callbacks")
def _():
    k = key()
    child = identity.si(1337)
    child.link(redis_count.si(redis_key=k))
    assert get(chain(child for _ in range(42))()) == 1337
    await_count(42, k)


@scenario("test_chain_children_with_errbacks")
def _():
    k = key()
    child = fail.si()
    child.link_error(redis_count.si(redis_key=k))
    res = chain(child for _ in range(42))()
    raises(ExpectedException, lambda: get(res))
    await_count(1, k)


# ---- test_result_set ---------------------------------------------------------------------------

@scenario("test_result_set")
def _():
    assert get(ResultSet([add.delay(1, 1), add.delay(2, 2)])) == [2, 4]


@scenario("test_result_set_error")
def _():
    rs = ResultSet([raise_error.delay(), add.delay(1, 1)])
    get(rs, propagate=False)
    assert rs.results[0].failed() and rs.results[1].successful()


# ---- test_group --------------------------------------------------------------------------------

@scenario("test_ready_with_exception")
def _():
    result = group([add.s(1, 2), raise_error.s()]).apply_async()
    deadline = time.monotonic() + TIMEOUT
    while not result.ready():
        assert time.monotonic() < deadline, "never ready"
        time.sleep(0.05)


@scenario("test_empty_group_result")
def _():
    result = group([]).apply_async()
    GroupResult.save(result)
    assert GroupResult.restore(result.id).results == []


@scenario("test_group_parent_ids")
def _():
    res = (ids.si(i=1) | ids.si(i=2) | group(ids.si(i=i) for i in range(2, 50)))()
    root_id, parent_id = res.parent.parent.id, res.parent.id
    for i, (r, p, v) in enumerate(get(res)):
        assert (r, p, v) == (root_id, parent_id, i + 2), (r, p, v)


@scenario("test_nested_group")
def _():
    c = group(add.si(1, 10), group(add.si(1, 100), group(add.si(1, 1000), add.si(1, 2000))))
    assert get(c()) == [11, 101, 1001, 2001]


@scenario("test_large_group")
def _():
    assert get(group(identity.s(i) for i in range(1000)).delay(), timeout=LARGE_TIMEOUT) == list(range(1000))


@scenario("test_group_lone")
def _():
    assert get(group(identity.s(42), identity.s(42)).delay()) == [42, 42]


@scenario("test_nested_group_group")
def _():
    assert get(group(group(identity.s(42), identity.s(42))).delay()) == [42, 42]


@scenario("test_nested_group_chord_counting_simple")
def _():
    assert get(group((chord((identity.si(42),), identity.s()),)).delay()) == [[42]]


@scenario("test_nested_group_chord_counting_chain")
def _():
    child = chord((chain((identity.si(1337),) * 42),), identity.s())
    assert get(group((child,)).delay()) == [[1337]]


@scenario("test_nested_group_chord_counting_group")
def _():
    child = chord((group((identity.si(1337),) * 42),), identity.s())
    assert get(group((child,)).delay()) == [[1337] * 42]


@scenario("test_nested_group_chord_counting_chord")
def _():
    child = chord((chord((identity.si(1337),) * 42, identity.si(31337)),), identity.s())
    assert get(group((child,)).delay()) == [[31337]]


@scenario("test_nested_group_chord_counting_mixed")
def _():
    child = chord((
        identity.si(42),
        chain((identity.si(42),) * 42),
        group((identity.si(42),) * 42),
        chord((identity.si(42),) * 42, identity.si(1337)),
    ), identity.s())
    assert get(group((child,)).delay()) == [[42, 42, *((42,) * 42), 1337]]


scenario("test_nested_group_chord_body_chain", "marked xfail in Celery 5.2.6 (#6734)")(None)


@scenario("test_callback_called_by_group")
def _():
    k, msg = key(), str(uuid.uuid4())
    g = group(identity.si(42), identity.si(1337))
    g.link(redis_echo.si(msg, redis_key=k))
    assert get(g.delay()) == [42, 1337]
    await_echo([msg], k)


def errback_by_group(members, count):
    k, msg = key(), str(uuid.uuid4())
    g = group(*members)
    g.link_error(redis_echo.si(msg, redis_key=k) if count is None else redis_count.si(redis_key=k))
    res = g.delay()
    raises(ExpectedException, lambda: get(res))
    if count is None:
        await_echo([msg], k)
    else:
        await_count(count, k)


@scenario("test_errback_called_by_group_fail_first")
def _():
    errback_by_group([fail.s(), identity.si(42)], None)


@scenario("test_errback_called_by_group_fail_last")
def _():
    errback_by_group([identity.si(42), fail.s()], None)


@scenario("test_errback_called_by_group_fail_multiple")
def _():
    errback_by_group([*(identity.si(42) for _ in range(24)), *(fail.s() for _ in range(42))], 42)


@scenario("test_group_children_with_callbacks")
def _():
    k = key()
    child = identity.si(1337)
    child.link(redis_count.si(redis_key=k))
    assert get(group(child for _ in range(42))()) == [1337] * 42
    await_count(42, k)


@scenario("test_group_children_with_errbacks")
def _():
    k = key()
    child = fail.si()
    child.link_error(redis_count.si(redis_key=k))
    res = group(child for _ in range(42))()
    raises(ExpectedException, lambda: get(res))
    await_count(42, k)


@scenario("test_group_with_callback_child_replaced")
def _():
    counted(lambda cb: linked(group(add_replaced.si(42, 1337), identity.si(31337)), cb=cb), [42 + 1337, 31337], False, 1)


@scenario("test_group_with_errback_child_replaced")
def _():
    counted(lambda eb: linked(group(add_replaced.si(42, 1337), fail.s()), eb=eb), None, True, 1)


@scenario("test_group_child_with_callback_replaced")
def _():
    counted(lambda cb: group(linked(add_replaced.si(42, 1337), cb=cb), identity.si(31337)), [42 + 1337, 31337], False, 1)


@scenario("test_group_child_with_errback_replaced")
def _():
    counted(lambda eb: group(linked(fail_replaced.si(), eb=eb), identity.si(42)), None, True, 1)


@scenario("test_group_child_replaced_with_chain_first")
def _():
    assert get(group(replace_with_chain.si(42), identity.s(1337)).delay()) == [42, 1337]


@scenario("test_group_child_replaced_with_chain_middle")
def _():
    assert get(group(identity.s(42), replace_with_chain.s(1337), identity.s(31337)).delay()) == [42, 1337, 31337]


@scenario("test_group_child_replaced_with_chain_last")
def _():
    assert get(group(identity.s(42), replace_with_chain.s(1337)).delay()) == [42, 1337]


# ---- test_chord --------------------------------------------------------------------------------

scenario("test_simple_chord_with_a_delay_in_group_save", "patches the Python backend inside the worker")(None)
scenario("test_redis_subscribed_channels_leak", "counts the Redis channels of the client: no worker difference")(None)
@scenario("test_replaced_nested_chord")
def _():
    c1 = chord([
        chord([add.s(1, 2), add_replaced.s(3, 4)], add_to_all.s(5)) | tsum.s(),
        chord([add_replaced.s(6, 7), add.s(0, 0)], add_to_all.s(8)) | tsum.s(),
    ], add_to_all.s(9))
    assert get(c1()) == [29, 38]
scenario("test_add_to_chord", "Task.add_to_chord (not in celeriac)")(None)
scenario("test_add_chord_to_chord", "Task.add_to_chord (not in celeriac)")(None)
scenario("test_eager_chord_inside_task", EAGER)(None)


@scenario("test_group_chain")
def _():
    assert get((add.s(2, 2) | group(add.s(i) for i in range(4)) | add_to_all.s(8))()) == [12, 13, 14, 15]


@scenario("test_single_task_header")
def _():
    assert get(chord([add.s(2, 5)], body=add_to_all.s(9))()) == [16]
    assert get((group([add.s(2, 5)]) | add_to_all.s(9))()) == [16]


@scenario("test_empty_header_chord")
def _():
    assert get(chord([], body=add_to_all.s(9))()) == []
    assert get((group([]) | add_to_all.s(9))()) == []


@scenario("test_nested_group_chain")
def _():
    c = chain(add.si(1, 0), group(add.si(1, 100), chain(add.si(1, 200), group(add.si(1, 1000), add.si(1, 2000)))),
              add.si(1, 10))
    assert get(c()) == 11


@scenario("test_nested_chord")
def _():
    c1 = chord([chord([add.s(1, 2), add.s(3, 4)], add.s([5])), chord([add.s(6, 7)], add.s([10]))], add_to_all.s(["A"]))
    assert get(c1()) == [[3, 7, 5, "A"], [13, 10, "A"]]
    c2 = group([group([add.s(1, 2), add.s(3, 4)]) | add.s([5]), group([add.s(6, 7)]) | add.s([10])]) | add_to_all.s(["A"])
    assert get(c2()) == [[3, 7, 5, "A"], [13, 10, "A"]]
    c = group([group([group([group([add.s(1, 2)]) | add.s([3])]) | add.s([4])]) | add.s([5])]) | add.s([6])
    assert get(c()) == [[[[3, 3], 4], 5], 6]


def assert_chain_step(res, value, root_id, parent_id):
    r, p, v = get(res)
    assert (r, p, v) == (root_id, parent_id, value), (r, p, v)


def assert_parentids_chord(res, root_id):
    assert isinstance(res, AsyncResult) and isinstance(res.parent, AsyncResult)
    assert isinstance(res.parent.parent, GroupResult)
    assert isinstance(res.parent.parent.parent, AsyncResult) and isinstance(res.parent.parent.parent.parent, AsyncResult)
    assert_chain_step(res, 51, root_id, res.parent.id)
    prev, (r, p, v) = get(res.parent)
    assert v == 50 and r == root_id, (r, v)
    assert p in [x.id for x in res.parent.parent.results], "body parent is a header task"
    for r, p, _v in prev:
        assert r == root_id and p == res.parent.parent.parent.id, (r, p)
    assert_chain_step(res.parent.parent.parent, 2, root_id, res.parent.parent.parent.parent.id)
    assert_chain_step(res.parent.parent.parent.parent, 1, root_id, None)


@scenario("test_chord_parent_ids")
def _():
    root = ids.si(i=1)
    root_id = root.freeze().id
    g = chain(root, ids.si(i=2), chord(group(ids.si(i=i) for i in range(3, 50)), chain(collect_ids.s(i=50) | ids.si(i=51))))
    assert_parentids_chord(g(), root_id)


@scenario("test_parent_ids__OR")
def _():
    root = ids.si(i=1)
    root_id = root.freeze().id
    g = root | ids.si(i=2) | group(ids.si(i=i) for i in range(3, 50)) | collect_ids.s(i=50) | ids.si(i=51)
    assert_parentids_chord(g(), root_id)


@scenario("test_chord_on_error")
def _():
    body = print_unicode.s("This should not be called").on_error(errback_old_style.s())
    res = chord(header=[add.s(1, 2), add.s(3, 4), fail.s()], body=body)()
    raises(ExpectedException, lambda: get(res, propagate=True))
    # The errback (old style: called with the body's id) counts under that id.
    await_count(1, res.id)


scenario("test_generator", "a header generator unrolled lazily by the client, with 3 s of sleeps")(None)


@scenario("test_parallel_chords")
def _():
    c1 = chord(group(add.s(1, 2), add.s(3, 4)), tsum.s())
    c2 = chord(group(add.s(1, 2), add.s(3, 4)), tsum.s())
    assert get(group(c1, c2).delay()) == [10, 10]


@scenario("test_chord_in_chords_with_chains")
def _():
    inner = lambda: chain(add.si(1, 2), chord(group([add.si(1, 2), add.si(1, 2)]), add.si(1, 2)))
    assert get(chord(group([inner(), inner()]), add.si(2, 2)).delay()) == 4


@scenario("test_chain_chord_chain_chord")
def _():
    c = chain(identity.si(1), chord([identity.si(2), chain(identity.si(3), chord([identity.si(4), identity.si(5)],
                                                                                      identity.si(6)))], identity.si(7)))
    assert get(c.delay()) == 7


scenario("test_chord_in_chain_with_args", "marked xfail in Celery 5.2.6 (#6176)")(None)
scenario("test_chain_in_chain_with_args", "marked xfail in Celery 5.2.6 (#6200)")(None)


@scenario("test_large_header")
def _():
    assert get((group(identity.si(i) for i in range(1000)) | tsum.s()).delay(), timeout=LARGE_TIMEOUT) == 499500


@scenario("test_chain_to_a_chord_with_large_header")
def _():
    assert get((identity.si(1) | group(identity.s() for _ in range(1000)) | tsum.s()).delay(), timeout=LARGE_TIMEOUT) == 1000


@scenario("test_priority")
def _():
    assert get(chain(return_priority.signature(priority=3))()) == "Priority: 3"


@scenario("test_priority_chain")
def _():
    assert get((return_priority.signature(priority=3) | return_priority.signature(priority=5))()) == "Priority: 5"


@scenario("test_nested_chord_group")
def _():
    assert get(chord((group(identity.s(42), identity.s(42)),), identity.s()).delay()) == [42, 42]


@scenario("test_nested_chord_group_chain_group_tail")
def _():
    sig = chord(group(chain(identity.s(42), group(identity.s(), identity.s()))), identity.s())
    assert get(sig.delay()) == [[42, 42]]


scenario("test_error_propagates_from_chord", "marked xfail on Redis in Celery 5.2.6 (#6437)")(None)


@scenario("test_error_propagates_from_chord2")
def _():
    res = (add.s(1, 1) | add.s(1) | group(add.s(1), fail.s())).delay()
    raises(ExpectedException, lambda: get(res))


HEADER_SHAPES = {
    "simple": lambda: fail.s(),
    "chain": lambda: chain(identity.si(42), fail.s(), identity.si(42)),
    "chain_tail": lambda: chain(identity.si(42), fail.s()),
    "group": lambda: group(identity.si(42), fail.s()),
}


def error_to_chord(shape, errback=None):
    """A failing `shape` as the chord's header, then as its body: the error reaches the client
    both times; an immutable errback on the chord runs once (once per failed body task)."""
    for where in ("header", "body"):
        k, msg = key(), str(uuid.uuid4())
        child = HEADER_SHAPES[shape]()
        sig = chord((child,), identity.s()) if where == "header" else chord((identity.si(42),), child)
        if errback:
            sig.link_error(redis_echo.si(msg, redis_key=k))
        res = sig.delay()
        raises(ExpectedException, lambda: get(res))
        if errback:
            await_echo([msg], k)


for _shape in HEADER_SHAPES:
    scenario(f"test_error_propagates_to_chord_from_{_shape}")(lambda s=_shape: error_to_chord(s))
    scenario(f"test_immutable_errback_called_by_chord_from_{_shape}")(lambda s=_shape: error_to_chord(s, True))
    scenario(f"test_mutable_errback_called_by_chord_from_{_shape}[errback_new_style]",
             "old-style errbacks taking (request, exc, traceback) (not in celeriac)")(None)


@scenario("test_mutable_errback_called_by_chord_from_simple[errback_old_style]")
def _():
    for header in (True, False):
        sig = chord((fail.s(),), identity.s()) if header else chord((identity.si(42),), fail.s())
        sig.link_error(errback_old_style.s())
        k = sig.body.freeze().id
        res = sig.delay()
        raises(ExpectedException, lambda: get(res))
        await_count(1, k)


for _shape in ("chain", "chain_tail", "group", "group_fail_multiple"):
    scenario(f"test_mutable_errback_called_by_chord_from_{_shape}[errback_old_style]",
             "not ported: counts keyed by ids frozen inside Celery's own test")(None)
scenario("test_mutable_errback_called_by_chord_from_group_fail_multiple[errback_new_style]",
         "old-style errbacks taking (request, exc, traceback) (not in celeriac)")(None)


@scenario("test_immutable_errback_called_by_chord_from_group_fail_multiple")
def _():
    for where, expected in (("header", 1), ("body", 42)):
        k = key()
        child = group(*(identity.si(42) for _ in range(24)), *(fail.s() for _ in range(42)))
        sig = chord((child,), identity.s()) if where == "header" else chord((identity.si(42),), child)
        sig.link_error(redis_count.si(redis_key=k))
        res = sig.delay()
        raises(ExpectedException, lambda: get(res))
        await_count(expected, k)


def check_chord(header, body, expected):
    value = get(chord(header, body).delay())
    assert value == expected, f"{value!r} != {expected!r}"


for _name, _header, _body, _expected in [
    ("test_chord_header_task_replaced_with_chain", lambda: replace_with_chain.si(42), lambda: identity.s(), [42]),
    ("test_chord_header_child_replaced_with_chain_first",
     lambda: (replace_with_chain.si(42), identity.s(1337)), lambda: identity.s(), [42, 1337]),
    ("test_chord_header_child_replaced_with_chain_middle",
     lambda: (identity.s(42), replace_with_chain.s(1337), identity.s(31337)), lambda: identity.s(), [42, 1337, 31337]),
    ("test_chord_header_child_replaced_with_chain_last",
     lambda: (identity.s(42), replace_with_chain.s(1337)), lambda: identity.s(), [42, 1337]),
    ("test_chord_body_task_replaced_with_chain", lambda: identity.s(42), lambda: replace_with_chain.s(), [42]),
    ("test_chord_body_chain_child_replaced_with_chain_first",
     lambda: identity.s(42), lambda: chain(replace_with_chain.s(), identity.s()), [42]),
    ("test_chord_body_chain_child_replaced_with_chain_middle",
     lambda: identity.s(42), lambda: chain(identity.s(), replace_with_chain.s(), identity.s()), [42]),
    ("test_chord_body_chain_child_replaced_with_chain_last",
     lambda: identity.s(42), lambda: chain(identity.s(), replace_with_chain.s()), [42]),
]:
    scenario(_name)(lambda h=_header, b=_body, e=_expected: check_chord(h(), b(), e))


# ---- test_signature_serialization --------------------------------------------------------------

for _outer in ("chain", "group", "chord"):
    for _inner in ("chain", "group", "chord"):
        scenario(f"test_rebuild_nested_{_outer}_{_inner}")(
            lambda o=_outer, i=_inner: get(chain(getattr(celery_it, f"return_nested_signature_{o}_{i}").s(),
                                                 rebuild_signature.s()).delay()))


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


scenario("test_properties", "request.properties (not in celeriac)")(None)


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
