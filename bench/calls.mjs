// Call set-up time and CPU per connected call, measured with mxcall against the development
// homeserver: for each room count R, R rooms of three participants who all call the bot; the
// bot's CPU is read from /proc over a steady window once every call is up, and the set-up
// phases come from the bot's own log ("invite->sdp", "sdp->ice", "ice->dtls").
//
//   node bench/calls.mjs [--rooms 1,5,10] [--seconds 10]      (SB_BUILD_DIR: the build to use)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startDevhs } from '../tests/integration/lib/devhs.mjs';
import { runMxcall } from '../tests/integration/lib/mxcall.mjs';
import { startSwitchboard, tempDir, writeConfig } from '../tests/integration/lib/switchboard.mjs';
import { waitFor } from '../tests/integration/lib/wait.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

const roomCounts = arg('rooms', '1,5,10').split(',').map(Number);
const seconds = Number(arg('seconds', '10'));
const TONES = [440, 550, 660];
const HZ = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return m ? Number(m[1]) : 0;
}

function pct(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.floor((v.length - 1) * p))] : NaN;
}

async function run(rooms) {
  const dir = tempDir('sb-bench-');
  const hs = await startDevhs({ serverName: 'localhost', logLevel: 'warn' });
  const bot = await hs.register('switchboard');
  const parties = [];
  for (let r = 0; r < rooms; r++) {
    const users = [];
    for (let i = 0; i < 3; i++) users.push(await hs.register(`u${r}x${i}`, 'pw'));
    const room = await users[0].createRoom({
      preset: 'private_chat', invite: [users[1].userId, users[2].userId, bot.userId] });
    await users[1].join(room);
    await users[2].join(room);
    users.forEach((u, i) => parties.push({
      user: u.userId, password: 'pw', call: room, invitee: bot.userId, tone: TONES[i],
      probes: TONES, duration: seconds + 8, windows: [[3, 0]] }));
  }
  const configFile = writeConfig(dir, {
    homeserver: hs.url, userId: bot.userId, accessToken: bot.accessToken,
    allowedUsers: ['@*:localhost'], stateDir: path.join(dir, 'state'),
  });
  const sb = await startSwitchboard(configFile);
  await waitFor(() => sb.logLines(/\] joined$/).length >= rooms, 30000,
                { message: 'the bot joins every room' });
  const mx = await runMxcall(hs.url, parties, { dir, timeoutS: 60 });
  await waitFor(() => sb.logLines(/joined conference/).length >= parties.length, 60000,
                { message: 'every call connected' });
  await new Promise((r) => setTimeout(r, 2000)); // let jitter buffers settle
  const t0 = process.hrtime.bigint();
  const sb0 = cpuTicks(sb.proc.pid);
  const mx0 = cpuTicks(mx.proc.pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const sbCpu = (cpuTicks(sb.proc.pid) - sb0) / HZ / wall * 100;
  const mxCpu = (cpuTicks(mx.proc.pid) - mx0) / HZ / wall * 100;
  const rss = rssKiB(sb.proc.pid);
  await mx.finished(120000);

  const phases = { sdp: [], ice: [], dtls: [] };
  for (const l of sb.logLines(/call connected/)) {
    const m = l.match(/invite->sdp (-?\d+) ms, sdp->ice (-?\d+) ms, ice->dtls (-?\d+) ms/);
    if (m) {
      phases.sdp.push(Number(m[1]));
      phases.ice.push(Number(m[2]));
      phases.dtls.push(Number(m[3]));
    }
  }
  const results = mx.events('result');
  const heardAll = results.filter((r) => {
    const w = r.windows[0];
    const own = parties.find((p) => p.user === r.party).tone;
    return TONES.filter((t) => t !== own).every((t) => w.tones_db[t] - w.tones_db[own] >= 20);
  }).length;
  await sb.stop();
  await hs.stop();
  return { rooms, calls: parties.length, sbCpu, mxCpu, rss, phases, heardAll };
}

console.log(`calls: ${seconds} s window per run, 3 callers per room, Opus 48 kHz 20 ms`);
console.log('rooms calls  bot CPU%  per call%  bot RSS MiB  mxcall CPU%  ' +
            'invite->sdp p50/p95  sdp->ice p50/p95  ice->dtls p50/p95  heard all');
for (const rooms of roomCounts) {
  const r = await run(rooms);
  const f = (a) => `${pct(a, 0.5)}/${pct(a, 0.95)} ms`;
  console.log(`${String(r.rooms).padStart(5)} ${String(r.calls).padStart(5)}  ` +
              `${r.sbCpu.toFixed(1).padStart(8)}  ${(r.sbCpu / r.calls).toFixed(2).padStart(9)}  ` +
              `${(r.rss / 1024).toFixed(1).padStart(11)}  ${r.mxCpu.toFixed(1).padStart(11)}  ` +
              `${f(r.phases.sdp).padStart(19)}  ${f(r.phases.ice).padStart(16)}  ` +
              `${f(r.phases.dtls).padStart(17)}  ${r.heardAll}/${r.calls}`);
}
