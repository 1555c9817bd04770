// Build the pages' browser assets: every web/pages/*.js entry (and the CSS it imports) into
// src/chipkit/serve/static/build/<name>.js|.css, minified ES2019 ES modules; shared code goes
// to chunks/, dynamic import() stays lazy (the scanner). web/lib/base.css -> base.css.
// axe-core is copied to build/vendor/axe.min.js for the browser tests (pages never load it).
// meta.json (esbuild's metafile) lets tests measure what a page loads before the scanner.
// Usage: node web/build.mjs   (npm run build)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src', 'chipkit', 'serve', 'static', 'build');
const pages = join(root, 'web', 'pages');
const entryPoints = readdirSync(pages)
  .filter((f) => f.endsWith('.js'))
  .sort()
  .map((f) => ({ in: join(pages, f), out: f.slice(0, -3) }));
entryPoints.push({ in: join(root, 'web', 'lib', 'base.css'), out: 'base' });

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'vendor'), { recursive: true });
const result = await build({
  entryPoints,
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  target: 'es2019',
  minify: true,
  metafile: true,
  chunkNames: 'chunks/[name]-[hash]',
  assetNames: 'assets/[name]-[hash]',
  legalComments: 'none',
  logLevel: 'warning',
});
const rel = {};
for (const [path, o] of Object.entries(result.metafile.outputs)) {
  rel[path.slice(path.indexOf('static/build/') + 'static/build/'.length)] = {
    bytes: o.bytes,
    entryPoint: o.entryPoint || null,
    cssBundle: o.cssBundle ? o.cssBundle.slice(o.cssBundle.indexOf('static/build/') + 13) : null,
    imports: o.imports.map((i) => ({
      path: i.path.slice(i.path.indexOf('static/build/') + 13),
      kind: i.kind,
    })),
  };
}
writeFileSync(join(out, 'meta.json'), JSON.stringify({ outputs: rel }, null, 1));
const require = createRequire(import.meta.url);
copyFileSync(require.resolve('axe-core/axe.min.js'), join(out, 'vendor', 'axe.min.js'));
copyFileSync(join(root, 'web', 'favicon.svg'), join(out, 'favicon.svg'));
console.log(`build: ${entryPoints.length} entries -> ${out}`);
