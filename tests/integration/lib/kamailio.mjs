// kamailio as the SIP trunk of the switchboard tests: a registrar with digest auth and a proxy
// (tests/sip/kamailio.cfg), on loopback ports of its own, all in memory. It runs in a session of
// its own (setsid: on shutdown kamailio signals its whole process group, which must not be
// ours) and is stopped by the PID in its pid file. Its log lines starting with "SBTEST" say what
// it saw (registrations, requests and replies with the SDP direction); kamcmd reads its
// location table through the ctl socket.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoDir } from './env.mjs';
import { freePort } from './net.mjs';
import { startProcess } from './process.mjs';
import { waitFor } from './wait.mjs';

const run = promisify(execFile);
export const KAMAILIO = process.env.SB_KAMAILIO || '/usr/sbin/kamailio';
export const KAMCMD = process.env.SB_KAMCMD || '/usr/sbin/kamcmd';
const MODULES = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules']
  .find((d) => existsSync(d)) || '/usr/lib/x86_64-linux-gnu/kamailio/modules';

// The users of tests/sip/kamailio-users: { name: password }.
export function defaultUsers() {
  const users = {};
  const text = readFileSync(path.join(repoDir, 'tests/sip/kamailio-users'), 'utf8');
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [name, pw] = t.split(/\s+/);
    users[name] = pw;
  }
  return users;
}

function quoteKam(s) {
  if (!/^[\x21-\x7e]+$/.test(s) || /["\\$]/.test(s)) throw new Error(`unusable kamailio value ${s}`);
  return s;
}

export class Kamailio {
  constructor(proc, { port, ctl, pidFile, users }) {
    this.proc = proc;
    this.port = port;
    this.ctl = ctl;
    this.pidFile = pidFile;
    this.users = users;
    this.uri = `sip:127.0.0.1:${port}`;
  }

  // Parsed SBTEST lines so far: [{ kind, key: value, ... }], optionally of one kind.
  events(kind) {
    const out = [];
    for (const line of this.proc.stderr.lines) {
      const m = line.match(/SBTEST (\w+) (.*)$/);
      if (!m || (kind && m[1] !== kind)) continue;
      const ev = { kind: m[1] };
      for (const kv of m[2].matchAll(/(\w+)=(\S*)/g)) ev[kv[1]] = kv[2];
      out.push(ev);
    }
    return out;
  }

  waitForEvent(kind, pred = () => true, timeoutMs = 15000) {
    return waitFor(() => this.events(kind).find(pred), timeoutMs,
                   { message: `kamailio sees a ${kind} event matching ${pred}`, maxIntervalMs: 100 });
  }

  async kamcmd(...args) {
    const { stdout } = await run(KAMCMD, ['-s', `unix:${this.ctl}`, ...args], { timeout: 5000 });
    return stdout;
  }

  // The contacts kamailio's location table holds for user (an empty list when none).
  async contacts(user) {
    // "s:" keeps kamcmd from reading "+1555..." as a number; a missing AOR is an error text.
    const out = await this.kamcmd('ul.lookup', 'location', `s:${user}`);
    return [...out.matchAll(/Address:\s*(\S+)/g)].map((m) => m[1]);
  }

  pid() {
    return Number(readFileSync(this.pidFile, 'utf8').trim());
  }

  describe() {
    return this.proc.describe();
  }

  // SIGTERM to the PID of its pid file (the main process, which stops its children).
  async stop() {
    if (!this.proc.running) return this.proc.exited;
    try {
      process.kill(this.pid(), 'SIGTERM');
    } catch {
      // gone already
    }
    return this.proc.stop({ timeoutMs: 5000 });
  }
}

// users: { name: password } added to tests/sip/kamailio-users'. gatewayUser: the account whose
// registration takes the numbers matching gatewayPrefix (a regular expression prefix).
export async function startKamailio({ dir, users = {}, gatewayUser = 'switchboard',
                                      gatewayPrefix = '\\+155501', name = 'kamailio' }) {
  const port = await freePort();
  const ctl = path.join(dir, `${name}.ctl`);
  const pidFile = path.join(dir, `${name}.pid`);
  const all = { ...defaultUsers(), ...users };
  const userLines = Object.entries(all)
    .map(([u, pw]) => `\t$sht(users=>${quoteKam(u)}) = "${quoteKam(pw)}";`).join('\n');
  const cfg = readFileSync(path.join(repoDir, 'tests/sip/kamailio.cfg'), 'utf8')
    .replaceAll('@PORT@', String(port))
    .replaceAll('@MODULES@', MODULES)
    .replaceAll('@CTL@', ctl)
    .replaceAll('@GATEWAY_PREFIX_RE@', gatewayPrefix)
    .replaceAll('@GATEWAY_USER@', gatewayUser)
    .replaceAll('@USERS@', userLines);
  const cfgFile = path.join(dir, `${name}.cfg`);
  writeFileSync(cfgFile, cfg);
  const proc = await startProcess('setsid', [
    KAMAILIO, '-f', cfgFile, '-P', pidFile, '-DD', '-E', '-m', '32', '-M', '8', '-w', dir,
  ], { name });
  const kam = new Kamailio(proc, { port, ctl, pidFile, users: all });
  try {
    await waitFor(async () => existsSync(pidFile) && (await kam.kamcmd('core.uptime')), 10000,
                  { message: 'kamailio answers on its ctl socket' });
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    err.message += `\n${proc.describe()}`;
    throw err;
  }
  return kam;
}
