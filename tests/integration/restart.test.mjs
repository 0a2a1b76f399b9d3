// ctest-timeout: 240
// Restarts around a running gateway. switchboard stopped with SIGTERM mid-call hangs the call up
// and exits 0; an invite sent while it is down and expired by the time it is back is not
// answered; sync resumes from the saved token, so nothing is handled twice; a new call works.
// Then the homeserver goes away and comes back on the same port while switchboard runs: the
// gateway says so, recovers by itself, and calls work again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callStage } from './lib/callstage.mjs';
import { startDevhs } from './lib/devhs.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { notices, sendInvite, roomEvents, waitForRoomEvent } from './lib/calls.mjs';
import { webrtcOffer } from './lib/sdp_samples.mjs';
import { waitFor } from './lib/wait.mjs';

let st;

before(async () => {
  st = await callStage(['alice', 'bob'], { hsState: true });
});

after(async () => {
  if (st) await st.stop();
});

const whoNotices = async (client) => (await notices(client, st.room, st.bot.userId))
  .filter((b) => b.startsWith('In this room\'s conference:') ||
                 b.startsWith('Nobody is in this room\'s conference'));

// One party calling the bot in the group room; resolves with its result once it is done.
async function callWorks(user, name, duration = 3) {
  const mx = await runMxcall(st.hs.url, [
    { user: user.userId, password: 'pw', call: st.room, invitee: st.bot.userId, tone: 440,
      duration },
  ], { dir: st.dir, name, timeoutS: 30 });
  try {
    const status = await mx.finished(60000);
    const res = mx.result(user.userId);
    assert.ok(res?.ok, `${name}: ${JSON.stringify(res)}\n${mx.proc.describe()}`);
    assert.equal(status.code, 0);
    return res;
  } finally {
    await mx.stop();
  }
}

test('switchboard restarted: calls hung up, expired invites ignored, nothing handled twice',
     async () => {
  const { users, bot, room, hs, dir } = st;
  const { alice, bob } = users;

  // A call up, and a command answered, before the stop.
  const mx = await runMxcall(hs.url, [
    { user: alice.userId, password: 'pw', call: room, invitee: bot.userId, tone: 440,
      duration: 0 },
  ], { dir, name: 'before-stop', timeoutS: 30 });
  await waitFor(() => mx.connected(alice.userId), 30000, { message: 'alice connected' });
  const oldCall = mx.events('connected')[0].call_id;
  await st.sb.waitForLog(new RegExp(`call=${oldCall}.*joined conference`));
  await alice.sendText(room, '!who');
  await waitFor(async () => (await whoNotices(alice)).length === 1, 10000,
                { message: 'the bot answers !who' });

  // SIGTERM: the call is hung up, the process exits 0.
  const status = await st.sb.stop();
  assert.deepEqual(status, { code: 0, signal: null });
  const hangup = await waitForRoomEvent(alice, room, { type: 'm.call.hangup', callId: oldCall });
  assert.equal(hangup.sender, bot.userId);
  assert.equal(hangup.content.reason, 'user_hangup');
  assert.ok(st.sb.logLines(/shutting down: hanging up 1 calls/).length === 1);
  await mx.finished(20000);
  assert.equal(mx.result(alice.userId).end, 'remote:user_hangup');

  // While it is down, bob rings it with an invite that expires before it is back.
  const lifetime = 3000;
  const staleCall = `stale-${Date.now()}`;
  const sentAt = Date.now();
  await sendInvite(bob, room, { callId: staleCall, sdp: webrtcOffer(), lifetime,
                                invitee: bot.userId });
  await new Promise((r) => setTimeout(r, Math.max(0, sentAt + lifetime + 500 - Date.now())));

  const before = {
    answers: (await roomEvents(alice, room, { type: 'm.call.answer', sender: bot.userId })).length,
    hangups: (await roomEvents(alice, room, { type: 'm.call.hangup', sender: bot.userId })).length,
  };
  await st.startSwitchboard('switchboard-2');
  await st.sb.waitForLog(/mx: resuming sync from the saved token/);
  const ignored = await st.sb.waitForLog(
    new RegExp(`call=${staleCall} sender=${bob.userId}\\] ignoring an expired invite`), 15000);
  assert.ok(ignored);

  // Once a new command is answered, everything before it has been handled.
  await alice.sendText(room, '!who');
  await waitFor(async () => (await whoNotices(alice)).length >= 2, 10000,
                { message: 'the restarted bot answers the new !who' });
  assert.equal((await whoNotices(alice)).length, 2, 'a !who was answered twice');
  assert.equal((await roomEvents(alice, room, { callId: staleCall, sender: bot.userId })).length,
               0, 'the bot acted on an invite that had expired');
  assert.equal((await roomEvents(alice, room, { type: 'm.call.answer', sender: bot.userId }))
    .length, before.answers, 'the restarted bot answered an old call');
  assert.equal((await roomEvents(alice, room, { type: 'm.call.hangup', sender: bot.userId }))
    .length, before.hangups, 'the restarted bot hung up an old call again');
  assert.equal(st.sb.logLines(new RegExp(`call=${oldCall}`)).length, 0,
               'the restarted bot acted on the old call\'s events');

  // And a new call works.
  await callWorks(bob, 'after-restart');
});

test('the homeserver goes away and comes back: switchboard recovers by itself', async () => {
  const { users, bot, room, dir } = st;
  const { alice, bob } = users;
  const port = st.hs.port;

  // A call running across the outage: media does not need the homeserver.
  const mx = await runMxcall(st.hs.url, [
    { user: alice.userId, password: 'pw', call: room, invitee: bot.userId, tone: 440,
      probes: [440], duration: 12 },
  ], { dir, name: 'across-outage', timeoutS: 30 });
  try {
    await waitFor(() => mx.connected(alice.userId), 30000, { message: 'alice connected' });
    const hsStatus = await st.hs.stop();
    assert.equal(hsStatus.code, 0, 'devhs saves its state and exits 0');
    await st.sb.waitForLog(/mx: homeserver unreachable/, 20000);
    const next = await startDevhs({ ...st.hs.options, port });
    st.hs.proc = next.proc;
    assert.equal(next.url, st.hs.url);
    await st.sb.waitForLog(/mx: homeserver reachable again/, 90000);

    const status = await mx.finished(60000);
    const res = mx.result(alice.userId);
    assert.ok(res?.ok, `the call across the outage: ${JSON.stringify(res)}`);
    assert.equal(status.code, 0);
  } finally {
    await mx.stop();
  }

  // Events and commands flow again, and a new call works.
  await bob.sendText(room, '!who');
  await waitFor(async () => (await whoNotices(bob)).length >= 3, 15000,
                { message: 'the bot answers !who after the outage' });
  await callWorks(bob, 'after-outage');
  assert.equal(st.sb.proc.exitStatus, null, 'switchboard kept running');
});
