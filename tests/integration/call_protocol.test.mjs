// ctest-timeout: 300
// The Matrix VoIP protocol's corner cases against switchboard, with mxcall parties (real media)
// and a raw test client (events by hand): hold and resume by m.call.negotiate, glare, !hangup,
// the bot's unanswered ring, a peer that vanishes mid-call, invites without invitee, and
// version 0 invites. One stage for the whole file: alice, bob and carol in a group room with
// the bot (four members), a short invite lifetime and a short media timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callStage } from './lib/callstage.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { callCommandRing, notices, directRoomWithBot, sendInvite, sendHangup, roomEvents,
         waitForRoomEvent } from './lib/calls.mjs';
import { webrtcOffer } from './lib/sdp_samples.mjs';
import { waitFor } from './lib/wait.mjs';

const LIFETIME_MS = 4000;
const MEDIA_TIMEOUT_S = 3;
const TONE = { alice: 440, bob: 550, carol: 660 };
const PROBES = Object.values(TONE);

let st;
let carolDm; // carol's direct room with the bot, made by the glare test

before(async () => {
  st = await callStage(['alice', 'bob', 'carol'], {
    calls: { inviteLifetimeMs: LIFETIME_MS },
    media: { timeoutS: MEDIA_TIMEOUT_S },
  });
});

after(async () => {
  if (st) {
    const status = await st.stop();
    assert.equal(status?.code, 0, 'switchboard exits 0 on SIGTERM');
  }
});

const level = (win, hz) => win.tones_db[String(hz)];

function assertHears(win, hz, what) {
  assert.ok(win && win.blocks > 50, `${what}: too little audio analysed (${win?.blocks} blocks)`);
  assert.ok(level(win, hz) - win.noise_db >= 20,
            `${what}: ${hz} Hz at ${level(win, hz).toFixed(1)} dB is not 20 dB above the noise ` +
            `floor at ${win.noise_db.toFixed(1)} dB (${JSON.stringify(win.tones_db)})`);
}

test('hold and resume by m.call.negotiate: the held party leaves the mix and comes back',
     async () => {
  const { users, bot, room, hs, dir } = st;
  // Seconds from each party's connection. alice holds the bot (a=sendonly) from 8 s to 16 s:
  // bob hears her before and after, not in between; she is not dropped meanwhile.
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.alice, probes: PROBES, duration: 24, hold_at: 8, resume_at: 16,
      windows: [[2.5, 6.5], [18.5, 23]] },
    { user: users.bob.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.bob, probes: PROBES, duration: 24,
      windows: [[2.5, 6.5], [10, 14.5], [18.5, 23]] },
  ], { dir, name: 'hold', timeoutS: 30 });
  try {
    // While alice holds: the bot says so, and !who shows it.
    await waitFor(() => mx.events('hold').some((e) => e.held && !e.error), 30000,
                  { message: 'alice puts the bot on hold' });
    await st.sb.waitForLog(new RegExp(`peer=${users.alice.userId}.*peer held the call`), 10000);
    await users.bob.sendText(room, '!who');
    await waitFor(async () => (await notices(users.bob, room, bot.userId))
      .some((b) => b.includes(`${users.alice.userId} (on hold)`) && b.includes(users.bob.userId)),
    10000, { message: '!who shows alice on hold' });
    await st.sb.waitForLog(new RegExp(`peer=${users.alice.userId}.*peer resumed the call`),
                           20000);

    const status = await mx.finished(60000);
    if (process.env.SB_TEST_VERBOSE) console.log(JSON.stringify(mx.events('result'), null, 1));
    const r = (u) => mx.result(users[u].userId);
    for (const u of ['alice', 'bob']) {
      assert.ok(r(u)?.ok, `${u} did not complete the call: ${JSON.stringify(r(u))}`);
      assert.equal(r(u).end, 'duration', `${u} was dropped: ${r(u).end}`);
    }
    assert.equal(status.code, 0);

    // The windows only mean something if the two connected at about the same time.
    const t = (u) => mx.events('connected').find((e) => e.party === users[u].userId).t_ms;
    assert.ok(Math.abs(t('alice') - t('bob')) < 1500,
              `alice and bob connected ${Math.abs(t('alice') - t('bob'))} ms apart`);
    const holds = mx.events('hold');
    assert.deepEqual(holds.map((e) => [e.held, e.error]), [[true, ''], [false, '']]);

    const [before, during, afterResume] = r('bob').windows;
    assertHears(before, TONE.alice, 'bob before the hold');
    assertHears(afterResume, TONE.alice, 'bob after the resume');
    assert.ok(level(during, TONE.alice) < level(before, TONE.alice) - 30,
              `bob still hears alice while she is on hold: ${JSON.stringify(during.tones_db)} ` +
              `(before: ${JSON.stringify(before.tones_db)})`);
    assert.ok(level(during, TONE.alice) - during.noise_db < 10,
              `alice's tone stands out of the noise while held: ${JSON.stringify(during)}`);
    // alice hears bob again once she resumed.
    assertHears(r('alice').windows[0], TONE.bob, 'alice before the hold');
    assertHears(r('alice').windows[1], TONE.bob, 'alice after the resume');

    // The bot answered both renegotiations (sendonly -> recvonly, then sendrecv).
    const negs = await roomEvents(users.bob, room, { type: 'm.call.negotiate' });
    const offers = negs.filter((e) => e.sender === users.alice.userId);
    const answers = negs.filter((e) => e.sender === bot.userId);
    assert.equal(offers.length, 2, JSON.stringify(offers.map((e) => e.content.description.type)));
    assert.match(offers[0].content.description.sdp, /a=sendonly/);
    assert.match(offers[1].content.description.sdp, /a=sendrecv/);
    assert.equal(answers.length, 2);
    assert.match(answers[0].content.description.sdp, /a=recvonly/);
    assert.match(answers[1].content.description.sdp, /a=sendrecv/);
    for (const a of answers) assert.equal(a.content.description.type, 'answer');
  } finally {
    await mx.stop();
  }
});

// One glare round in carol's direct room: her mxcall says "!call" (the bot rings her) and
// calls the bot at the same moment. Returns what happened.
async function glareRound(round) {
  const { users, bot, hs, dir } = st;
  const carol = users.carol;
  const t0 = Date.now();
  const mx = await runMxcall(hs.url, [
    { user: carol.userId, password: 'pw', call: carolDm, say: '!call', tone: TONE.carol,
      probes: PROBES, duration: 6 },
  ], { dir, name: `glare${round}`, timeoutS: 20 });
  try {
    await waitFor(() => mx.connected(carol.userId), 20000,
                  { message: `round ${round}: carol connected` });
    // While connected: the bot has exactly one call with her.
    await carol.sendText(carolDm, '!who');
    const who = await waitFor(async () => (await notices(carol, carolDm, bot.userId))
      .filter((b) => b.startsWith('In this room\'s conference:')).slice(-1)[0], 10000,
    { message: `round ${round}: !who answers` });
    assert.equal(who.split(carol.userId).length - 1, 1, `round ${round}: ${who}`);
    const status = await mx.finished(30000);
    const res = mx.result(carol.userId);
    assert.ok(res?.ok, `round ${round}: carol's call failed: ${JSON.stringify(res)}`);
    assert.equal(status.code, 0);
    return { t0, mx, res };
  } finally {
    await mx.stop();
  }
}

test('glare: the bot rings while the user calls it; one call survives, no ghost', async () => {
  const { users, bot } = st;
  const carol = users.carol;
  carolDm = await directRoomWithBot(carol, bot.userId);

  for (let round = 1; round <= 2; round++) {
    const { t0, mx, res } = await glareRound(round);
    const invites = (await roomEvents(carol, carolDm, { type: 'm.call.invite' }))
      .filter((e) => e.origin_server_ts >= t0 - 1000);
    const ours = mx.events('calling')[0].call_id;
    const oursSent = invites.some((e) => e.content.call_id === ours);
    const botInvite = invites.find((e) => e.sender === bot.userId);
    let outcome;
    if (oursSent && botInvite) {
      // Both invites went out: both sides keep the lower call_id; the loser is never answered
      // and its owner hangs it up as replaced.
      outcome = 'both invites out';
      const theirs = botInvite.content.call_id;
      const winner = [ours, theirs].sort()[0];
      const loser = winner === ours ? theirs : ours;
      assert.equal(res.call_id, winner, `round ${round}: the lower call_id ${winner} wins`);
      const hangup = await waitForRoomEvent(carol, carolDm,
                                            { type: 'm.call.hangup', callId: loser }, 10000);
      assert.equal(hangup.sender, loser === ours ? carol.userId : bot.userId);
      assert.equal(hangup.content.reason, 'replaced');
      const answers = await roomEvents(carol, carolDm, { type: 'm.call.answer', callId: loser });
      assert.equal(answers.length, 0, `round ${round}: the losing call ${loser} was answered`);
    } else if (oursSent && st.sb.logLines(new RegExp(`call=${ours} .*glare:`)).length === 0) {
      // Her invite reached the bot before her "!call" did (they travel in different send
      // queues): no glare at all, the bot answered and declined to ring her a second time.
      outcome = 'no glare: the invite came first';
      assert.equal(res.call_id, ours);
      await waitFor(async () => (await notices(carol, carolDm, bot.userId))
        .some((b) => b.includes('you already have a call')), 10000,
      { message: 'the bot declines !call during a call' });
    } else if (oursSent) {
      // The bot's ring was still being prepared: it gave way before its invite left.
      outcome = 'the bot gave way';
      assert.equal(res.call_id, ours);
      assert.ok(st.sb.logLines(new RegExp(`call=${ours} .*glare: their call wins over our .* ` +
                                          'not sent yet')).length === 1);
    } else {
      // carol's call was still being prepared when the bot's invite came: hers gave way.
      outcome = 'carol gave way';
      assert.ok(botInvite, `round ${round}: no invite at all`);
      assert.equal(res.call_id, botInvite.content.call_id);
      assert.deepEqual(mx.events('glare').map((e) => e.kept), ['theirs']);
    }
    console.log(`# glare round ${round}: ${outcome}`);
    // No ghost: nothing of the bot's rings on until its lifetime runs out and hangs up as
    // invite_timeout. Wait past the lifetime of anything it sent in this round.
    const lastInvite = Math.max(...invites.map((e) => e.origin_server_ts));
    const wait = lastInvite + LIFETIME_MS + 1500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const timeouts = (await roomEvents(carol, carolDm, { type: 'm.call.hangup', sender: bot.userId }))
      .filter((e) => e.content.reason === 'invite_timeout');
    assert.equal(timeouts.length, 0, `round ${round}: a ghost call timed out`);
  }
  const connected = st.sb.logLines(new RegExp(`room=${carolDm}.*call connected`));
  assert.equal(connected.length, 2, connected.join('\n'));
});

// Rings carol in her direct room with "!call" and returns the bot's invite (the first after
// the command in the room's order).
async function botRingsCarol() {
  const { users, bot } = st;
  const cmd = await users.carol.sendText(carolDm, '!call');
  return waitFor(async () => {
    const events = await roomEvents(users.carol, carolDm);
    const after = events.slice(events.findIndex((e) => e.event_id === cmd) + 1);
    return after.find((e) => e.type === 'm.call.invite' && e.sender === bot.userId);
  }, 10000, { message: 'the bot rings carol' });
}

// Resolves once the bot has handled everything carol sent to her direct room so far.
async function botCaughtUp() {
  const { users, bot } = st;
  const before = (await notices(users.carol, carolDm, bot.userId)).length;
  await users.carol.sendText(carolDm, '!who');
  await waitFor(async () => (await notices(users.carol, carolDm, bot.userId)).length > before,
                10000, { message: 'the bot answers !who' });
}

test('glare with both invites out: the bot keeps the lower call_id, on either side', async () => {
  const { users, bot } = st;
  const carol = users.carol;
  assert.ok(carolDm, 'the glare test made the direct room');

  // Carol's invite sorts first: the bot hangs its own up as replaced and answers hers.
  const ring1 = await botRingsCarol();
  const lower = `0000glare${Date.now()}`;
  assert.ok(lower < ring1.content.call_id);
  await sendInvite(carol, carolDm, { callId: lower, sdp: webrtcOffer() });
  const replaced = await waitForRoomEvent(carol, carolDm,
                                          { type: 'm.call.hangup', callId: ring1.content.call_id });
  assert.equal(replaced.sender, bot.userId);
  assert.equal(replaced.content.reason, 'replaced');
  const answer = await waitForRoomEvent(carol, carolDm, { type: 'm.call.answer', callId: lower });
  assert.equal(answer.sender, bot.userId);
  await sendHangup(carol, carolDm, lower);
  await st.sb.waitForLog(new RegExp(`call=${lower}.*call ended by peer`));

  // The bot's invite sorts first: it keeps ringing and leaves carol's call to her (her side
  // gives way and hangs it up); it neither answers nor hangs up a call that is not its own.
  const ring2 = await botRingsCarol();
  const higher = `zzzzglare${Date.now()}`;
  await sendInvite(carol, carolDm, { callId: higher, sdp: webrtcOffer() });
  await botCaughtUp();
  const onLoser = await roomEvents(carol, carolDm, { callId: higher, sender: bot.userId });
  assert.equal(onLoser.length, 0, `the bot acted on the losing call: ${JSON.stringify(onLoser)}`);
  assert.equal((await roomEvents(carol, carolDm, { callId: ring2.content.call_id,
                                                  type: 'm.call.hangup' })).length, 0,
               'the bot gave up its winning call');
  assert.ok(st.sb.logLines(new RegExp(`call=${higher}.*glare: our call ${ring2.content.call_id} ` +
                                      'wins')).length === 1);
  await sendHangup(carol, carolDm, higher, { reason: 'replaced' });
  await carol.send(carolDm, 'm.call.reject', { call_id: ring2.content.call_id,
                                                party_id: carol.deviceId, version: '1' });
  await st.sb.waitForLog(new RegExp(`call=${ring2.content.call_id}.*call ended by peer ` +
                                    '\\(rejected\\)'));
});

test('!hangup ends the caller\'s call with an m.call.hangup', async () => {
  const { users, bot, room, hs, dir } = st;
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.alice, duration: 0 },
  ], { dir, name: 'hangupcmd', timeoutS: 20 });
  try {
    await waitFor(() => mx.connected(users.alice.userId), 20000, { message: 'alice connected' });
    const callId = mx.events('connected')[0].call_id;
    await users.alice.sendText(room, '!hangup');
    const hangup = await waitForRoomEvent(users.alice, room,
                                          { type: 'm.call.hangup', callId }, 10000);
    assert.equal(hangup.sender, bot.userId);
    assert.equal(hangup.content.reason, 'user_hangup');
    await waitFor(async () => (await notices(users.alice, room, bot.userId))
      .some((b) => b === `Hung up 1 call of ${users.alice.userId}.`), 10000,
    { message: 'the bot confirms !hangup' });
    const status = await mx.finished(20000);
    const res = mx.result(users.alice.userId);
    assert.ok(res.ok, JSON.stringify(res));
    assert.equal(res.end, 'remote:user_hangup');
    assert.equal(status.code, 0);
  } finally {
    await mx.stop();
  }
});

test('the bot\'s ring nobody answers ends with invite_timeout after the lifetime', async () => {
  const { users, bot, room } = st;
  const { room: dm, invite } = await callCommandRing(users.bob, room, bot.userId);
  assert.equal(invite.content.lifetime, LIFETIME_MS);
  assert.equal(invite.content.invitee, users.bob.userId);
  const hangup = await waitForRoomEvent(users.bob, dm,
                                        { type: 'm.call.hangup', callId: invite.content.call_id },
                                        LIFETIME_MS + 10000);
  assert.equal(hangup.sender, bot.userId);
  assert.equal(hangup.content.reason, 'invite_timeout');
  const rang = hangup.origin_server_ts - invite.origin_server_ts;
  assert.ok(rang >= LIFETIME_MS - 100 && rang < LIFETIME_MS + 5000,
            `the ring lasted ${rang} ms for a lifetime of ${LIFETIME_MS} ms`);
});

test('a peer that vanishes mid-call is hung up with ice_timeout after the media timeout',
     async () => {
  const { users, bot, room, hs, dir } = st;
  const mx = await runMxcall(hs.url, [
    { user: users.bob.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.bob, duration: 0 },
  ], { dir, name: 'vanish', timeoutS: 20 });
  await waitFor(() => mx.connected(users.bob.userId), 20000, { message: 'bob connected' });
  const callId = mx.events('connected')[0].call_id;
  await st.sb.waitForLog(new RegExp(`call=${callId}.*joined conference`), 10000);
  const killed = Date.now();
  await mx.proc.stop({ signal: 'SIGKILL' });
  const hangup = await waitForRoomEvent(users.alice, room, { type: 'm.call.hangup', callId },
                                        MEDIA_TIMEOUT_S * 1000 + 15000);
  const took = Date.now() - killed;
  assert.equal(hangup.sender, bot.userId);
  assert.equal(hangup.content.reason, 'ice_timeout');
  assert.ok(took >= MEDIA_TIMEOUT_S * 1000 - 200, `hung up ${took} ms after the peer vanished`);
  assert.ok(st.sb.logLines(new RegExp(`call=${callId}.*no media from the peer`)).length === 1,
            st.sb.logLines(new RegExp(`call=${callId}`)).join('\n'));
});

test('an invite without invitee: ignored in a group room of four, answered in a direct room',
     async () => {
  const { users, bot, room } = st;
  const carol = users.carol;
  const groupCall = `noinvitee-group-${Date.now()}`;
  await sendInvite(carol, room, { callId: groupCall, sdp: webrtcOffer() });
  // The bot handles a room's events in order: once it answered this !who, it has seen the
  // invite before it.
  const whoCount = (await notices(carol, room, bot.userId)).length;
  await carol.sendText(room, '!who');
  await waitFor(async () => (await notices(carol, room, bot.userId)).length > whoCount, 10000,
                { message: 'the bot answers !who' });
  assert.equal((await roomEvents(carol, room, { callId: groupCall, sender: bot.userId })).length,
               0, 'the bot answered an invite meant for anyone in a group room');

  const dmCall = `noinvitee-dm-${Date.now()}`;
  await sendInvite(carol, carolDm, { callId: dmCall, sdp: webrtcOffer() });
  const answer = await waitForRoomEvent(carol, carolDm, { type: 'm.call.answer', callId: dmCall });
  assert.equal(answer.sender, bot.userId);
  assert.equal(answer.content.version, '1');
  assert.match(answer.content.answer.sdp, /^v=0/);
  await sendHangup(carol, carolDm, dmCall);
  await st.sb.waitForLog(new RegExp(`call=${dmCall}.*call ended by peer \\(user_hangup\\)`));
});

test('a version 0 invite (integer version, no party_id) is answered', async () => {
  const { users, bot } = st;
  const carol = users.carol;
  const callId = `v0-${Date.now()}`;
  await sendInvite(carol, carolDm, { callId, sdp: webrtcOffer(), version: 0, lifetime: 30000 });
  const answer = await waitForRoomEvent(carol, carolDm, { type: 'm.call.answer', callId });
  assert.equal(answer.sender, bot.userId);
  assert.equal(answer.content.answer.type, 'answer');
  await st.sb.waitForLog(new RegExp(`call=${callId}.*answering \\(version 0, party -\\)`));
  await sendHangup(carol, carolDm, callId, { version: 0 });
  await st.sb.waitForLog(new RegExp(`call=${callId}.*call ended by peer \\(no reason\\)`));
  assert.equal((await roomEvents(carol, carolDm, { type: 'm.call.hangup', callId,
                                                  sender: bot.userId })).length, 0);
});
