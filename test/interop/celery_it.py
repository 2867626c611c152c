"""Tasks of Celery 5.2.6's integration suite (t/integration/tasks.py), for a Python worker
(`celery -A celery_it worker -Q $IT_QUEUE`), under the names Celery gives them
(`t.integration.tasks.add`, ...). The celeriac worker runs the same names, written in
TypeScript (celery-integration.tasks.ts); celery_it_scenarios.py drives both from a Python client.
Written from what each task does, not copied. Broker and backend are IT_REDIS_URL.
"""
import os
import time

import redis
from celery import Celery, Task, chain, chord, group, signature
from celery.exceptions import SoftTimeLimitExceeded

URL = os.environ.get("IT_REDIS_URL", "redis://127.0.0.1:6379/6")
QUEUE = os.environ.get("IT_QUEUE", "celery-it")
P = "t.integration.tasks."

app = Celery("celery_it", broker=URL, backend=URL)
app.conf.task_default_queue = QUEUE
app.conf.accept_content = ["json"]
app.conf.result_expires = 600
app.conf.worker_prefetch_multiplier = 1


def rconn():
    return redis.Redis.from_url(URL)


class ExpectedException(Exception):
    """The error `fail` raises; equal when the arguments are."""

    def __eq__(self, other):
        return isinstance(other, ExpectedException) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


# ---- tasks run by the Python worker (the celeriac worker has its own) ------------------------

def task(**opts):
    def wrap(fn):
        return app.task(name=P + fn.__name__, **opts)(fn)
    return wrap


@task()
def identity(x):
    return x


@task()
def add(x, y, z=None):
    return x + y + z if z else x + y


@task(typing=False)
def add_not_typed(x, y):
    return x + y


@task(ignore_result=True)
def add_ignore_result(x, y):
    return x + y


@task()
def raise_error(*args):
    raise ValueError("deliberate error")


@task()
def delayed_sum(numbers, pause_time=1):
    time.sleep(pause_time)
    return sum(numbers)


@task()
def delayed_sum_with_soft_guard(numbers, pause_time=1):
    try:
        time.sleep(pause_time)
        return sum(numbers)
    except SoftTimeLimitExceeded:
        return 0


@task()
def tsum(nums):
    return sum(nums)


@task(bind=True)
def add_to_all(self, nums, val):
    return self.replace(group(*[add.s(num, val) for num in nums]))


@task(bind=True)
def add_replaced(self, x, y):
    return self.replace(add.s(x, y))


@task(bind=True)
def replace_with_chain(self, *args, link_msg=None):
    c = chain(identity.s(*args), identity.s())
    link = redis_echo.s()
    if link_msg is not None:
        link.args = (link_msg,)
        link.set(immutable=True)
    c.link(link)
    return self.replace(c)


ECHO_KEY = "redis-echo-" + QUEUE
"""The default list of redis_echo, one per worker queue (Celery's is "redis-echo")."""


@task(bind=True)
def replace_with_chain_which_raises(self, *args, link_msg=None):
    c = chain(identity.s(*args), raise_error.s())
    link = redis_echo.s()
    if link_msg is not None:
        link.args = (link_msg,)
        link.set(immutable=True)
    c.link_error(link)
    return self.replace(c)


@task(bind=True)
def replace_with_empty_chain(self, *_):
    return self.replace(chain())


@task(bind=True)
def second_order_replace1(self, state=False):
    if not state:
        rconn().rpush(ECHO_KEY, "In A")
        raise self.replace(chain(second_order_replace2.s(), second_order_replace1.si(state=True)))
    rconn().rpush(ECHO_KEY, "Out A")


@task(bind=True)
def second_order_replace2(self, state=False):
    if not state:
        rconn().rpush(ECHO_KEY, "In B")
        raise self.replace(chain(redis_echo.s("In/Out C"), second_order_replace2.si(state=True)))
    rconn().rpush(ECHO_KEY, "Out B")


@task(bind=True)
def fail_replaced(self, *args):
    return self.replace(fail.si(*args))


@task(bind=True)
def add_to_all_to_chord(self, nums, val):
    for num in nums:
        self.add_to_chord(add.s(num, val))
    return 0


@task()
def print_unicode(log_message="håå®ƒ valmuefrø", print_message="hiöäüß"):
    print(print_message)


@task()
def return_exception(e):
    return e, True


@task()
def sleeping(i, **_):
    time.sleep(i)


@task(bind=True)
def ids(self, i):
    return self.request.root_id, self.request.parent_id, i


@task(bind=True)
def collect_ids(self, res, i):
    return res, (self.request.root_id, self.request.parent_id, i)


@task(bind=True, expires=60.0, max_retries=1)
def retry_once(self, *args, expires=60.0, max_retries=1, countdown=0.1):
    if self.request.retries:
        return self.request.retries
    raise self.retry(countdown=countdown, max_retries=max_retries)


@task(bind=True, expires=60.0, max_retries=1)
def retry_once_priority(self, *args, expires=60.0, max_retries=1, countdown=0.1):
    if self.request.retries:
        return self.request.delivery_info["priority"]
    raise self.retry(countdown=countdown, max_retries=max_retries)


@task()
def redis_echo(message, redis_key=None):
    redis_key = redis_key or ECHO_KEY
    rconn().rpush(redis_key, message)


@task()
def redis_count(redis_key="redis-count"):
    rconn().incr(redis_key)


@task()
def fail(*args):
    raise ExpectedException("Task expected to fail", *args)


@task(bind=True)
def return_priority(self, *_args):
    return "Priority: %s" % self.request.delivery_info["priority"]


@task(bind=True)
def return_properties(self):
    return self.request.properties


@task(bind=True)
def build_chain_inside_task(self):
    c = add.s(1, 1) | add.s(2) | group(add.s(3), add.s(4)) | add.s(5)
    return c()


@task()
def errback_old_style(request_id):
    redis_count(request_id)
    return request_id


@task()
def return_nested_signature_chain_chain():
    return chain(chain([add.s()]))


@task()
def return_nested_signature_chain_group():
    return chain(group([add.s()]))


@task()
def return_nested_signature_chain_chord():
    return chain(chord([add.s()], add.s()))


@task()
def return_nested_signature_group_chain():
    return group(chain([add.s()]))


@task()
def return_nested_signature_group_group():
    return group(group([add.s()]))


@task()
def return_nested_signature_group_chord():
    return group(chord([add.s()], add.s()))


@task()
def return_nested_signature_chord_chain():
    return chord(chain([add.s()]), add.s())


@task()
def return_nested_signature_chord_group():
    return chord(group([add.s()]), add.s())


@task()
def return_nested_signature_chord_chord():
    return chord(chord([add.s()], add.s()), add.s())


@task()
def rebuild_signature(sig_dict):
    def walk(sig):
        if not isinstance(sig, signature("x").__class__):
            raise TypeError(f"{sig!r} is not a signature object")
        if isinstance(sig, (chain, group, chord)):
            for t in sig.tasks:
                walk(t)
        if isinstance(sig, chord):
            walk(sig.body)
    from celery import Signature
    walk(Signature.from_dict(sig_dict, app=app))


class ClassBasedAutoRetryTask(Task):
    name = "auto_retry_class_task"
    autoretry_for = (ValueError,)
    retry_kwargs = {"max_retries": 1}
    retry_backoff = True

    def run(self):
        if self.request.retries:
            return self.request.retries
        raise ValueError()


app.register_task(ClassBasedAutoRetryTask())
