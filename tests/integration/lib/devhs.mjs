// The development homeserver as a test peer: start it on a free port (it picks one and prints
// its URL), talk to its /_devhs/ test controls, stop it by PID.
import { binPath } from './env.mjs';
import { startProcess } from './process.mjs';
import { MatrixClient } from './matrix.mjs';

export class Devhs {
  constructor(proc, url, serverName, stateFile, options) {
    this.proc = proc;
    this.url = url;
    this.serverName = serverName;
    this.stateFile = stateFile;
    this.options = options;
  }

  get port() {
    return Number(new URL(this.url).port);
  }

  // Stops (SIGTERM: the state is saved) and starts again on the same port with the same
  // options, so clients keep their base URL and tokens. Needs a stateFile to keep anything.
  async restart() {
    const st = await this.stop();
    if (st.code !== 0) throw new Error(`devhs exited with ${JSON.stringify(st)} on restart`);
    const next = await startDevhs({ ...this.options, port: this.port });
    this.proc = next.proc;
    return this;
  }

  async admin(method, path, body) {
    const res = await fetch(`${this.url}/_devhs/${path}`, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`/_devhs/${path} -> ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  // mode: "none" | "http_500" | "close"; durationMs 0: until fault("none"). extra: { count, match }.
  fault(mode, durationMs = 0, extra = {}) {
    return this.admin('POST', 'fault', { mode, duration_ms: durationMs, ...extra });
  }

  rateLimit(userId, perSecond, burst) {
    return this.admin('POST', 'rate_limit', { user_id: userId, per_second: perSecond, burst });
  }

  // { pos, users, rooms, sessions, waiting_syncs, requests, fault }
  status() {
    return this.admin('GET', 'status');
  }

  save() {
    return this.admin('POST', 'save', {});
  }

  userId(localpart) {
    return `@${localpart}:${this.serverName}`;
  }

  // A registered, logged-in client.
  register(username, password = `${username}-password`, opts) {
    return MatrixClient.register(this.url, username, password, opts);
  }

  client(opts) {
    return new MatrixClient(this.url, opts);
  }

  stop(opts) {
    return this.proc.stop(opts);
  }
}

// Starts devhs; resolves once it listens. opts: { stateFile, serverName, args: [...], port }
// (port 0 or absent: devhs picks a free one).
export async function startDevhs(options = {}) {
  const { stateFile, serverName = 'localhost', args = [], env, port = 0,
          logLevel = process.env.SB_TEST_VERBOSE ? 'debug' : 'info' } = options;
  const argv = ['--listen', `127.0.0.1:${port}`, '--server-name', serverName,
                '--log-level', logLevel];
  if (stateFile) argv.push('--state-file', stateFile);
  argv.push(...args);
  const proc = await startProcess(binPath('tools/devhs/devhs'), argv, {
    name: 'devhs',
    env,
    readyLine: /^devhs listening on (http:\/\/\S+)$/,
  });
  return new Devhs(proc, proc.ready[1], serverName, stateFile, options);
}
