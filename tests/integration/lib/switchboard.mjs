// switchboard as a process under test: write a config for a development homeserver, start the
// daemon, read its log, stop it with SIGTERM (it must hang up every call and exit 0).
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { binPath } from './env.mjs';
import { startProcess } from './process.mjs';

// A media port range of its own for each test process, so tests running side by side do not
// compete for the same ports.
export function portRange(slot = 0) {
  const base = 20000 + ((process.pid * 7 + slot * 13) % 40) * 1000;
  return [base, base + 999];
}

export function tempDir(prefix = 'sb-test-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeConfig(dir, { homeserver, userId, accessToken, allowedUsers, stateDir,
                                   media = {}, calls = {}, logLevel = 'info' }) {
  const [pmin, pmax] = media.ports || portRange();
  const yaml = [
    'matrix:',
    `  homeserver: "${homeserver}"`,
    `  user_id: "${userId}"`,
    `  access_token: "${accessToken}"`,
    `  allowed_users: [${allowedUsers.map((u) => `"${u}"`).join(', ')}]`,
    `state_dir: "${stateDir}"`,
    'media:',
    '  ip: "127.0.0.1"',
    `  port_min: ${pmin}`,
    `  port_max: ${pmax}`,
    ...(media.timeoutS ? [`  media_timeout_s: ${media.timeoutS}`] : []),
    ...(media.connectTimeoutS ? [`  connect_timeout_s: ${media.connectTimeoutS}`] : []),
    ...(calls.inviteLifetimeMs ? ['calls:', `  invite_lifetime_ms: ${calls.inviteLifetimeMs}`]
                               : []),
    `log_level: ${logLevel}`,
    '',
  ].join('\n');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'switchboard.yaml');
  writeFileSync(file, yaml);
  return file;
}

export class Switchboard {
  constructor(proc, configFile) {
    this.proc = proc;
    this.configFile = configFile;
  }

  // Log lines (stderr) matching re so far.
  logLines(re) {
    return this.proc.stderr.lines.filter((l) => re.test(l));
  }

  waitForLog(re, timeoutMs = 15000) {
    return this.proc.waitForStderr(re, timeoutMs);
  }

  // SIGTERM; resolves with the exit status.
  stop(opts) {
    return this.proc.stop({ timeoutMs: 10000, ...opts });
  }
}

// Starts switchboard with configFile and waits until it syncs.
export async function startSwitchboard(configFile, { name = 'switchboard' } = {}) {
  const proc = await startProcess(binPath('daemon/switchboard'), ['--config', configFile], {
    name,
    readyStderr: /mx: syncing as/,
    readyTimeoutMs: 15000,
  });
  return new Switchboard(proc, configFile);
}
