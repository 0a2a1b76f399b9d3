// ctest-timeout: 240
// Three Matrix users of one group room reach its conference by the three ways in: a call to the
// bot in the group room (alice), a call to the bot in her linked direct room (bob), and "!call"
// answered when the bot rings (carol). Each sends its own tone and must hear the other two at
// least 20 dB above its own tone and above the noise floor; then carol hangs up and alice and bob
// still hear each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupRoomStage } from './lib/scenario.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { callCommandRing, reject, notices } from './lib/calls.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { alice: 440, bob: 550, carol: 660 };
const PROBES = Object.values(TONE);

export function assertHears(win, own, others, what) {
  assert.ok(win && win.blocks > 50, `${what}: too little audio analysed (${win?.blocks} blocks)`);
  const level = (hz) => win.tones_db[String(hz)];
  for (const hz of others) {
    assert.ok(level(hz) - level(own) >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above its own ` +
              `${own} Hz at ${level(own).toFixed(1)} dB`);
    assert.ok(level(hz) - win.noise_db >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above the noise ` +
              `floor at ${win.noise_db.toFixed(1)} dB`);
  }
}

test('three parties meet in the group room conference by the three ways in', async (t) => {
  const st = await groupRoomStage(['alice', 'bob', 'carol']);
  t.after(() => st.stop());
  const { hs, bot, users, room } = st;

  // bob's direct room linked to the group room: from an earlier "!call" whose ring he declined.
  const { room: bobDm, invite } = await callCommandRing(users.bob, room, bot.userId);
  assert.equal(invite.content.invitee, users.bob.userId, 'the bot sets invitee when it rings');
  await reject(users.bob, bobDm, invite);
  await st.sb.waitForLog(/call ended by peer \(rejected\)/);

  // Windows (seconds from each party's connection): all three in the room, then carol gone.
  const both = [[4, 11], [17, 24]];
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.alice, probes: PROBES, duration: 26, windows: both },
    { user: users.bob.userId, password: 'pw', call: bobDm,
      tone: TONE.bob, probes: PROBES, duration: 26, windows: both },
    { user: users.carol.userId, password: 'pw', answer: true, say: '!call', say_room: room,
      tone: TONE.carol, probes: PROBES, duration: 13, windows: [[3, 10]] },
  ], { dir: st.dir, timeoutS: 40 });
  t.after(() => mx.stop());

  // While all three are in: !who lists them.
  await waitFor(() => ['alice', 'bob', 'carol'].every((u) => mx.connected(users[u].userId)),
                30000, { message: 'all three parties connected' });
  await users.alice.sendText(room, '!who');
  await waitFor(async () => (await notices(users.alice, room, bot.userId))
    .some((b) => b.startsWith('In this room\'s conference:') &&
                 ['alice', 'bob', 'carol'].every((u) => b.includes(users[u].userId))),
  10000, { message: '!who lists the three of them' });

  const status = await mx.finished(90000);
  if (process.env.SB_TEST_VERBOSE) console.log(JSON.stringify(mx.events('result'), null, 1));
  const r = (u) => mx.result(users[u].userId);
  for (const u of ['alice', 'bob', 'carol'])
    assert.ok(r(u)?.ok, `${u} did not complete its call: ${JSON.stringify(r(u))}`);
  assert.equal(status.code, 0);

  // All three present: everyone hears the two others, never itself.
  assertHears(r('alice').windows[0], TONE.alice, [TONE.bob, TONE.carol], 'alice, all in');
  assertHears(r('bob').windows[0], TONE.bob, [TONE.alice, TONE.carol], 'bob, all in');
  assertHears(r('carol').windows[0], TONE.carol, [TONE.alice, TONE.bob], 'carol, all in');
  // carol gone: alice and bob still hear each other, and carol's tone is gone.
  assertHears(r('alice').windows[1], TONE.alice, [TONE.bob], 'alice, after carol left');
  assertHears(r('bob').windows[1], TONE.bob, [TONE.alice], 'bob, after carol left');
  for (const u of ['alice', 'bob']) {
    const w = r(u).windows[1];
    assert.ok(w.tones_db[String(TONE.carol)] < w.tones_db[String(TONE[u === 'alice' ? 'bob' : 'alice'])] - 30,
              `${u} still hears carol after she hung up: ${JSON.stringify(w.tones_db)}`);
  }

  // Each call went to the group room's conference, whichever room it was placed in.
  const conf = st.sb.logLines(/joined conference/);
  assert.equal(conf.length, 3, conf.join('\n'));
  for (const line of conf) assert.ok(line.includes(`joined conference ${room}`), line);
});
