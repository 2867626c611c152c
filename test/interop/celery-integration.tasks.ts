/**
 * The tasks of Celery 5.2.6's integration suite (t/integration/tasks.py) for a celeriac worker,
 * under Celery's names (`t.integration.tasks.add`, ...), so that celery_it_scenarios.py (a
 * Python client) can drive the same scenarios against a Python or a celeriac worker. Written from
 * what each task does; the Python twins are in celery_it.py. Tasks built on `add_to_chord` are
 * absent: celeriac has no `add_to_chord` (their scenarios are listed as not run).
 */
import { Redis } from 'ioredis';
import { chain, chord, group, Signature, Task, type Celeriac, type SignatureDict, type TaskOptions } from '../../src/index.js';

const P = 't.integration.tasks.';

/** The error `fail` raises, rebuilt by the Python client as its own `ExpectedException`. */
class ExpectedException extends Error {
  override name = 'ExpectedException';
  readonly excModule = 'celery_it';
  constructor(readonly excArgs: unknown[]) {
    super(excArgs.map(String).join(', '));
  }
}

class ValueError extends Error {
  override name = 'ValueError';
}

/** Python's `+` for the values the suite adds: numbers, strings and lists. */
function pyAdd(x: unknown, y: unknown): unknown {
  if (Array.isArray(x) && Array.isArray(y)) return [...x, ...y];
  if (typeof x === 'number' && typeof y === 'number') return x + y;
  if (typeof x === 'string' && typeof y === 'string') return x + y;
  throw new TypeError(`unsupported operand type(s) for +: '${typeof x}' and '${typeof y}'`);
}

function sleep(seconds: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(true), seconds * 1000);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(false);
    }, { once: true });
  });
}

/** Registers the suite's tasks on `app`; returns a function closing their Redis connection. */
export function registerIntegrationTasks(app: Celeriac, redisUrl: string, queue: string): () => Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  /** redis_echo's default list, one per worker queue (Celery's is "redis-echo"). */
  const echoKey = `redis-echo-${queue}`;
  // One signature for plain and bound functions: the suite's tasks are called by name only.
  const t = (fn: (...args: never[]) => unknown, name: string, options: TaskOptions & { bind?: boolean } = {}): Task =>
    (app.task as (f: typeof fn, o: TaskOptions & { bind?: boolean }) => Task)(fn, { ...options, name: P + name });

  const identity = t(function identity(x: unknown) {
    return x;
  }, 'identity');
  const add = t(function add(x: unknown, y: unknown, z: unknown = null) {
    return z ? pyAdd(pyAdd(x, y), z) : pyAdd(x, y);
  }, 'add');
  t(function add_not_typed(x: number, y: number) {
    return x + y;
  }, 'add_not_typed', { typing: false });
  t(function add_ignore_result(x: number, y: number) {
    return x + y;
  }, 'add_ignore_result', { ignoreResult: true });
  t(function raise_error(..._args: unknown[]) {
    throw new ValueError('deliberate error');
  }, 'raise_error');
  t(async function delayed_sum(numbers: number[], pause_time = 1) {
    await sleep(pause_time);
    return numbers.reduce((a, b) => a + b, 0);
  }, 'delayed_sum');
  t(async function delayed_sum_with_soft_guard(self: Task, numbers: number[], pause_time = 1) {
    // The soft time limit aborts the request's signal: the task returns 0 instead.
    const finished = await sleep(pause_time, self.request.signal);
    return finished ? numbers.reduce((a, b) => a + b, 0) : 0;
  }, 'delayed_sum_with_soft_guard', { bind: true });
  t(function tsum(nums: number[]) {
    return nums.reduce((a, b) => a + b, 0);
  }, 'tsum');
  t(function print_unicode(log_message = 'håå®ƒ valmuefrø', print_message = 'hiöäüß') {
    app.logger.warn(`${log_message} ${print_message}`);
    return null;
  }, 'print_unicode');
  t(function return_exception(e: unknown) {
    return [e, true];
  }, 'return_exception');
  t(async function sleeping(i: number, { ...extra }: Record<string, unknown> = {}) {
    void extra;
    await sleep(i);
    return null;
  }, 'sleeping');
  t(function ids(self: Task, i: unknown) {
    return [self.request.rootId, self.request.parentId, i];
  }, 'ids', { bind: true });
  t(function collect_ids(self: Task, res: unknown, i: unknown) {
    return [res, [self.request.rootId, self.request.parentId, i]];
  }, 'collect_ids', { bind: true });
  t(async function retry_once(self: Task, _first: unknown = null, { countdown = 0.1, max_retries = 1 }: { countdown?: number | null; max_retries?: number; expires?: number } = {}) {
    if (self.request.retries) return self.request.retries;
    return self.retry({ countdown: countdown ?? 0.1, maxRetries: max_retries });
  }, 'retry_once', { bind: true, expires: 60, maxRetries: 1 });
  t(async function retry_once_priority(self: Task, _first: unknown = null, { countdown = 0.1, max_retries = 1 }: { countdown?: number | null; max_retries?: number; expires?: number } = {}) {
    if (self.request.retries) return self.request.deliveryInfo?.priority ?? null;
    return self.retry({ countdown: countdown ?? 0.1, maxRetries: max_retries });
  }, 'retry_once_priority', { bind: true, expires: 60, maxRetries: 1 });
  t(async function redis_echo(message: string, redis_key: string | null = null) {
    await redis.rpush(redis_key ?? echoKey, message);
    return null;
  }, 'redis_echo');
  const redisCount = async (key: string): Promise<void> => {
    await redis.incr(key);
  };
  t(async function redis_count(redis_key = 'redis-count') {
    await redisCount(redis_key);
    return null;
  }, 'redis_count');
  t(function fail(...args: unknown[]) {
    throw new ExpectedException(['Task expected to fail', ...args]);
  }, 'fail');
  t(function return_priority(self: Task, ..._args: unknown[]) {
    return `Priority: ${self.request.deliveryInfo?.priority ?? 'None'}`;
  }, 'return_priority', { bind: true });
  t(function return_properties(self: Task) {
    return self.request.properties;
  }, 'return_properties', { bind: true });
  t(async function build_chain_inside_task() {
    const res = await chain(add.s(1, 1), add.s(2), group(add.s(3), add.s(4)), add.s(5)).applyAsync();
    return res.asTuple();
  }, 'build_chain_inside_task');
  t(async function errback_old_style(request_id: string) {
    await redisCount(request_id);
    return request_id;
  }, 'errback_old_style');

  const raiseError = app.signature(`${P}raise_error`);
  const failSig = (...args: unknown[]) => app.signature(`${P}fail`, args, {}, {}).set({ immutable: true });
  const echo = (linkMsg: string | null) => (linkMsg === null ? app.signature(`${P}redis_echo`) : app.signature(`${P}redis_echo`, [linkMsg]).set({ immutable: true }));
  t(async function add_replaced(self: Task, x: unknown, y: unknown) {
    return self.replace(add.s(x, y));
  }, 'add_replaced', { bind: true });
  t(async function add_to_all(self: Task, nums: unknown[], val: unknown) {
    return self.replace(group(nums.map((n) => add.s(n, val))));
  }, 'add_to_all', { bind: true });
  t(async function replace_with_chain(self: Task, x: unknown, { link_msg = null }: { link_msg?: string | null } = {}) {
    const c = chain(identity.s(x), identity.s());
    c.link(echo(link_msg));
    return self.replace(c);
  }, 'replace_with_chain', { bind: true });
  t(async function replace_with_chain_which_raises(self: Task, x: unknown, { link_msg = null }: { link_msg?: string | null } = {}) {
    const c = chain(identity.s(x), raiseError.clone());
    c.linkError(echo(link_msg));
    return self.replace(c);
  }, 'replace_with_chain_which_raises', { bind: true });
  t(async function replace_with_empty_chain(self: Task, ..._args: unknown[]) {
    return self.replace(chain());
  }, 'replace_with_empty_chain', { bind: true });
  t(async function fail_replaced(self: Task, ...args: unknown[]) {
    return self.replace(failSig(...args));
  }, 'fail_replaced', { bind: true });
  const secondOrder = (which: 1 | 2, state: boolean) =>
    app.signature(`${P}second_order_replace${which}`, [], state ? { state: true } : {}).set({ immutable: state });
  t(async function second_order_replace1(self: Task, state = false) {
    if (state) {
      await redis.rpush(echoKey, 'Out A');
      return null;
    }
    await redis.rpush(echoKey, 'In A');
    return self.replace(chain(secondOrder(2, false), secondOrder(1, true)));
  }, 'second_order_replace1', { bind: true });
  t(async function second_order_replace2(self: Task, state = false) {
    if (state) {
      await redis.rpush(echoKey, 'Out B');
      return null;
    }
    await redis.rpush(echoKey, 'In B');
    return self.replace(chain(app.signature(`${P}redis_echo`, ['In/Out C']), secondOrder(2, true)));
  }, 'second_order_replace2', { bind: true });

  const nested: Record<string, () => Signature> = {
    chain_chain: () => chain(chain(add.s())),
    chain_group: () => chain(group(add.s())),
    chain_chord: () => chain(chord([add.s()], add.s())),
    group_chain: () => group(chain(add.s())),
    group_group: () => group(group(add.s())),
    group_chord: () => group(chord([add.s()], add.s())),
    chord_chain: () => chord([chain(add.s())], add.s()),
    chord_group: () => chord(group(add.s()), add.s()),
    chord_chord: () => chord([chord([add.s()], add.s())], add.s()),
  };
  for (const [shape, make] of Object.entries(nested)) {
    app.task(() => make().toJSON(), { name: `${P}return_nested_signature_${shape}`, params: [] });
  }
  t(function rebuild_signature(sig_dict: SignatureDict) {
    const walk = (sig: unknown): void => {
      if (!(sig instanceof Signature)) throw new TypeError(`${JSON.stringify(sig)} is not a signature object`);
      const parts = (sig as { tasks?: unknown }).tasks;
      if (Array.isArray(parts)) parts.forEach(walk);
      const header = (sig as { header?: unknown }).header;
      if (header !== undefined) walk(header);
      const body = (sig as { body?: unknown }).body;
      if (body !== undefined) walk(body);
    };
    walk(Signature.fromDict(sig_dict, app));
    return null;
  }, 'rebuild_signature');

  class ClassBasedAutoRetryTask extends Task<[], number> {
    override name = 'auto_retry_class_task';
    override autoretryFor = [ValueError];
    override retryKwargs = { maxRetries: 1 };
    override retryBackoff = true;
    override run(): number {
      if (this.request.retries) return this.request.retries;
      throw new ValueError();
    }
  }
  app.registerTask(new ClassBasedAutoRetryTask());
  return async () => {
    redis.disconnect();
  };
}
