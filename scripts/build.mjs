#!/usr/bin/env node
// `npm run build`: the ESM build and its declarations by tsc (dist/esm), then the CommonJS build
// (dist/cjs) by esbuild from that output, file by file, so every module keeps its path: worker
// threads, pool children and lease renewers are started from files next to the code that starts
// them, in the same kind of build. Declarations are copied: under dist/cjs's package.json
// ("type": "commonjs") TypeScript reads them as CommonJS declarations.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const esm = join(root, 'dist/esm');
const cjs = join(root, 'dist/cjs');
const require = createRequire(import.meta.url);

rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

const { transformSync } = await import('esbuild');
// `import.meta` has no CommonJS meaning: each file gets its own URL, and resolve() through require.
const banner =
  "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;\n" +
  "const __importMetaResolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;";

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

let files = 0;
for (const file of walk(esm)) {
  const target = join(cjs, relative(esm, file));
  mkdirSync(dirname(target), { recursive: true });
  if (file.endsWith('.d.ts') || file.endsWith('.d.ts.map')) {
    copyFileSync(file, target);
  } else if (file.endsWith('.js')) {
    const source = readFileSync(file, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
    const usesMeta = source.includes('import.meta');
    const out = transformSync(source, {
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      sourcefile: relative(root, file),
      define: usesMeta ? { 'import.meta.url': '__importMetaUrl', 'import.meta.resolve': '__importMetaResolve' } : {},
      banner: usesMeta ? banner : '',
      logLevel: 'error',
    });
    writeFileSync(target, out.code);
    files++;
  }
}
writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
process.stdout.write(`built dist/esm (tsc) and dist/cjs (${files} modules)\n`);
