// ctest-timeout: 180
// A burst of calls the bot's /sync cannot carry in one timeline: while the bot is paused
// (SIGSTOP, so it neither syncs nor answers), eight people call it in the group room, then more
// than a timeline's worth of chat follows. When the bot resumes, its next /sync timeline is
// limited and holds only the chat; the invites are in the gap before it, which the bot fetches
// with /messages. Every caller must be answered and connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupRoomStage } from './lib/scenario.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { waitFor } from './lib/wait.mjs';

const CALLERS = 8;
const CHAT = 110; // more than the bot's timeline limit (100)

test('every caller of a burst larger than a /sync timeline is answered', async (t) => {
  const callers = Array.from({ length: CALLERS }, (_, i) => `caller${i}`);
  const st = await groupRoomStage(['chatter', ...callers]);
  let paused = false;
  const resume = () => {
    if (paused) process.kill(st.sb.proc.pid, 'SIGCONT');
    paused = false;
  };
  t.after(async () => {
    resume();
    await st.stop();
  });
  const { hs, bot, users, room } = st;
  const chatter = users.chatter;

  // The bot parked in its long-poll, then paused; a first message answers that /sync (the
  // answer waits in the socket), so everything from here on lands after the bot's last batch.
  await waitFor(async () => (await hs.status()).waiting_syncs >= 1, 15000,
                { message: 'the bot waits in /sync' });
  process.kill(st.sb.proc.pid, 'SIGSTOP');
  paused = true;
  await chatter.sendText(room, 'here they come');
  await waitFor(async () => (await hs.status()).waiting_syncs === 0, 5000,
                { message: 'the parked /sync was answered' });

  const mx = await runMxcall(hs.url, callers.map((u) => ({
    user: users[u].userId, password: 'pw', call: room, invitee: bot.userId, tone: 440,
    duration: 3,
  })), { dir: st.dir, timeoutS: 60 });
  t.after(() => mx.stop());

  const invites = async () => (await chatter.allMessages(room, { pageSize: 100 }))
    .filter((e) => e.type === 'm.call.invite').length;
  await waitFor(async () => (await invites()) >= CALLERS, 30000,
                { intervalMs: 200, message: `${CALLERS} invites in the room` });
  for (let i = 0; i < CHAT; i++) await chatter.sendText(room, `chat ${i}`);
  resume();

  await waitFor(() => callers.every((u) => mx.connected(users[u].userId)), 60000,
                { intervalMs: 100, message: 'every caller connected' });
  const status = await mx.finished(60000);
  for (const u of callers) {
    const r = mx.result(users[u].userId);
    assert.ok(r?.ok, `${u} did not complete its call: ${JSON.stringify(r)}`);
  }
  assert.equal(status.code, 0);

  // It was the gap fetch that found them: the bot's timeline was limited, and nothing of the
  // gap was skipped.
  const fetched = st.sb.logLines(/gap of a limited timeline fetched: \d+ events/);
  assert.ok(fetched.length >= 1, 'the bot fetched a gap');
  const n = Number(fetched[0].match(/fetched: (\d+) events/)[1]);
  assert.ok(n >= CALLERS, `the gap held the ${CALLERS} invites: ${fetched[0]}`);
  assert.equal(st.sb.logLines(/earlier events were skipped|oldest events were skipped/).length, 0);
  assert.equal(st.sb.logLines(/joined conference/).length, CALLERS);
});
