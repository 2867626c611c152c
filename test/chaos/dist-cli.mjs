// The celeriac command from the compiled package in dist/ (what users run), for the chaos suite.
const { main } = await import(new URL('../../dist/esm/cli/main.js', import.meta.url).href);
process.exitCode = await main(process.argv);
