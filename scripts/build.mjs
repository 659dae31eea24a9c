// npm run build: bundles src/ into dist/ with esbuild, the JavaScript bin/ghostunnel runs (the
// type check is `npm run typecheck`). One CommonJS file per entry point (the daemon and the two
// worker threads' entries) instead of a file per module: the daemon starts without resolving and
// linking ~100 ES modules, and requires Node's built-ins as CommonJS, where an ES import would
// materialize every lazy export of the module (node:fs's pulls in streams, fs/promises, readline).
// Dependencies stay in node_modules, loaded when a feature needs them; lazily imported modules of
// our own are evaluated only when imported (esbuild keeps them as functions until then). The one
// dependency every start needs, commander, is bundled too, with its child_process (for executable
// sub-commands, which we have none of) required only if it is ever used.
// Usage: node scripts/build.mjs [OUTDIR]   (default dist/)
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(process.argv[2] ?? join(root, 'dist'));

const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const BUNDLED = ['commander'];

/** commander's `require('node:child_process')`, deferred to the first use of one of its functions. */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "let loaded; module.exports = new Proxy({}, { get: (_, name) => (loaded ??= require('node:child_process'))[name] });",
      loader: 'js',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: {
    main: 'src/main.ts',
    // Started by path (src/workers/worker-pool.ts, src/auth/opa/evaluator-pool.ts): siblings of main.cjs.
    'tunnel-worker': 'src/workers/tunnel-worker.ts',
    'policy-worker': 'src/auth/opa/policy-worker.ts',
  },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  external: Object.keys(dependencies).filter((name) => !BUNDLED.includes(name)).flatMap((name) => [name, `${name}/*`]),
  plugins: [lazyChildProcess],
  platform: 'node',
  format: 'cjs',
  target: 'node22.12',
  sourcemap: 'linked',
  sourcesContent: false,
  // import.meta does not exist in CommonJS: the module's URL and directory are the bundle's (every
  // path the code derives from them is the package root's, src/package-root.ts, or a sibling entry).
  define: { 'import.meta.url': '__bundleUrl', 'import.meta.dirname': '__dirname', 'import.meta.main': '__bundleIsMain' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;\nconst __bundleIsMain = require.main === module;" },
  logLevel: 'warning',
});
