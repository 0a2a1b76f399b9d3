// Conference capacity, switchboard beside Janus AudioBridge, on the same workload: N
// participants in one room (3 talkers sending tone bursts, the rest silent frames with RFC 6464
// levels), full WebRTC (ICE + DTLS-SRTP + Opus 48 kHz, 20 ms), driven by mxload (tools/mxcall).
// The server runs pinned to one core, the load generator (and devhs) on another; the server's CPU
// and RSS are read from /proc over the window, mxload's own CPU is printed apart.
//
//   node bench/conference.mjs [--systems switchboard,janus] [--n 10,50,100,200,500,1000]
//        [--seconds 20] [--settle 3] [--talkers 3] [--complexity 5] [--idle-rooms 500]
//        [--server-cpu 0] [--load-cpu 1] [--parallel 32] [--keep-going]
//                                 (SB_BUILD_DIR: the build to use; JANUS: the Janus binary)
//
// A system that misses the on-time target (>= 99.5 % of mix packets within 20 ms of schedule)
// at some N is not tried at larger N. The last line is `capacity: switchboard=N janus=M ratio=R`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevhs } from '../tests/integration/lib/devhs.mjs';
import { binPath } from '../tests/integration/lib/env.mjs';
import { startProcess } from '../tests/integration/lib/process.mjs';
import { tempDir } from '../tests/integration/lib/switchboard.mjs';
import { waitFor } from '../tests/integration/lib/wait.mjs';

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

const systems = arg('systems', 'switchboard,janus').split(',').filter(Boolean);
const counts = arg('n', '10,50,100,200,500,1000').split(',').map(Number);
const seconds = Number(arg('seconds', '20'));
const settle = Number(arg('settle', '3'));
const talkers = Number(arg('talkers', '3'));
const complexity = Number(arg('complexity', '5'));
const idleRooms = Number(arg('idle-rooms', '500'));
const parallel = Number(arg('parallel', '32'));
const serverCpu = arg('server-cpu', '0');
const loadCpu = arg('load-cpu', '1');
const TARGET = 99.5;
const janusBin = process.env.JANUS || 'janus'; // the Janus binary (Debian's by default)
// MXLOAD: another mxload binary (an older build, to compare the load generator's own cost)
const mxloadBin = process.env.MXLOAD || binPath('tools/mxcall/mxload');
const jsonOut = arg('json', null); // every result line, appended to this file
const keepGoing = process.argv.includes('--keep-going'); // measure past a failure too
// Janus (libnice) gathers no loopback candidates: every party, both systems, uses the host's
// first IPv4 address, which stays on the machine all the same.
const mediaIp = arg('media-ip', Object.values(os.networkInterfaces()).flat()
  .find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1');
const HZ = 100; // USER_HZ

const log = (s) => process.stderr.write(`${s}\n`);

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function pin(pid, cpu) {
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' });
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function inBatches(items, size, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...await Promise.all(items.slice(i, i + size).map(fn)));
  }
  return out;
}

// Runs mxload pinned to the load core; resolves with its "result" line.
async function runLoad(args, timeoutS) {
  const proc = await startProcess('taskset', ['-c', loadCpu, mxloadBin, ...args],
                                 { name: 'mxload' });
  const st = await Promise.race([
    proc.exited,
    new Promise((r) => setTimeout(() => r('timeout'), timeoutS * 1000)),
  ]);
  if (st === 'timeout') await proc.stop({ signal: 'SIGKILL' });
  const line = proc.stdout.lines.find((l) => l.includes('"event":"result"'));
  if (!line || proc.exitStatus?.code !== 0) {
    log(proc.describe());
    return null;
  }
  return JSON.parse(line);
}

function commonArgs(n) {
  return ['--n', String(n), '--talkers', String(talkers), '--seconds', String(seconds),
          '--settle', String(settle), '--complexity', String(complexity),
          '--timeout', String(Math.max(60, n / 4)), '--parallel', String(parallel),
          '--media-ip', mediaIp];
}

async function matrixSetup(hs, n, dir) {
  const t0 = Date.now();
  const bot = await hs.register('switchboard');
  const observer = await hs.register('observer');
  const idx = [...Array(n).keys()];
  const users = await inBatches(idx, 50, (i) => hs.register(`p${i}`, 'pw'));
  const room = await observer.createRoom({ preset: 'public_chat', invite: [bot.userId] });
  await inBatches(users, 50, (u) => u.join(room));
  log(`  matrix set-up: ${n} users joined in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const file = path.join(dir, 'participants.json');
  writeFileSync(file, JSON.stringify({
    homeserver: hs.url, room, bot: bot.userId,
    observer: { user: observer.userId, token: observer.accessToken },
    users: users.map((u) => ({ user: u.userId, token: u.accessToken })),
  }));
  return { bot, observer, room, file };
}

function switchboardConfig(dir, hs, bot) {
  const file = path.join(dir, 'switchboard.yaml');
  writeFileSync(file, [
    'matrix:',
    `  homeserver: "${hs.url}"`,
    `  user_id: "${bot.userId}"`,
    `  access_token: "${bot.accessToken}"`,
    '  allowed_users: ["@*:localhost"]',
    `state_dir: "${path.join(dir, 'state')}"`,
    'media:',
    `  ip: "${mediaIp}"`,
    '  port_min: 20000',
    '  port_max: 29999',
    'conference:',
    `  opus_complexity: ${complexity}`,
    'log_level: info',
    '',
  ].join('\n'));
  return file;
}

async function startSb(configFile) {
  const sb = await startProcess(binPath('daemon/switchboard'), ['--config', configFile], {
    name: 'switchboard', readyStderr: /mx: syncing as/, readyTimeoutMs: 30000 });
  pin(sb.pid, serverCpu);
  return sb;
}

async function runSwitchboard(n) {
  const dir = tempDir('sb-conf-');
  const hs = await startDevhs({ serverName: 'localhost', logLevel: 'error' });
  pin(hs.proc.pid, loadCpu);
  try {
    const { bot, observer, room, file } = await matrixSetup(hs, n, dir);
    const sb = await startSb(switchboardConfig(dir, hs, bot));
    try {
      await waitFor(async () => (await observer.request('GET',
        `/rooms/${encodeURIComponent(room)}/joined_members`)).joined[bot.userId], 30000,
      { message: 'the bot joins the room' });
      const r = await runLoad(['--system', 'switchboard', '--participants', file,
                               '--server-pid', String(sb.pid), '--ports', '30000-39999',
                               ...commonArgs(n)], 120 + n / 2 + seconds);
      return r;
    } finally {
      await sb.stop();
    }
  } finally {
    await hs.stop();
  }
}

function janusConfig(dir, port) {
  const lib = '/usr/lib/x86_64-linux-gnu/janus';
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'janus.jcfg'), `general: {
  configs_folder = "${dir}"
  plugins_folder = "${lib}/plugins"
  transports_folder = "${lib}/transports"
  events_folder = "${lib}/events"
  loggers_folder = "${lib}/loggers"
  debug_level = 2
  session_timeout = 120
}
media: {
  rtp_port_range = "40000-49999"
}
nat: {
  nice_debug = false
  ice_enforce_list = "lo"
}
plugins: {
  disable = "libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_videoroom.so,libjanus_voicemail.so"
}
transports: {
  disable = "libjanus_websockets.so,libjanus_pfunix.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_rabbitmq.so"
}
events: {
  broadcast = false
}
`);
  writeFileSync(path.join(dir, 'janus.transport.http.jcfg'), `general: {
  json = "compact"
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
}
`);
  writeFileSync(path.join(dir, 'janus.plugin.audiobridge.jcfg'), 'general: {\n}\n');
  return path.join(dir, 'janus.jcfg');
}

async function runJanus(n) {
  const dir = tempDir('janus-conf-');
  const port = 18088 + Math.floor(Math.random() * 1000);
  const cfg = janusConfig(dir, port);
  const janus = await startProcess(janusBin, ['-C', cfg, '-F', dir], { name: 'janus' });
  pin(janus.pid, serverCpu);
  const url = `http://127.0.0.1:${port}/janus`;
  try {
    await waitFor(async () => {
      try {
        return (await fetch(`${url}/info`)).ok;
      } catch {
        return false;
      }
    }, 20000, { message: 'Janus answers on its HTTP API' });
    return await runLoad(['--system', 'janus', '--janus', url, '--server-pid', String(janus.pid),
                          '--ports', '30000-39999', ...commonArgs(n)], 120 + n / 2 + seconds);
  } finally {
    await janus.stop({ timeoutMs: 10000 });
  }
}

// 500 rooms the bot is in, nobody calling: the bot's CPU over the window.
async function idle(rooms) {
  const dir = tempDir('sb-idle-');
  const hs = await startDevhs({ serverName: 'localhost', logLevel: 'error' });
  pin(hs.proc.pid, loadCpu);
  try {
    const bot = await hs.register('switchboard');
    const owner = await hs.register('owner');
    await inBatches([...Array(rooms).keys()], 50,
                    () => owner.createRoom({ preset: 'private_chat', invite: [bot.userId] }));
    const sb = await startSb(switchboardConfig(dir, hs, bot));
    try {
      await waitFor(async () => (await bot.joinedRooms()).length >= rooms, 120000,
                    { message: 'the bot joins every room' });
      await new Promise((r) => setTimeout(r, settle * 1000));
      const t0 = process.hrtime.bigint();
      const c0 = cpuTicks(sb.pid);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      return (cpuTicks(sb.pid) - c0) / HZ / wall * 100;
    } finally {
      await sb.stop();
    }
  } finally {
    await hs.stop();
  }
}

const pad = (s, n) => String(s).padStart(n);

// The machine's load beside the figures (it is shared): steal and busy time of all CPUs over a
// run from /proc/stat, and the 1-minute load average at its end.
function cpuTimes() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1)
    .map(Number);
  return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + f[4], steal: f[7] || 0 };
}
function machineLoad(t0) {
  const t1 = cpuTimes();
  const d = t1.total - t0.total || 1;
  return { steal: (100 * (t1.steal - t0.steal)) / d,
           loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) };
}
const f1 = (x) => (x == null || x < 0 ? '-' : x.toFixed(1));

console.log(`conference: ${seconds} s window after ${settle} s settle, ${talkers} talkers, ` +
            `Opus 48 kHz 20 ms complexity ${complexity}, server on CPU ${serverCpu}, ` +
            `load on CPU ${loadCpu}`);
console.log('system          N   CPU%  per-part%  on-time%  worst%  p50 ms  p99 ms  RSS MiB  ' +
            'KiB/part  heard  load CPU%  us/pkt  us/tx  us/rx  set-up s  loadavg  steal%');
const capacity = {};
const failedOnce = {};
let missing = false;
for (const system of systems) {
  capacity[system] = 0;
  if (system === 'janus' && !which(janusBin)) {
    console.log(`janus: ${janusBin} not found on this machine (Debian package "janus"): ` +
                'not measured');
    missing = true;
    capacity[system] = null;
    continue;
  }
  for (const n of counts) {
    log(`${system} N=${n} ...`);
    let r = null;
    const t0 = cpuTimes();
    try {
      r = system === 'janus' ? await runJanus(n) : await runSwitchboard(n);
    } catch (e) {
      log(`${system} N=${n}: ${e.message}`);
    }
    if (!r) {
      console.log(`${system.padEnd(12)} ${pad(n, 4)}  run failed (see stderr)`);
      break;
    }
    const rssMiB = r.server_rss_kib / 1024;
    const m = machineLoad(t0);
    // mxload's CPU per packet it sent or received, and (newer builds) its send clock's per
    // packet sent and its receive threads' per packet received
    const pkts = r.tx_packets + r.rx_packets;
    const usPkt = pkts ? (r.load_cpu_pct / 100) * r.window_s * 1e6 / pkts : -1;
    const f2 = (x) => (x == null || x <= 0 ? '-' : x.toFixed(2));
    if (jsonOut) {
      writeFileSync(jsonOut, `${JSON.stringify({ ...r, latencies_ms: undefined, machine: m })}\n`,
                    { flag: 'a' });
    }
    console.log(`${system.padEnd(12)} ${pad(n, 4)} ${pad(f1(r.server_cpu_pct), 6)} ` +
                `${pad((r.server_cpu_pct / n).toFixed(3), 10)} ${pad(r.on_time_pct.toFixed(2), 9)} ` +
                `${pad(r.worst_on_time_pct.toFixed(1), 7)} ${pad(f1(r.latency_p50_ms), 7)} ` +
                `${pad(f1(r.latency_p99_ms), 7)} ${pad(rssMiB.toFixed(1), 8)} ` +
                `${pad((r.server_rss_kib / n).toFixed(0), 9)} ${pad(r.heard_correct ? 'ok' : 'BAD', 6)} ` +
                `${pad(f1(r.load_cpu_pct), 10)} ${pad(f2(usPkt), 7)} ${pad(f2(r.load?.us_per_tx), 6)} ` +
                `${pad(f2(r.load?.us_per_rx), 6)} ${pad(r.setup_s.toFixed(1), 9)} ` +
                `${pad(m.loadavg.toFixed(1), 8)} ${pad(m.steal.toFixed(1), 7)}` +
                (r.failed ? `  (${r.failed} failed to connect)` : ''));
    const met = r.on_time_pct >= TARGET && !r.failed;
    if (met && !failedOnce[system]) capacity[system] = n;
    if (!met) failedOnce[system] = true;
    if (!met && !keepGoing) break;
  }
}
if (systems.includes('switchboard') && idleRooms > 0) {
  try {
    const cpu = await idle(idleRooms);
    console.log(`idle: switchboard in ${idleRooms} rooms, no calls: ${cpu.toFixed(2)} % CPU`);
  } catch (e) {
    console.log(`idle: run failed: ${e.message}`);
  }
}
const sbN = capacity.switchboard ?? 'none';
const jN = capacity.janus === null ? 'missing' : capacity.janus ?? 'none';
const ratio = typeof sbN === 'number' && typeof jN === 'number' && jN > 0
  ? (sbN / jN).toFixed(1) : 'n/a';
console.log(`capacity: switchboard=${sbN} janus=${jN} ratio=${ratio}`);
process.exit(missing ? 1 : 0);
