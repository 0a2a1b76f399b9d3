// ctest-timeout: 240
// A phone joins a Matrix room's conference through a real trunk. switchboard registers to
// kamailio with digest auth (checked in kamailio's location table); a baresip phone, registered
// there too, dials the room's number; kamailio challenges both INVITEs (407), routes the call to
// switchboard's registration; the phone and two Matrix participants (mxcall) each send their own
// tone and all hear each other at least 20 dB above their own tone and the noise floor (the
// phone's side from its recording, through tools/wavtones). Then the phone holds (its re-INVITE
// says sendonly, our 200 says recvonly, the room stops hearing it) and resumes; it hangs up
// (BYE from the phone); it calls again and switchboard's shutdown hangs up (BYE from us).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage, ROOM_NUMBER } from './lib/sipstage.mjs';
import { startPhone, wavTones } from './lib/baresip.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { waitFor } from './lib/wait.mjs';

// Far apart: a loaded machine's glitches (concealment, skipped 20 ms ticks) put sidebands at
// multiples of 50 Hz around each tone, which at 110 Hz spacing landed on the listener's own.
const TONE = { alice: 440, bob: 750, phone: 1100 };
const PROBES = Object.values(TONE);
const PHONE = { user: '+15551001', password: 'phone-pw-1001' };

function assertHears(win, own, others, what) {
  assert.ok(win && win.blocks > 50, `${what}: too little audio analysed (${win?.blocks} blocks)`);
  const level = (hz) => win.tones_db[String(hz)];
  for (const hz of others) {
    assert.ok(level(hz) - level(own) >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above its own ` +
              `${own} Hz at ${level(own).toFixed(1)} dB (${JSON.stringify(win)})`);
    assert.ok(level(hz) - win.noise_db >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above the noise ` +
              `floor at ${win.noise_db.toFixed(1)} dB (${JSON.stringify(win)})`);
  }
}

// Muted: hz is 30 dB below where it was when heard (window before). Not against another tone:
// the phone's tone reaches the Matrix parties ~10 dB over theirs, and codec cross-talk leaves
// every tone, even a listener's own, some 45-50 dB down.
function assertSilent(win, hz, before, what) {
  const level = (w) => w.tones_db[String(hz)];
  assert.ok(level(win) < level(before) - 30,
            `${what}: ${hz} Hz still heard at ${level(win).toFixed(1)} dB ` +
            `(${level(before).toFixed(1)} dB when heard)`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a phone dials a room through kamailio: everyone hears everyone; hold, resume, BYE',
     async (t) => {
  const st = await sipStage(['alice', 'bob'], { phoneUsers: { [PHONE.user]: PHONE.password } });
  t.after(() => st.stop());
  const { hs, users, room, kam, sb } = st;

  // Registered with digest auth, as kamailio's own location table says.
  const contacts = await kam.contacts('switchboard');
  assert.ok(contacts.some((c) => c.includes(`127.0.0.1:${st.sipPort}`)),
            `kamailio holds switchboard's contact: ${JSON.stringify(contacts)}`);
  assert.ok(kam.events('registered').some((e) => e.user === 'switchboard'));

  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: TONE.phone });
  t.after(() => phone.stop());

  // The phone calls first; the two Matrix participants join the conference while it is in.
  await phone.dial(`sip:${ROOM_NUMBER}@127.0.0.1:${kam.port}`);
  await phone.waitForEvent('CALL_ESTABLISHED', 15000);
  const tPhone = Date.now();
  await sb.waitForLog(new RegExp(`joined conference ${room.replace(/[!$.]/g, '\\$&')}`), 5000);
  // Both INVITEs were challenged and answered, and the call went through kamailio to us.
  const invites = kam.events('request').filter((e) => e.method === 'INVITE');
  assert.ok(invites.some((e) => e.ruri.includes(`127.0.0.1:${st.sipPort}`) === false &&
                                e.ruri.startsWith(`sip:${ROOM_NUMBER}@`)), JSON.stringify(invites));
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '200', 5000);

  // Windows from each party's connection: all in; the phone on hold; resumed.
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', call: room, invitee: st.bot.userId,
      tone: TONE.alice, probes: PROBES, duration: 27, windows: [[4, 10], [15, 19], [23, 26]] },
    { user: users.bob.userId, password: 'pw', call: room, invitee: st.bot.userId,
      tone: TONE.bob, probes: PROBES, duration: 27, windows: [[4, 10], [15, 19], [23, 26]] },
  ], { dir: st.dir, timeoutS: 40 });
  t.after(() => mx.stop());
  await waitFor(() => mx.connected(users.alice.userId) && mx.connected(users.bob.userId), 30000,
                { message: 'both Matrix parties connected' });
  const tMatrix = Date.now();

  // Hold at +12 s, resume at +20.5 s (Matrix time).
  await sleep(Math.max(0, tMatrix + 12000 - Date.now()));
  await phone.hold();
  const held = await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '200' &&
                                      e.dir !== 'sendrecv', 5000);
  assert.ok(held.dir === 'recvonly' || held.dir === 'inactive',
            `our 200 to the hold carries recvonly or inactive, not ${held.dir}`);
  await kam.waitForEvent('request', (e) => e.method === 'INVITE' &&
                                       (e.dir === 'sendonly' || e.dir === 'inactive'), 5000);
  await sb.waitForLog(/the phone held the call/, 5000);
  await sleep(Math.max(0, tMatrix + 20500 - Date.now()));
  await phone.resume();
  await sb.waitForLog(/the phone resumed the call/, 5000);

  const status = await mx.finished(60000);
  const r = (u) => mx.result(users[u].userId);
  for (const u of ['alice', 'bob'])
    assert.ok(r(u)?.ok, `${u} did not complete its call: ${JSON.stringify(r(u))}`);
  assert.equal(status.code, 0);
  assertHears(r('alice').windows[0], TONE.alice, [TONE.bob, TONE.phone], 'alice, all in');
  assertHears(r('bob').windows[0], TONE.bob, [TONE.alice, TONE.phone], 'bob, all in');
  // On hold the phone is muted in the mix; the two still hear each other.
  assertSilent(r('alice').windows[1], TONE.phone, r('alice').windows[0], 'alice, phone on hold');
  assertSilent(r('bob').windows[1], TONE.phone, r('bob').windows[0], 'bob, phone on hold');
  assertHears(r('alice').windows[1], TONE.alice, [TONE.bob], 'alice, phone on hold');
  // Resumed: heard again.
  assertHears(r('alice').windows[2], TONE.alice, [TONE.bob, TONE.phone], 'alice, resumed');
  assertHears(r('bob').windows[2], TONE.bob, [TONE.alice, TONE.phone], 'bob, resumed');

  // BYE from the phone.
  await phone.hangup();
  await phone.waitForEvent('CALL_CLOSED', 10000);
  await sb.waitForLog(/the phone hung up \(BYE\)/, 5000);
  await sb.waitForLog(/call ended by the phone/, 5000);
  await kam.waitForEvent('request', (e) => e.method === 'BYE' &&
                                          !e.src.endsWith(`:${st.sipPort}`), 5000);

  // What the phone heard while all three were in: both Matrix tones, not its own.
  const rec = phone.recordings();
  assert.ok(rec.length >= 1, 'the phone recorded the call');
  const from = (tMatrix - tPhone) / 1000 + 4;
  const win = await wavTones(rec[rec.length - 1], PROBES, { from, to: from + 6 });
  assertHears({ ...win, blocks: win.blocks }, TONE.phone, [TONE.alice, TONE.bob], 'the phone');

  // BYE from switchboard: the phone calls again, switchboard shuts down.
  await phone.dial(`sip:${ROOM_NUMBER}@127.0.0.1:${kam.port}`);
  await waitFor(() => phone.events('CALL_ESTABLISHED').length >= 2, 15000,
                { message: 'the second call is up' });
  const byes = kam.events('request').filter((e) => e.method === 'BYE').length;
  const exit = await sb.stop();
  assert.equal(exit.code, 0, 'switchboard exits 0 after hanging up');
  await waitFor(() => phone.events('CALL_CLOSED').length >= 2, 10000,
                { message: 'the phone sees our BYE' });
  // kamailio's log may come in after the phone saw the BYE.
  await waitFor(() => kam.events('request').filter((e) => e.method === 'BYE').slice(byes)
    .some((e) => e.src.endsWith(`:${st.sipPort}`)), 5000, { message: 'kamailio relays our BYE' });
  // And un-REGISTERed on the way out.
  await waitFor(async () => (await kam.contacts('switchboard')).length === 0, 5000,
                { message: 'switchboard unregistered' });
});
