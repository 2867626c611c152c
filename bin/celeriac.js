#!/usr/bin/env node
// The celeriac command. In a checkout of the repository it runs the TypeScript sources through
// tsx (so it never runs a stale build). An installed package runs its build, ES or CommonJS: the
// kind of the app module given with -A (.cjs/.cts, .mjs/.mts, else package.json's "type"), so
// that the worker and the app module's own `import`/`require('celeriac')` share one copy.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
const installed = fileURLToPath(import.meta.url).includes('/node_modules/');
let cli;
if (!installed && existsSync(source) && existsSync(new URL('../tsconfig.json', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  const { appModuleKind } = await import(new URL('../dist/esm/cli/load-app.js', import.meta.url).href);
  cli =
    appModuleKind(process.argv.slice(2)) === 'commonjs'
      ? createRequire(import.meta.url)('../dist/cjs/cli/main.js')
      : await import(new URL('../dist/esm/cli/main.js', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv);
