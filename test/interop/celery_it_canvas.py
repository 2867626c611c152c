"""Celery 5.2.6 integration scenarios: test_canvas.py's test_link_error, test_chain, test_result_set
and test_group (registered on import; run by celery_it_scenarios.py)."""
from celery_it_support import *  # noqa: F401,F403

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
@echo_scenario
def test_second_order_replace():
    get(second_order_replace1.delay())
    msgs = rconn().lrange(ECHO_KEY, 0, -1)
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
    counted(lambda cb: chain(linked(identity.si(1337), cb=cb) for _ in range(42)), 1337, False, 42)


@scenario("test_chain_children_with_errbacks")
def _():
    counted(lambda eb: chain(linked(fail.si(), eb=eb) for _ in range(42)), None, True, 1)


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
    counted(lambda cb: group(linked(identity.si(1337), cb=cb) for _ in range(42)), [1337] * 42, False, 42)


@scenario("test_group_children_with_errbacks")
def _():
    counted(lambda eb: group(linked(fail.si(), eb=eb) for _ in range(42)), None, True, 42)


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
