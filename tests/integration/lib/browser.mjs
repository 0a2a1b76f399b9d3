// Element's call stack as a test peer: headless Chromium (Debian's, driven by playwright-core
// through executablePath: no browser is ever downloaded) running matrix-js-sdk's own MatrixCall
// in a page served from 127.0.0.1 (a secure context, so WebRTC and getUserMedia work). The page
// (tests/browser/page) and the SDK bundle (made by tests/browser/bundle.mjs with esbuild) are
// put into the build directory at test time. Each BrowserPeer is one user in a browser context
// of its own; the test drives it through the page's window.sb.
//
// Needs `npm ci` in tests/browser (tools/test.sh does it) and /usr/bin/chromium.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildDir, repoDir } from './env.mjs';

export const browserDir = path.join(repoDir, 'tests/browser');
export const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';

// Flags for a headless Chromium on a box with no sound card, camera or network beyond loopback.
// Host candidates: Chromium hides its addresses behind "<uuid>.local" mDNS names from a page
// that has no camera / microphone permission, as the gateway sees from most browsers; the
// page's tone microphone replaces getUserMedia, so it needs no permission. mediaPermission:
// true adds --use-fake-ui-for-media-stream, which grants it (and so, by itself, brings raw host
// addresses back); hideLocalIps: false turns mDNS off whatever the permission.
export function chromiumArgs({ hideLocalIps = true, mediaPermission = false } = {}) {
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--autoplay-policy=no-user-gesture-required',
  ];
  if (mediaPermission) args.push('--use-fake-ui-for-media-stream');
  if (!hideLocalIps) args.push('--disable-features=WebRtcHideLocalIpsWithMdns');
  return args;
}

// Why the browser test cannot run here, or null when it can.
export function browserUnavailable() {
  if (!existsSync(path.join(browserDir, 'node_modules/playwright-core'))) {
    return `tests/browser/node_modules is missing: run "npm ci" in tests/browser ` +
           '(tools/test.sh does)';
  }
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing: apt-get install chromium`;
  return null;
}

function loadPlaywright() {
  const req = createRequire(path.join(browserDir, 'package.json'));
  return req('playwright-core');
}

// Bundles the SDK and copies the page into <build>/tests/browser-page; returns that folder.
export async function buildPage() {
  const { bundle } = await import(pathToFileURL(path.join(browserDir, 'bundle.mjs')).href);
  return bundle(path.join(buildDir(), 'tests/browser-page'));
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
                '.mjs': 'text/javascript; charset=utf-8' };

// A static file server for the page on 127.0.0.1 (port picked by the system). Serves only the
// files directly in dir.
export async function servePage(dir) {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') ||
                 'index.html';
    const file = path.join(dir, path.basename(name));
    if (name.includes('/') || !existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
                         'Cache-Control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

// One user's page: console output kept (bounded) for failure messages.
export class BrowserPeer {
  constructor(name, context, page) {
    this.name = name;
    this.context = context;
    this.page = page;
    this.console = [];
    const keep = (line) => {
      this.console.push(line);
      if (this.console.length > 600) this.console.splice(0, this.console.length - 600);
      if (process.env.SB_TEST_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
    };
    page.on('console', (m) => keep(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => keep(`pageerror: ${e.message}`));
  }

  // Calls window.sb[fn](...args) in the page.
  sb(fn, ...args) {
    return this.page.evaluate(([f, a]) => window.sb[f](...a), [fn, args]);
  }

  // The page's own notes and the tail of its console, for failure messages.
  async describe(n = 60) {
    let notes = [];
    try {
      notes = await this.sb('log');
    } catch (e) {
      notes = [`(page log unavailable: ${e.message})`];
    }
    return `--- ${this.name}: page notes ---\n${notes.slice(-n).join('\n')}\n` +
           `--- ${this.name}: console ---\n${this.console.slice(-n).join('\n')}`;
  }
}

export class Browser {
  constructor(browser, pageUrl, server) {
    this.browser = browser;
    this.pageUrl = pageUrl;
    this.server = server;
    this.peers = [];
  }

  // A new browser context (its own storage) with the page loaded, logged in as client (a
  // MatrixClient of lib/matrix.mjs: its token and device are reused, as a logged-in Element
  // would), its microphone a tone of toneHz (with a syllable-like envelope of envelopeHz, 0 for
  // a steady tone), listening for probes.
  async peer(name, client, { toneHz, envelopeHz = 0, probes }) {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    const peer = new BrowserPeer(name, context, page);
    this.peers.push(peer);
    await page.goto(this.pageUrl);
    await page.waitForFunction(() => window.sb && window.matrixSdk, null, { timeout: 15000 });
    await peer.sb('init', { baseUrl: client.baseUrl, userId: client.userId,
                            accessToken: client.accessToken, deviceId: client.deviceId,
                            toneHz, envelopeHz, probes });
    return peer;
  }

  async describe() {
    const parts = [];
    for (const p of this.peers) parts.push(await p.describe());
    return parts.join('\n');
  }

  // Closes the browser (and its profile) and the page server; again is a no-op.
  async close() {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.browser.close();
    } finally {
      await this.server.close();
    }
  }
}

// Bundles the page, serves it and launches Chromium. opts: chromiumArgs()'s.
export async function launchBrowser(opts = {}) {
  const why = browserUnavailable();
  if (why) throw new Error(why);
  const dir = await buildPage();
  const server = await servePage(dir);
  const { chromium } = loadPlaywright();
  // playwright gives every launch a fresh temporary profile (user-data dir) and removes it when
  // the browser closes.
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: chromiumArgs(opts),
      timeout: 30000,
    });
  } catch (e) {
    await server.close();
    throw e;
  }
  const b = new Browser(browser, server.url, server);
  return b;
}
