// Two-party SIP <-> Matrix bridges: switchboard's CPU per call, transcoded and in passthrough.
// For each mode and each N: the development homeserver, switchboard with a sip: section routing
// N numbers each to its own Matrix user, N mxcall parties answering as those users (WebRTC,
// Opus), and sipload placing N concurrent calls to those numbers: with PCMU (each bridge decodes
// and encodes both ways: transcoded) or with Opus (one codec on both sides: passthrough). Once
// every call is up and has settled, the CPU time of switchboard, sipload and mxcall is read from
// /proc over a steady window.
//
//   node bench/sip_calls.mjs [--calls 5,10,20] [--modes transcoded,passthrough] [--seconds 10]
//   (SB_BUILD_DIR: the build to use)
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sipStage } from '../tests/integration/lib/sipstage.mjs';
import { runMxcall } from '../tests/integration/lib/mxcall.mjs';
import { binPath } from '../tests/integration/lib/env.mjs';
import { startProcess } from '../tests/integration/lib/process.mjs';
import { waitFor } from '../tests/integration/lib/wait.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

const callCounts = arg('calls', '5,10,20').split(',').map(Number);
const modes = arg('modes', 'transcoded,passthrough').split(',');
const seconds = Number(arg('seconds', '10'));
const SETTLE_S = 3;
const TONE = { matrix: 440, phone: 990 };
const PROBES = [TONE.matrix, TONE.phone];
const HZ = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s
const number = (i) => `+1555020${String(i).padStart(3, '0')}`;

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}

// A run that went wrong: the processes' whole logs are kept in the stage's directory.
function failed(err, st, sl, mx) {
  const logs = { switchboard: st.sb.proc, sipload: sl, mxcall: mx.proc };
  for (const [name, p] of Object.entries(logs)) {
    writeFileSync(path.join(st.dir, `${name}.log`),
                  [...p.stdout.lines, '--- stderr ---', ...p.stderr.lines].join('\n'));
  }
  err.message += `\nlogs in ${st.dir}\n${sl.describe()}`;
  return err;
}

async function run(mode, n) {
  const users = Array.from({ length: n }, (_, i) => `u${i}`);
  const st = await sipStage(users, {
    kamailio: false,
    logLevel: 'info',
    routes: users.map((u, i) => ({ number: number(i), user: `@${u}:localhost` })),
    sip: { codecs: ['opus', 'pcmu'], rate: 1000 },
  });
  let mx = null;
  let sl = null;
  let ok = false;
  try {
    // Every Matrix user answers the call it gets and stays until the phone hangs up, which
    // happens once the window is over: the ramp (5 calls a second), settling, the window, slack.
    const callS = Math.ceil(n / 5) + SETTLE_S + seconds + 10;
    mx = await runMxcall(st.hs.url, users.map((u) => ({
      user: st.users[u].userId, password: 'pw', answer: true, tone: TONE.matrix, probes: PROBES,
      duration: callS + 30, windows: [[SETTLE_S, 0]],
    })), { dir: st.dir, timeoutS: callS + 120 });
    await waitFor(() => mx.proc.stderr.lines.filter((l) => /mx: syncing as/.test(l)).length >= n,
                  60000, { message: 'every mxcall party syncs' });

    sl = await startProcess(binPath('tools/sipload/sipload'), [
      '--uri', `sip:+1555020{i:03}@127.0.0.1:${st.sipPort}`, '--calls', String(n),
      '--rate', '5', '--codec', mode === 'passthrough' ? 'opus' : 'pcmu',
      '--duration', String(callS), '--tone', String(TONE.phone), '--analyse', '2',
      '--probe', String(TONE.matrix), '--probe', String(TONE.phone),
      '--analyse-from', String(SETTLE_S), '--setup-timeout', '60',
    ], { name: 'sipload' });
    await sl.waitForStderr(/sipload: all calls placed/, 30000 + n * 2000).catch((err) => {
      throw failed(err, st, sl, mx);
    });
    await waitFor(() => users.every((u) => mx.connected(st.users[u].userId)), 60000,
                  { message: 'every Matrix party connected' }).catch((err) => {
      throw failed(err, st, sl, mx);
    });
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));

    const pids = { sb: st.sb.proc.pid, sl: sl.pid, mx: mx.proc.pid };
    const t0 = process.hrtime.bigint();
    const c0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuTicks(p)]));
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, p]) =>
      [k, (cpuTicks(p) - c0[k]) / HZ / wall * 100]));
    const rss = rssKiB(pids.sb);

    // How each bridge ran: the room's log line when it started forwarding, or why it mixes.
    const fwdRooms = st.sb.logLines(/passthrough: .* forwarding without transcoding/).length;
    await sl.exited;
    const slr = JSON.parse(sl.stdout.lines.filter((l) => l.startsWith('{')).pop() || '{}');
    await mx.finished(callS * 1000 + 60000);
    const heardPhone = mx.events('result').filter((r) => {
      const w = r.windows?.[0];
      return w && w.tones_db[TONE.phone] - w.tones_db[TONE.matrix] >= 20 &&
             w.tones_db[TONE.phone] - w.noise_db >= 20;
    }).length;
    const heardMatrix = (slr.heard || []).filter((h) =>
      h.tones_db[TONE.matrix] - h.tones_db[TONE.phone] >= 20 &&
      h.tones_db[TONE.matrix] - h.residual_db >= 20).length;
    ok = true;
    return { mode, n, cpu, rss, fwdRooms, sl: slr, heardPhone, heardMatrix,
             heardMatrixOf: (slr.heard || []).length };
  } finally {
    await sl?.stop();
    await mx?.stop();
    await st.stop();
    if (ok) rmSync(st.dir, { recursive: true, force: true });
  }
}

console.log(`sip_calls: ${seconds} s window per run after ${SETTLE_S} s settling; ` +
            'Matrix side WebRTC Opus 48 kHz (mxcall), SIP side plain RTP (sipload), 20 ms');
console.log('mode         calls  fwd  sb CPU%  per call%  calls/core  sb RSS MiB  ' +
            'sipload CPU%  mxcall CPU%  loss%  setup p50/p95 ms  Matrix heard phone  phone heard Matrix');
// A run whose calls did not all come up is run again (its logs are kept, see failed()): the
// table only has runs where every call was up through the window.
async function runRetried(mode, n, tries = 3) {
  for (let i = 1; ; i++) {
    try {
      return { ...(await run(mode, n)), tries: i };
    } catch (err) {
      if (i >= tries) throw err;
      console.error(`${mode} ${n}: attempt ${i} failed: ${err.message.split('\n')[0]}`);
    }
  }
}

for (const mode of modes) {
  for (const n of callCounts) {
    const r = await runRetried(mode, n);
    const per = r.cpu.sb / r.n;
    console.log(`${mode.padEnd(11)} ${String(r.n).padStart(6)} ${String(r.fwdRooms).padStart(4)} ` +
                `${r.cpu.sb.toFixed(1).padStart(8)}  ${per.toFixed(2).padStart(9)}  ` +
                `${(100 / per).toFixed(0).padStart(10)}  ${(r.rss / 1024).toFixed(1).padStart(10)}  ` +
                `${r.cpu.sl.toFixed(1).padStart(12)}  ${r.cpu.mx.toFixed(1).padStart(11)}  ` +
                `${Number(r.sl.loss_pct ?? NaN).toFixed(2).padStart(5)}  ` +
                `${`${r.sl.setup_ms?.p50}/${r.sl.setup_ms?.p95}`.padStart(16)}  ` +
                `${`${r.heardPhone}/${r.n}`.padStart(18)}  ` +
                `${`${r.heardMatrix}/${r.heardMatrixOf}`.padStart(18)}` +
                `${r.tries > 1 ? `  (attempt ${r.tries})` : ''}`);
  }
}
