// SIPp (Debian sip-tester) for scripted SIP call flows against switchboard: a scenario from
// tests/sip/sipp, run from a loopback address of the test's choice (127.0.0.1, .2 and .3 stand
// for different sources), its log messages ("RESULT 404 <call-id>", ...) collected from
// -trace_logs. Always with -nostdin, a call count and a timeout, so it cannot hang a test.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { repoDir } from './env.mjs';
import { freePort } from './net.mjs';
import { startProcess } from './process.mjs';

export const SIPP = process.env.SB_SIPP || '/usr/bin/sipp';

export class SippRun {
  constructor(proc, logFile) {
    this.proc = proc;
    this.logFile = logFile;
  }

  // Lines of the scenario's <log> actions so far.
  logs() {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8').split('\n').filter((l) => l.trim());
  }

  // Codes of the RESULT lines (refused.xml), in order.
  results() {
    return this.logs().map((l) => l.match(/RESULT (\d{3})/)).filter(Boolean).map((m) => m[1]);
  }

  async finished(timeoutMs = 60000) {
    let timer;
    const st = await Promise.race([
      this.proc.exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`sipp still running after ${timeoutMs} ms\n` +
                                                  this.proc.describe())), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    return st;
  }

  describe() {
    return `${this.proc.describe()}\n--- log ---\n${this.logs().slice(-20).join('\n')}`;
  }

  stop() {
    return this.proc.stop({ signal: 'SIGKILL' });
  }
}

// Starts sipp: scenario (a file name in tests/sip/sipp), target "127.0.0.1:PORT", the local
// address ip, calls (-m), rate (calls a second), timeoutS (-timeout, a failure when reached),
// service (the dialled number), keys ({ name: value } for [name] in the scenario).
export async function startSipp({ dir, scenario, target, ip = '127.0.0.1', calls = 1, rate = 10,
                                  timeoutS = 30, service, keys = {}, name = 'sipp', args = [] }) {
  const port = await freePort(ip);
  const mediaPort = await freePort(ip);
  const logFile = path.join(dir, `${name}-${port}.log`);
  const argv = [
    '-sf', path.join(repoDir, 'tests/sip/sipp', scenario),
    '-i', ip, '-mi', ip, '-p', String(port), '-mp', String(mediaPort),
    '-m', String(calls), '-r', String(rate), '-l', String(Math.max(calls, 1)),
    '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-nr',
    '-trace_logs', '-log_file', logFile, '-trace_err', '-error_file', path.join(dir, `${name}-err.log`),
  ];
  if (service) argv.push('-s', service);
  for (const [k, v] of Object.entries(keys)) argv.push('-key', k, v);
  argv.push(...args, target);
  const proc = await startProcess(SIPP, argv, { name, cwd: dir });
  return new SippRun(proc, logFile);
}

// Runs to the end; resolves with { code, run }.
export async function runSipp(opts) {
  const run = await startSipp(opts);
  const st = await run.finished((opts.timeoutS || 30) * 1000 + 15000);
  return { code: st.code, run };
}
