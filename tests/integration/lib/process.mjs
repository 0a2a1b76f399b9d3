// Child processes for tests: start a program, wait for a line on its stdout (or stderr) that
// says it is ready, and stop it by its PID when the test ends — SIGTERM first, SIGKILL if it
// does not exit in time. Output is kept (bounded) for failure messages; set SB_TEST_VERBOSE=1
// to see it live. Anything still running when node exits is killed, so a failed test cannot
// leave a peer behind.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const MAX_LINES = 2000;
const OUTPUT_GRACE_MS = 3000;
const live = new Set();

process.on('exit', () => {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

class LineLog {
  constructor() {
    this.lines = [];
    this.waiters = [];
  }

  push(line) {
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    for (const w of [...this.waiters]) {
      const m = line.match(w.re);
      if (m) w.resolve(m);
    }
  }

  // Resolves with the match of the first line (seen already or yet to come) matching re.
  wait(re, timeoutMs, what, exited) {
    for (const line of this.lines) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const w = { re };
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((x) => x !== w);
      };
      w.resolve = (m) => {
        done();
        resolve(m);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: no line matching ${re} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
      exited.then(({ code, signal }) => {
        if (!this.waiters.includes(w)) return;
        done();
        reject(new Error(`${what} exited (code ${code}, signal ${signal}) before printing a ` +
                         `line matching ${re}`));
      });
    });
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n');
  }
}

export class Proc {
  constructor(child, name, echo) {
    this.child = child;
    this.name = name;
    this.pid = child.pid;
    this.stdout = new LineLog();
    this.stderr = new LineLog();
    this.exitStatus = null;
    this.gone = false; // exited; its last output may still be on its way
    // 'exit' can come before the last lines written to the pipes are read (a loaded machine
    // shows it): exited resolves once both pipes are read to their end as well, or a moment
    // after the exit if something the process started keeps them open.
    let status = null;
    let open = 2;
    let grace = null;
    let settle;
    this.exited = new Promise((resolve) => {
      settle = (force) => {
        if (this.exitStatus || !status || (open > 0 && !force)) return;
        clearTimeout(grace);
        this.exitStatus = status;
        resolve(status);
      };
      child.on('exit', (code, signal) => {
        this.gone = true;
        status = { code, signal };
        live.delete(this);
        grace = setTimeout(() => settle(true), OUTPUT_GRACE_MS);
        settle(false);
      });
    });
    const attach = (stream, log, tag) => {
      const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        log.push(line);
        if (echo) process.stderr.write(`[${name} ${tag}] ${line}\n`);
      });
      rl.on('close', () => {
        open--;
        settle(false);
      });
    };
    attach(child.stdout, this.stdout, 'out');
    attach(child.stderr, this.stderr, 'err');
    live.add(this);
  }

  get running() {
    return !this.gone;
  }

  waitForLine(re, timeoutMs = 10000) {
    return this.stdout.wait(re, timeoutMs, this.name, this.exited);
  }

  waitForStderr(re, timeoutMs = 10000) {
    return this.stderr.wait(re, timeoutMs, this.name, this.exited);
  }

  signal(sig) {
    if (!this.running) return false;
    try {
      process.kill(this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  // Stops the process by PID; resolves with { code, signal } once it has exited.
  async stop({ signal = 'SIGTERM', timeoutMs = 5000 } = {}) {
    if (!this.running) return this.exited;
    this.signal(signal);
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.signal('SIGKILL');
      await this.exited;
    }
    return this.exitStatus;
  }

  describe() {
    return `${this.name} (pid ${this.pid})\n--- stdout ---\n${this.stdout.tail()}\n` +
           `--- stderr ---\n${this.stderr.tail()}`;
  }
}

// Starts cmd with args. With readyLine (a RegExp), resolves only once stdout printed a matching
// line, and proc.ready holds the match; rejects (after killing the process) if that does not
// happen within readyTimeoutMs or the process exits first.
export async function startProcess(cmd, args = [], {
  env, cwd, name, readyLine, readyStderr, readyTimeoutMs = 10000,
  echo = Boolean(process.env.SB_TEST_VERBOSE),
} = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const label = name || cmd.split('/').pop();
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const proc = new Proc(child, label, echo);
  try {
    if (readyLine) proc.ready = await proc.waitForLine(readyLine, readyTimeoutMs);
    if (readyStderr) proc.readyStderr = await proc.waitForStderr(readyStderr, readyTimeoutMs);
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    err.message += `\n${proc.describe()}`;
    throw err;
  }
  return proc;
}
