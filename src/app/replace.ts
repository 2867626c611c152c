/**
 * `Task.replace()`: a running task hands its place to a signature, as Celery's `Task.replace`
 * does. The replacement takes the task's id (its last step stores the result the caller waits
 * for), its callbacks and errbacks, its group and chord membership, and the rest of its chain;
 * the running task then ends with `Ignore`, storing nothing of its own.
 */
import { Chain } from '../canvas/chain.js';
import { Group } from '../canvas/group.js';
import { signatureList } from '../canvas/options.js';
import { Signature } from '../canvas/signature.js';
import { Ignore, ImproperlyConfigured } from '../errors/index.js';
import type { SignatureDict } from '../protocol/message.js';
import type { Request } from '../task/request.js';
import type { Celeriac } from './celeriac.js';

/** Adds `dicts` under `key` (`link` / `link_error`) of one signature's options. */
function append(sig: Signature, key: 'link' | 'link_error', dicts: readonly SignatureDict[]): void {
  if (dicts.length === 0) return;
  sig.options[key] = [...signatureList(sig.options[key] as SignatureDict[] | undefined), ...dicts];
}

/**
 * Puts callbacks where they run once the replacement is done (a chain's last step), and
 * errbacks on every step that can fail, so that they survive the chain being merged into the
 * rest of the replaced task's chain.
 */
function attachHandlers(sig: Signature, callbacks: readonly SignatureDict[], errbacks: readonly SignatureDict[]): void {
  if (sig instanceof Chain) {
    const own = { link: signatureList(sig.options['link'] as SignatureDict[] | undefined), errs: signatureList(sig.options['link_error'] as SignatureDict[] | undefined) };
    delete sig.options['link'];
    delete sig.options['link_error'];
    const last = sig.tasks[sig.tasks.length - 1];
    for (const step of sig.tasks) attachHandlers(step, step === last ? [...own.link, ...callbacks] : [], [...own.errs, ...errbacks]);
    return;
  }
  append(sig, 'link', callbacks);
  append(sig, 'link_error', errbacks);
}

/**
 * Applies `replacement` in place of the task running `request`, then throws `Ignore` (in a
 * worker) or resolves with the replacement's value (eager runs).
 */
export async function replaceTask(app: Celeriac, request: Request, replacement: Signature): Promise<unknown> {
  if (replacement.options['chord'] !== undefined) {
    throw new ImproperlyConfigured('A signature replacing a task must not be part of a chord');
  }
  if (replacement instanceof Chain && replacement.tasks.length === 0) throw new ImproperlyConfigured('Cannot replace with an empty chain');
  let sig = Signature.fromDict(structuredClone(replacement.toJSON()), app);
  // A group becomes a chord, so that what follows the task waits for every member.
  if (sig instanceof Group) sig = new Chain([sig, app.signature('celery.accumulate', [], { index: 0 })], app);
  attachHandlers(sig, request.callbacks ?? [], request.errbacks ?? []);
  sig.freeze(request.id ?? undefined);
  sig.set({
    ...(request.chord ? { chord: request.chord } : {}),
    ...(request.group ? { groupId: request.group } : {}),
    ...(request.groupIndex !== null ? { groupIndex: request.groupIndex } : {}),
    ...(request.rootId ? { rootId: request.rootId } : {}),
  });
  // The steps that were to follow the replaced task follow the replacement, keeping their ids.
  if (request.chain && request.chain.length > 0) {
    sig = new Chain([sig, ...[...request.chain].reverse().map((d) => Signature.fromDict(d, app))], app);
  }
  if (request.isEager) return (await sig.applyAsync()).get({ disableSyncSubtasks: false });
  await sig.applyAsync();
  throw new Ignore('Replaced by new task');
}
