// The demo behind tools/demo.sh: a development homeserver, switchboard as the bot, and three
// mxcall participants who call the bot in one room, each sending its own tone. Prints live
// per-participant status and, at the end, which tones each one heard: the two others, never its
// own. Exit status 0 when that is what happened.
import path from 'node:path';
import { startDevhs } from '../tests/integration/lib/devhs.mjs';
import { runMxcall } from '../tests/integration/lib/mxcall.mjs';
import { startSwitchboard, tempDir, writeConfig } from '../tests/integration/lib/switchboard.mjs';
import { waitFor } from '../tests/integration/lib/wait.mjs';

const seconds = Number(process.env.DEMO_SECONDS || 20);
const people = [
  { name: 'alice', tone: 440 },
  { name: 'bob', tone: 550 },
  { name: 'carol', tone: 660 },
];
const probes = people.map((p) => p.tone);
const byUser = new Map();

function say(line) {
  process.stdout.write(`${line}\n`);
}

function toneOf(hz) {
  return people.find((p) => p.tone === Number(hz))?.name || `${hz} Hz`;
}

function describe(ev) {
  const w = ev.windows?.[0];
  const who = byUser.get(ev.party);
  const heard = w ? probes.filter((hz) => w.heard.includes(hz) && hz !== who.tone)
    .map((hz) => `${toneOf(hz)} ${w.tones_db[hz].toFixed(1)} dB`).join(', ') : '';
  return `${who.name.padEnd(6)} ${ev.state.padEnd(10)} rx ${String(ev.packets_received).padStart(5)}` +
         ` tx ${String(ev.packets_sent).padStart(5)} lost ${ev.packets_lost} jitter ` +
         `${ev.jitter_ms} ms rtt ${ev.rtt_ms} ms | hears: ${heard || '-'}`;
}

async function main() {
  const dir = tempDir('sb-demo-');
  say(`switchboard demo: three callers, ${seconds} s, files in ${dir}`);
  const hs = await startDevhs({ serverName: 'localhost' });
  say(`development homeserver at ${hs.url}`);
  const bot = await hs.register('switchboard');
  const users = {};
  for (const p of people) {
    users[p.name] = await hs.register(p.name, 'pw');
    byUser.set(users[p.name].userId, p);
  }
  const room = await users.alice.createRoom({
    preset: 'private_chat', name: 'Demo',
    invite: [users.bob.userId, users.carol.userId, bot.userId],
  });
  await users.bob.join(room);
  await users.carol.join(room);

  const configFile = writeConfig(dir, {
    homeserver: hs.url, userId: bot.userId, accessToken: bot.accessToken,
    allowedUsers: ['@*:localhost'], stateDir: path.join(dir, 'state'),
  });
  const sb = await startSwitchboard(configFile);
  say(`switchboard running as ${bot.userId} (log: its stderr, kept by the demo)`);
  await waitFor(async () => (await users.alice.members(room))
    .some((e) => e.state_key === bot.userId && e.content.membership === 'join'), 15000,
  { message: 'the bot joins the room' });
  say(`room ${room}: alice, bob and carol call the bot\n`);

  const mx = await runMxcall(hs.url, people.map((p) => ({
    user: users[p.name].userId, password: 'pw', call: room, invitee: bot.userId,
    tone: p.tone, probes, duration: seconds, windows: [[2, 0]],
  })), { dir, args: ['--status-interval', '2000'] });

  let shown = 0;
  const ticker = setInterval(() => {
    const status = mx.events('status');
    for (const ev of status.slice(shown)) say(describe(ev));
    shown = status.length;
  }, 500);
  const st = await mx.finished((seconds + 60) * 1000);
  clearInterval(ticker);

  say('\nwhat each participant heard (the level of each tone, dBFS):');
  let ok = st.code === 0;
  for (const p of people) {
    const r = mx.result(users[p.name].userId);
    const w = r?.windows?.[0];
    if (!w) {
      say(`${p.name}: no result (${r ? r.end : 'mxcall gave none'})`);
      ok = false;
      continue;
    }
    const others = people.filter((q) => q !== p);
    const heardOthers = others.every((q) => w.tones_db[q.tone] - w.tones_db[p.tone] >= 20 &&
                                           w.tones_db[q.tone] - w.noise_db >= 20);
    ok = ok && heardOthers;
    say(`${p.name.padEnd(6)} sends ${p.tone} Hz; hears ` +
        `${others.map((q) => `${q.name} (${q.tone} Hz) ${w.tones_db[q.tone].toFixed(1)}`).join(', ')}` +
        `; its own tone ${w.tones_db[p.tone].toFixed(1)}, noise floor ${w.noise_db.toFixed(1)}` +
        ` -> ${heardOthers ? 'hears the two others, not itself' : 'WRONG'}`);
  }

  const exit = await sb.stop();
  say(`\nswitchboard stopped (exit ${exit.code}); calls hung up: ` +
      `${sb.logLines(/call ended/).length}`);
  await hs.stop();
  say(ok ? '\ndemo OK' : '\ndemo FAILED');
  process.exit(ok && exit.code === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
