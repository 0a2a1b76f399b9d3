// Bundles matrix-js-sdk for the browser page with esbuild: one IIFE script that puts the SDK
// on window.matrixSdk, written beside a copy of the page's own files. The bundle is made at test
// time into a build directory and never committed.
//
//   node tests/browser/bundle.mjs OUT_DIR
//   import { bundle } from '.../tests/browser/bundle.mjs'; await bundle(outDir)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// Writes OUT_DIR/matrix-sdk.js (the SDK) and OUT_DIR/<page files>; returns OUT_DIR.
export async function bundle(outDir) {
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'matrix-sdk.js');
  await build({
    entryPoints: [path.join(here, 'sdk-entry.mjs')],
    bundle: true,
    format: 'iife',
    globalName: 'matrixSdk',
    platform: 'browser',
    target: 'chrome110',
    outfile: out,
    sourcemap: false,
    minify: false,
    logLevel: 'warning',
    // The SDK's Rust crypto (WebAssembly) is loaded only when a client calls initRustCrypto,
    // which the test never does: keep it out of the bundle.
    external: ['@matrix-org/matrix-sdk-crypto-wasm'],
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  });
  const pageDir = path.join(here, 'page');
  for (const f of readdirSync(pageDir)) copyFileSync(path.join(pageDir, f), path.join(outDir, f));
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: node bundle.mjs OUT_DIR');
    process.exit(2);
  }
  await bundle(path.resolve(outDir));
  console.log(`bundled into ${path.resolve(outDir)}`);
}
