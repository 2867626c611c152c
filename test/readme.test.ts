// The README can't drift: every TypeScript block is extracted, typechecked (strict, as the
// repository's own code) and, unless a `<!-- readme-test: typecheck only ... -->` line precedes
// it, run against the embedded default. A block whose first line is `// name.ts` is saved under
// that name (the tour's `tasks.ts`, imported by the other blocks as './tasks.js'); `tasks.ts` is
// the app module of a worker (`celeriac worker -A tasks.ts`) that runs while the other blocks
// run, each as its own process that must exit 0 by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from './package/project.js';

const repoRoot = new URL('..', import.meta.url).pathname;

/** A TypeScript block of the README. */
interface Block {
  file: string;
  code: string;
  line: number;
  run: boolean;
}

/** The README's TypeScript blocks, in order. */
export function readmeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts' && lines[i]!.trim() !== '```typescript') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    const code = lines.slice(start, end).join('\n');
    const named = /^\/\/ ([\w.-]+\.ts)\s*$/.exec(lines[start] ?? '');
    const marker = lines[i - 1] ?? '';
    blocks.push({
      file: named ? named[1]! : `block-${String(start + 1).padStart(4, '0')}.ts`,
      code: `${code}\n`,
      line: start + 1,
      run: !marker.includes('readme-test: typecheck only'),
    });
    i = end;
  }
  return blocks;
}

describe('the README', { timeout: 300_000 }, () => {
  const dir = join(repoRoot, 'tmp', `readme-${process.pid}`);
  const blocks = readmeBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));

  before(() => {
    mkdirSync(dir, { recursive: true });
    for (const b of blocks) writeFileSync(join(dir, b.file), b.code);
    // `import ... from 'celeriac'` resolves to this checkout's sources, for tsc and tsx alike.
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...tsconfig.compilerOptions, rootDir: repoRoot, noEmit: true, paths: { celeriac: [join(repoRoot, 'src/index.ts')] } },
        include: ['*.ts'],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has TypeScript blocks, a tasks module among them', () => {
    assert.ok(blocks.length >= 5, `${blocks.length} blocks`);
    assert.ok(blocks.some((b) => b.file === 'tasks.ts'));
    assert.ok(blocks.some((b) => !b.run), 'the typecheck-only marker is used');
  });

  it('starts with the two commands for a fresh machine', () => {
    const head = readFileSync(join(repoRoot, 'README.md'), 'utf8').split('```')[1] ?? '';
    assert.match(head, /npm install && npm run main/);
    assert.match(head, /npm install && npm test/);
  });

  it('every TypeScript block typechecks', async () => {
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], dir, { timeoutMs: 240_000 });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`.replaceAll(dir, 'README'));
  });

  it('the runnable blocks run against the embedded default, with a worker on tasks.ts, and exit by themselves', async () => {
    const worker = spawn(process.execPath, [join(repoRoot, 'bin/celeriac.js'), 'worker', '-A', 'tasks.ts', '-c', '4'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker not ready:\n${log}`)), 60_000);
        const onData = (d: Buffer): void => {
          log += d.toString();
          if (log.includes(' ready: ')) {
            clearTimeout(timer);
            resolve();
          }
        };
        worker.stdout.on('data', onData);
        worker.stderr.on('data', onData);
        void exited.then((code) => reject(new Error(`worker exited (${code}):\n${log}`)));
      });
      for (const block of blocks.filter((b) => b.run && b.file !== 'tasks.ts')) {
        const result = await run(process.execPath, ['--import', 'tsx', block.file], dir, { timeoutMs: 60_000 });
        assert.equal(result.code, 0, `README line ${block.line}:\n${result.stdout}${result.stderr}\nworker:\n${log}`);
      }
    } finally {
      worker.kill('SIGTERM');
      await exited;
    }
  });
});
