// baresip as a headless SIP phone for the tests: a private config folder (made from
// tests/sip/baresip.config), one account registered at the test trunk, a tone WAV made with sox
// as its microphone (aufile), what it hears recorded by sndfile (one WAV per call and
// direction), and ctrl_tcp (netstring-framed JSON) to drive it: dial, accept, hangup, hold,
// resume, send DTMF (sndcode), and its events (CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED,
// CALL_DTMF_START, ...).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { binPath, repoDir } from './env.mjs';
import { freePort } from './net.mjs';
import { startProcess } from './process.mjs';
import { portRange } from './switchboard.mjs';
import { waitFor } from './wait.mjs';

const run = promisify(execFile);
export const BARESIP = process.env.SB_BARESIP || '/usr/bin/baresip';
const MODULES = '/usr/lib/baresip/modules';

// A mono 16-bit WAV of a steady tone (long enough for any test: baresip hangs up when its
// source file ends).
export async function toneWav(file, hz, { rate = 8000, seconds = 300, volume = 0.3 } = {}) {
  await run('sox', ['-n', '-r', String(rate), '-c', '1', '-b', '16', file, 'synth',
                    String(seconds), 'sine', String(hz), 'vol', String(volume)]);
  return file;
}

// Levels of probe frequencies in a WAV (tools/wavtones): { tones_db, noise_db, heard, ... }.
export async function wavTones(file, probes, { from, to } = {}) {
  const args = [file, ...probes.flatMap((p) => ['--probe', String(p)])];
  if (from !== undefined) args.push('--from', String(from));
  if (to !== undefined) args.push('--to', String(to));
  const { stdout } = await run(binPath('tools/wavtones/wavtones'), args, { timeout: 30000 });
  return JSON.parse(stdout);
}

// The netstring-framed JSON of ctrl_tcp.
class Ctrl {
  constructor(sock, name) {
    this.sock = sock;
    this.name = name;
    this.buf = Buffer.alloc(0);
    this.events = [];
    this.pending = new Map();
    this.seq = 0;
    sock.on('data', (d) => this.onData(d));
    sock.on('error', () => {});
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString());
      if (!Number.isInteger(len) || this.buf.length < colon + 1 + len + 1) return;
      const json = this.buf.subarray(colon + 1, colon + 1 + len).toString();
      this.buf = this.buf.subarray(colon + 1 + len + 1);
      let msg;
      try {
        msg = JSON.parse(json);
      } catch {
        continue;
      }
      if (msg.event) {
        this.events.push(msg);
        if (process.env.SB_TEST_VERBOSE) process.stderr.write(`[${this.name} event] ${json}\n`);
      } else if (msg.response && this.pending.has(msg.token)) {
        this.pending.get(msg.token)(msg);
        this.pending.delete(msg.token);
      }
    }
  }

  command(command, params, timeoutMs = 5000) {
    const token = `t${++this.seq}`;
    const body = JSON.stringify({ command, params, token });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`${this.name}: no answer to ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      this.sock.write(`${Buffer.byteLength(body)}:${body},`);
    });
  }

  close() {
    this.sock.destroy();
  }
}

export class Phone {
  constructor(proc, ctrl, { name, user, dir, recordDir }) {
    this.proc = proc;
    this.ctrl = ctrl;
    this.name = name;
    this.user = user;
    this.dir = dir;
    this.recordDir = recordDir;
  }

  events(type) {
    return this.ctrl.events.filter((e) => !type || e.type === type);
  }

  waitForEvent(type, timeoutMs = 15000, pred = () => true) {
    return waitFor(() => this.events(type).find(pred), timeoutMs,
                   { message: `${this.name} gets ${type}`, maxIntervalMs: 100 });
  }

  async command(cmd, params) {
    const r = await this.ctrl.command(cmd, params);
    if (!r.ok) throw new Error(`${this.name}: ${cmd} ${params || ''} failed: ${r.data}`);
    return r.data;
  }

  dial(uri) {
    return this.command('dial', uri);
  }

  accept() {
    return this.command('accept');
  }

  hangup() {
    return this.command('hangup');
  }

  hold() {
    return this.command('hold');
  }

  resume() {
    return this.command('resume');
  }

  // Keys digits on the current call, one at a time with gapMs between, as a person would:
  // baresip sends each as RFC 4733 events when telephone-event was negotiated (SIP INFO when
  // not). One sndcode per digit, since a string of them makes back-to-back events.
  async sendDigits(digits, { gapMs = 300 } = {}) {
    for (const d of digits) {
      await this.command('sndcode', d);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }

  // The digits this phone received so far (its CALL_DTMF_START events), in order.
  dtmfReceived() {
    return this.events('CALL_DTMF_START').map((e) => e.param).join('');
  }

  // The WAVs sndfile wrote of what this phone heard (decoded), newest last.
  recordings() {
    return readdirSync(this.recordDir).filter((f) => /-dec\.wav$/.test(f)).sort()
      .map((f) => path.join(this.recordDir, f))
      .filter((f) => statSync(f).size > 44);
  }

  describe() {
    return `${this.proc.describe()}\n--- ${this.name} events ---\n` +
           this.ctrl.events.slice(-30).map((e) => JSON.stringify(e)).join('\n');
  }

  async stop() {
    this.ctrl.close();
    return this.proc.stop({ timeoutMs: 5000 });
  }
}

function portTakes(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// baresip 1.0 listens on sip_listen's port (UDP, TCP) and on the next one (TLS), and gives up
// when either is taken: a port whose successor is free too (not avoid).
async function sipPortPair(avoid) {
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (p < 65535 && p + 1 !== avoid && (await portTakes(p + 1))) return p;
  }
  throw new Error('no two consecutive free ports for baresip');
}

// A phone registered as user (password) at the trunk on trunkPort, its microphone a toneHz
// tone. codecs: baresip's names in preference order ("PCMU/8000/1", "opus/48000/2").
export async function startPhone({ dir, name, user, password, trunkPort, toneHz,
                                   codecs = ['PCMU/8000/1', 'PCMA/8000/1'], slot = 2,
                                   register = true }) {
  const home = path.join(dir, name);
  const recordDir = path.join(home, 'rec');
  mkdirSync(recordDir, { recursive: true });
  const ctrlPort = await freePort();
  const sipPort = await sipPortPair(ctrlPort);
  const [rtpMin] = portRange(slot);
  const tone = await toneWav(path.join(home, 'tone.wav'), toneHz);
  const config = readFileSync(path.join(repoDir, 'tests/sip/baresip.config'), 'utf8')
    .replaceAll('@SIP_PORT@', String(sipPort))
    .replaceAll('@CTRL_PORT@', String(ctrlPort))
    .replaceAll('@RTP_MIN@', String(rtpMin))
    .replaceAll('@RTP_MAX@', String(rtpMin + 49))
    .replaceAll('@TONE@', tone)
    .replaceAll('@RECORD_DIR@', recordDir)
    .replaceAll('@MODULES@', MODULES);
  writeFileSync(path.join(home, 'config'), config);
  const account = `<sip:${user}@127.0.0.1:${trunkPort}>;auth_pass=${password};` +
    `outbound="sip:127.0.0.1:${trunkPort}";regint=${register ? 300 : 0};` +
    `audio_codecs=${codecs.join(',')}`;
  writeFileSync(path.join(home, 'accounts'), `${account}\n`);
  writeFileSync(path.join(home, 'contacts'), '');
  const proc = await startProcess(BARESIP, ['-f', home], {
    name, readyLine: /baresip is ready/, readyTimeoutMs: 10000,
  });
  let ctrl;
  try {
    const sock = await new Promise((resolve, reject) => {
      const s = net.connect(ctrlPort, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    ctrl = new Ctrl(sock, name);
    if (register) await proc.waitForLine(/200 OK/, 10000);
  } catch (err) {
    await proc.stop({ signal: 'SIGKILL' });
    err.message += `\n${proc.describe()}`;
    throw err;
  }
  return new Phone(proc, ctrl, { name, user, dir: home, recordDir });
}
