// ctest-timeout: 240
// Bad input thrown at the bot while a real call runs. alice and bob talk through the bot in the
// group room (mxcall, tones); carol, a raw client, sends malformed and hostile m.call.* events
// into that room and into her direct room with the bot; mallory, who is not allowed, calls it;
// dave calls it with a DTLS fingerprint that does not match his certificate. Every one of them
// must get a clear log line naming the room, the call and the sender, a hangup or reject where
// the spec calls for one, and nothing else: alice and bob finish their call untouched. Last,
// --check-config on broken files prints FILE:LINE: lines and fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { callStage } from './lib/callstage.mjs';
import { binPath } from './lib/env.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { notices, directRoomWithBot, sendInvite, sendHangup, roomEvents,
         waitForRoomEvent } from './lib/calls.mjs';
import { MatrixError } from './lib/matrix.mjs';
import { webrtcOffer } from './lib/sdp_samples.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { alice: 440, bob: 550 };
const PROBES = Object.values(TONE);
const DURATION = 30;
// Seconds from connection: the whole call in four slices, each of which must carry the tone.
const WINDOWS = [[3, 9], [9, 15], [15, 21], [21, 28]];

let st;

before(async () => {
  st = await callStage(['alice', 'bob', 'carol', 'dave', 'mallory'], {
    inRoom: ['alice', 'bob', 'carol', 'mallory'],
    allowedUsers: ['@alice:localhost', '@bob:localhost', '@carol:localhost', '@dave:localhost'],
    // Unknown call ids and mDNS candidates are routine traffic, logged at debug.
    logLevel: 'debug',
  });
});

after(async () => {
  // A clean exit (under the sanitizers: no leak, no error report) after all of it.
  if (st) assert.deepEqual(await st.stop(), { code: 0, signal: null });
});

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// The log line for an event the bot turned down: names the room, the call and the sender.
function loggedFor(room, callId, sender, what) {
  const re = new RegExp(`room=${esc(room)} call=${esc(callId)} sender=${esc(sender)}\\] ` +
                        `.*${what}`);
  return st.sb.waitForLog(re, 10000);
}

// Resolves once the bot has handled everything sent to roomId so far (it answers a room's
// events in order).
async function botCaughtUp(client, roomId) {
  const before = (await notices(client, roomId, st.bot.userId)).length;
  await client.sendText(roomId, '!who');
  await waitFor(async () => (await notices(client, roomId, st.bot.userId)).length > before,
                15000, { message: `the bot answers !who in ${roomId}` });
}

const offerFor = (c) => ({ type: 'offer', sdp: c });

test('bad input never touches a running call', async () => {
  const { users, bot, room, hs, dir } = st;
  const { alice, bob, carol, dave, mallory } = users;
  const carolDm = await directRoomWithBot(carol, bot.userId);
  const daveDm = await directRoomWithBot(dave, bot.userId);

  const mx = await runMxcall(hs.url, [
    { user: alice.userId, password: 'pw', call: room, invitee: bot.userId, tone: TONE.alice,
      probes: PROBES, duration: DURATION, windows: WINDOWS },
    { user: bob.userId, password: 'pw', call: room, invitee: bot.userId, tone: TONE.bob,
      probes: PROBES, duration: DURATION, windows: WINDOWS },
  ], { dir, name: 'running', timeoutS: 30 });
  try {
    await waitFor(() => mx.connected(alice.userId) && mx.connected(bob.userId), 30000,
                  { message: 'alice and bob connected' });
    const callOf = (u) => mx.events('connected').find((e) => e.party === u.userId).call_id;
    const aliceCall = callOf(alice);
    const bobCall = callOf(bob);
    await st.sb.waitForLog(new RegExp(`call=${aliceCall}.*joined conference`), 10000);
    await st.sb.waitForLog(new RegExp(`call=${bobCall}.*joined conference`), 10000);

    // dave's DTLS fingerprint is a lie: runs beside everything else.
    const fake = await runMxcall(hs.url, [
      { user: dave.userId, password: 'pw', call: daveDm, tone: 660, duration: 5,
        corrupt_fingerprint: true },
    ], { dir, name: 'fingerprint', timeoutS: 15, slot: 2 });

    const sdp = webrtcOffer();
    const pid = carol.deviceId;

    // --- an encrypted event (a call from an E2EE client): the bot says once it cannot read it
    for (let i = 0; i < 2; i++) {
      await carol.send(carolDm, 'm.room.encrypted', {
        algorithm: 'm.megolm.v1.aes-sha2', sender_key: 'k', session_id: 's', device_id: pid,
        ciphertext: `opaque${i}` });
    }
    await st.sb.waitForLog(new RegExp(`room=${esc(carolDm)}\\] the room is end-to-end encrypted`),
                           10000);
    await botCaughtUp(carol, carolDm);
    assert.equal((await notices(carol, carolDm, bot.userId))
      .filter((b) => b.includes('end-to-end encrypted')).length, 1,
    'one notice about encryption, however many encrypted events');

    // --- malformed invites in the group room ---
    await carol.send(room, 'm.call.invite', { version: '1', party_id: pid, lifetime: 60000,
                                              offer: offerFor(sdp), invitee: bot.userId });
    await loggedFor(room, '?', carol.userId, 'malformed m.call.invite: .*call_id');

    await carol.send(room, 'm.call.invite', { call_id: 'bad-nooffer', version: '1',
                                              party_id: pid, lifetime: 60000,
                                              invitee: bot.userId });
    await loggedFor(room, 'bad-nooffer', carol.userId, 'malformed m.call.invite: .*offer');

    await carol.send(room, 'm.call.invite', { call_id: 'bad-types', version: '1', party_id: 42,
                                              lifetime: 'soon', offer: { type: 'offer', sdp: 7 },
                                              invitee: bot.userId });
    await loggedFor(room, 'bad-types', carol.userId, 'malformed m.call.invite');

    // An unknown version is read as "1", as the spec says: the bot answers it.
    await sendInvite(carol, room, { callId: 'bad-version', sdp, version: '2',
                                    invitee: bot.userId });
    await waitForRoomEvent(carol, room, { type: 'm.call.answer', sender: bot.userId,
                                          callId: 'bad-version' });

    // A 1 MB SDP does not get past the homeserver (64 KiB per event); the largest that does,
    // junk from the first line, is refused by the bot.
    await assert.rejects(sendInvite(carol, room, { callId: 'bad-huge', sdp: 'x'.repeat(1 << 20),
                                                   invitee: bot.userId }),
                         (e) => e instanceof MatrixError && e.status === 413);
    const junk = `v=0\r\n${'zz=junk junk junk junk junk junk junk junk\r\n'.repeat(1300)}`;
    await sendInvite(carol, room, { callId: 'bad-bigsdp', sdp: junk, invitee: bot.userId });
    await st.sb.waitForLog(new RegExp(`room=${esc(room)} call=bad-bigsdp peer=` +
                                      `${esc(carol.userId)}\\] cannot answer the offer`), 10000);

    await sendInvite(carol, room, { callId: 'bad-sdp', sdp: 'hello, I am not an SDP',
                                    invitee: bot.userId });
    await st.sb.waitForLog(new RegExp(`call=bad-sdp peer=${esc(carol.userId)}\\] cannot ` +
                                      'answer the offer'), 10000);

    // --- events for calls the bot does not have ---
    await carol.send(room, 'm.call.answer', { call_id: 'ghost-answer', version: '1',
                                              party_id: pid,
                                              answer: { type: 'answer', sdp } });
    await loggedFor(room, 'ghost-answer', carol.userId, 'm.call.answer for a call we do not have');
    await sendHangup(carol, room, 'ghost-hangup');
    await loggedFor(room, 'ghost-hangup', carol.userId, 'm.call.hangup for a call we do not have');
    await carol.send(room, 'm.call.candidates', { call_id: 'ghost-cands', version: '1',
                                                  party_id: pid, candidates: 'lots' });
    await loggedFor(room, 'ghost-cands', carol.userId, 'malformed m.call.candidates');

    // --- forged events for the running calls, from someone who is not in them ---
    await sendHangup(carol, room, aliceCall, { partyId: 'ALICEDEV' });
    await carol.send(room, 'm.call.candidates', {
      call_id: aliceCall, version: '1', party_id: 'ALICEDEV',
      candidates: [{ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 9 typ host',
                     sdpMid: '0', sdpMLineIndex: 0 }],
    });
    await carol.send(room, 'm.call.negotiate', {
      call_id: aliceCall, version: '1', party_id: 'ALICEDEV', lifetime: 10000,
      description: { type: 'offer', sdp: webrtcOffer({ dir: 'inactive' }) },
    });
    await carol.send(room, 'm.call.select_answer', { call_id: bobCall, version: '1',
                                                     party_id: 'BOBDEV',
                                                     selected_party_id: 'ELSEWHERE' });
    for (const [call, type] of [[aliceCall, 'm.call.hangup'], [aliceCall, 'm.call.candidates'],
                                [aliceCall, 'm.call.negotiate'],
                                [bobCall, 'm.call.select_answer']]) {
      await st.sb.waitForLog(new RegExp(`call=${call} peer=@\\w+:localhost\\] ignoring ${type} ` +
                                        `from ${esc(carol.userId)}, who is not in this call`),
                             10000);
    }

    // --- a caller who is not allowed ---
    await sendInvite(mallory, room, { callId: 'mallory-call', sdp, invitee: bot.userId });
    await loggedFor(room, 'mallory-call', mallory.userId,
                    `rejecting a call from ${esc(mallory.userId)}, who is not allowed`);

    // --- in carol's direct room: a call of hers, then garbage for it ---
    const carolCall = `carol-${Date.now()}`;
    await sendInvite(carol, carolDm, { callId: carolCall, sdp });
    await waitForRoomEvent(carol, carolDm, { type: 'm.call.answer', callId: carolCall });
    const cand = (candidate) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 });
    await carol.send(carolDm, 'm.call.candidates', {
      call_id: carolCall, version: '1', party_id: pid,
      candidates: [
        cand('candidate:1 1 udp 2122260223 5c2f6a30-1c1d-4c1e-9a5e-1f2d3c4b5a69.local 54321 typ host'),
        cand('candidate:2 1 udp 2122260223 127.0.0.1 99999 typ host'),
        cand('candidate:3 1 udp 2122260223 127.0.0.1 -5 typ host'),
        cand('candidate:garbage'),
        cand('not a candidate at all'),
      ],
    });
    const ctx = `room=${esc(carolDm)} call=${carolCall} peer=${esc(carol.userId)}\\]`;
    await st.sb.waitForLog(new RegExp(`${ctx} webrtc: skipping mDNS candidate`), 10000);
    for (const bad of ['candidate:2 1 udp 2122260223 127.0.0.1 99999',
                       'candidate:3 1 udp 2122260223 127.0.0.1 -5', 'candidate:garbage',
                       'not a candidate at all']) {
      await st.sb.waitForLog(new RegExp(`${ctx} ignoring a malformed candidate: ${esc(bad)}`),
                             10000);
    }
    await carol.send(carolDm, 'm.call.candidates', {
      call_id: carolCall, version: '1', party_id: pid,
      candidates: [cand(`candidate:4 1 udp 1 127.0.0.1 5000 typ host ${'x'.repeat(2000)}`)],
    });
    await loggedFor(carolDm, carolCall, carol.userId, 'malformed m.call.candidates');
    await carol.send(carolDm, 'm.call.candidates', {
      call_id: carolCall, version: '1', party_id: pid,
      candidates: Array.from({ length: 100 }, (_, i) =>
        cand(`candidate:${i} 1 udp 1 127.0.0.1 ${5000 + i} typ host`)),
    });
    await loggedFor(carolDm, carolCall, carol.userId, 'malformed m.call.candidates: too many');
    await carol.send(carolDm, 'm.call.negotiate', {
      call_id: carolCall, version: '1', party_id: pid, lifetime: 10000,
      description: { type: 'pranswer', sdp },
    });
    await loggedFor(carolDm, carolCall, carol.userId, 'malformed m.call.negotiate');
    const longId = 'L'.repeat(300);
    await sendInvite(carol, carolDm, { callId: longId, sdp });
    await loggedFor(carolDm, 'L'.repeat(64), carol.userId, 'malformed m.call.invite');
    await sendHangup(carol, carolDm, carolCall);
    await st.sb.waitForLog(new RegExp(`${ctx} call ended by peer \\(user_hangup\\)`), 10000);

    // Everything sent so far has been handled: now what the bot said in reply.
    await botCaughtUp(carol, room);
    await botCaughtUp(carol, carolDm);
    const fromBot = async (roomId, callId) => (await roomEvents(carol, roomId,
                                                                { callId, sender: bot.userId }))
      .map((e) => `${e.type}${e.content.reason ? `:${e.content.reason}` : ''}`);
    // Malformed invites plainly for the bot from someone allowed: refused with a hangup (the
    // unknown version was answered); the others and the unknown calls: not a word.
    assert.deepEqual(await fromBot(room, 'bad-nooffer'), ['m.call.hangup:unknown_error']);
    assert.deepEqual(await fromBot(room, 'bad-types'), ['m.call.hangup:unknown_error']);
    assert.equal((await fromBot(room, 'bad-version'))[0], 'm.call.answer');
    assert.deepEqual(await fromBot(room, 'bad-bigsdp'), ['m.call.hangup:unknown_error']);
    assert.deepEqual(await fromBot(room, 'bad-sdp'), ['m.call.hangup:unknown_error']);
    assert.deepEqual(await fromBot(room, 'mallory-call'), ['m.call.reject']);
    for (const id of ['ghost-answer', 'ghost-hangup', 'ghost-cands', 'bad-huge'])
      assert.deepEqual(await fromBot(room, id), [], id);
    assert.deepEqual(await fromBot(carolDm, longId), []);
    assert.deepEqual(await fromBot(carolDm, carolCall), ['m.call.answer']);
    // The forged events changed nothing of the running calls.
    for (const call of [aliceCall, bobCall]) {
      assert.deepEqual((await fromBot(room, call)).filter((t) => t !== 'm.call.answer' &&
                                                          t !== 'm.call.candidates'), []);
    }
    assert.equal(st.sb.logLines(new RegExp(`call=${aliceCall}.*peer held the call`)).length, 0);

    // dave's call fails the bot's DTLS check and ends; dave never connects. Who hangs up first
    // is a race both ways are right about: the bot on its failed check (ice_failed), or dave on
    // the alert the bot's DTLS sent him (then the bot has nothing to send).
    await fake.finished(30000);
    const daveRes = fake.result(dave.userId);
    assert.ok(!daveRes.ok && !daveRes.connected, JSON.stringify(daveRes));
    const daveCall = fake.events('calling')[0].call_id;
    const daveCtx = `room=${esc(daveDm)} call=${daveCall} peer=${esc(dave.userId)}\\]`;
    await st.sb.waitForLog(new RegExp(`${daveCtx} webrtc: fingerprint failure`), 10000);
    const end = await st.sb.waitForLog(new RegExp(`${daveCtx} call ended by (us|peer)`), 10000);
    const byUs = end[1] === 'us';
    const daveHangup = await waitForRoomEvent(dave, daveDm, {
      type: 'm.call.hangup', callId: daveCall, sender: byUs ? bot.userId : dave.userId });
    if (byUs) {
      assert.equal(daveHangup.content.reason, 'ice_failed');
      assert.ok(st.sb.logLines(new RegExp(`${daveCtx} media failed \\(fingerprint\\)`)).length);
    }

    // The running call carried on, whole: its full duration, the other's tone in every slice,
    // a packet stream without holes.
    const status = await mx.finished(60000);
    if (process.env.SB_TEST_VERBOSE) console.log(JSON.stringify(mx.events('result'), null, 1));
    for (const [u, other] of [[alice, TONE.bob], [bob, TONE.alice]]) {
      const r = mx.result(u.userId);
      assert.ok(r?.ok && r.end === 'duration', `${u.userId}: ${JSON.stringify(r)}`);
      const frames = DURATION * 50;
      assert.ok(r.frames_heard >= frames * 0.98 && r.frames_heard <= frames * 1.02,
                `${u.userId} heard ${r.frames_heard} frames in a ${DURATION} s call`);
      assert.ok(r.packets_received >= frames * 0.97,
                `${u.userId} received ${r.packets_received} packets in a ${DURATION} s call`);
      // Concealment spread over the call comes from scheduling on a loaded machine; a hole in
      // the stream would show as lost packets and as a window without the tone.
      assert.ok(r.packets_lost <= frames * 0.01, `${u.userId}: ${r.packets_lost} packets lost`);
      assert.ok(r.frames_concealed <= frames * 0.05,
                `${u.userId}: ${r.frames_concealed} frames concealed`);
      r.windows.forEach((w, i) => {
        const lvl = w.tones_db[String(other)];
        assert.ok(w.blocks >= (WINDOWS[i][1] - WINDOWS[i][0]) * 50 - 1 && lvl - w.noise_db >= 20,
                  `${u.userId}, ${WINDOWS[i]} s: ${other} Hz at ${lvl.toFixed(1)} dB, noise ` +
                  `${w.noise_db.toFixed(1)} dB, ${w.blocks} blocks`);
      });
    }
    assert.equal(status.code, 0);
  } finally {
    await mx.stop();
  }
});

test('--check-config: broken files give FILE:LINE: lines and a failure', () => {
  const { dir } = st;
  const head = ['matrix:', '  homeserver: "http://127.0.0.1:8008"', '  user_id: "@bot:localhost"',
                '  access_token: "tok"', '  allowed_users: ["@*:localhost"]'];
  // Each file with the problems it must be told about: [line, what the message says].
  const files = {
    'unknown-key.yaml': [[...head, '  colour: blue', 'state_dir: "./state"', 'media:',
                          '  ip: "127.0.0.1"', '  port_min: "20000"'],
                         [[6, /colour/], [10, /port_min.*integer/]]],
    'syntax.yaml': [[...head, 'state_dir: "./state"', 'media:', '  ip: [127.0.0.1', ''],
                    [[null, /YAML/]]],
    'missing.yaml': [[...head.slice(0, 3), 'media:', '  port_min: 30000', '  port_max: 20000'],
                     [[null, /state_dir/], [4, /'ip'/], [6, /port_min .* port_max/]]],
    'twice.yaml': [[...head, 'state_dir: "./state"', 'state_dir: "./other"', 'media:',
                    '  ip: "127.0.0.1"', 'log_level: loud'],
                   [[7, /duplicate key 'state_dir'/], [10, /log_level/]]],
  };
  for (const [name, [lines, expected]] of Object.entries(files)) {
    const file = path.join(dir, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = spawnSync(binPath('daemon/switchboard'), ['--check-config', file],
                        { encoding: 'utf8', timeout: 10000 });
    const out = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
    assert.notEqual(r.status, 0, `${name}: exit ${r.status}\n${out.join('\n')}`);
    const located = out.map((l) => l.match(new RegExp(`^${esc(file)}:(\\d+): (\\S.*)$`)))
      .filter(Boolean);
    for (const [line, what] of expected) {
      assert.ok(located.some((m) => (line === null || Number(m[1]) === line) && what.test(m[2])),
                `${name}: no line ${line ?? 'N'} about ${what} in\n${out.join('\n')}`);
    }
    if (process.env.SB_TEST_VERBOSE) console.log(out.join('\n'));
  }
});
