// mxcall as a test peer: run a set of parties in one process and collect its JSON lines.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { binPath } from './env.mjs';
import { startProcess } from './process.mjs';
import { portRange } from './switchboard.mjs';

export class Mxcall {
  constructor(proc) {
    this.proc = proc;
  }

  // Parsed JSON lines of stdout, optionally of one event type.
  events(type) {
    const out = [];
    for (const line of this.proc.stdout.lines) {
      try {
        const ev = JSON.parse(line);
        if (!type || ev.event === type) out.push(ev);
      } catch {
        // not a JSON line
      }
    }
    return out;
  }

  result(party) {
    return this.events('result').find((r) => r.party === party);
  }

  connected(party) {
    return this.events('connected').some((e) => e.party === party);
  }

  // Resolves with the exit status once every party is done.
  finished(timeoutMs = 120000) {
    let timer;
    return Promise.race([
      this.proc.exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`mxcall still running after ${timeoutMs} ms\n` +
                                                  this.proc.describe())), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  stop() {
    return this.proc.stop({ timeoutMs: 10000 });
  }
}

// parties: [{ user, password, call, invitee, answer, tone, probes, duration, ... }]
export async function runMxcall(homeserver, parties, { dir, name = 'mxcall', timeoutS = 30,
                                                      args = [], slot = 1 } = {}) {
  const file = path.join(dir, `${name}-parties.json`);
  writeFileSync(file, JSON.stringify({ parties }));
  const [pmin, pmax] = portRange(slot);
  const proc = await startProcess(binPath('tools/mxcall/mxcall'), [
    '--homeserver', homeserver, '--parties', file, '--timeout', String(timeoutS),
    '--ports', `${pmin}-${pmax}`, '--log-level', 'info', ...args,
  ], { name });
  return new Mxcall(proc);
}
