// ctest-timeout: 240
// A Matrix user dials a phone into the room's conference: "!dial NUMBER" sends an INVITE through
// kamailio (which challenges it: 407, answered with the trunk's credentials) to a baresip phone;
// the room hears "ringing" and "answered" as notices; the phone and the Matrix participant hear
// each other; "!hangup NUMBER" ends it (BYE from switchboard). Then the outcomes a caller meets:
// busy (486), no answer (CANCEL after ring_timeout), a number outside allowed_numbers and a user
// outside allowed_users (a notice each, and kamailio sees no INVITE).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage } from './lib/sipstage.mjs';
import { startPhone, wavTones } from './lib/baresip.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { notices } from './lib/calls.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { alice: 440, phone: 880 };
const PROBES = Object.values(TONE);
const PHONE = { user: '+15551002', password: 'phone-pw-1002' };

test('!dial rings a phone into the room; busy, no answer and refusals', async (t) => {
  const st = await sipStage(['alice', 'bob'], {
    phoneUsers: { [PHONE.user]: PHONE.password },
    sip: { allowedUsers: ['@alice:localhost'], allowedNumbers: ['+1555100?'], ringTimeoutS: 5 },
  });
  t.after(() => st.stop());
  const { hs, users, room, kam, sb, bot } = st;
  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: TONE.phone });
  t.after(() => phone.stop());

  let seen = 0; // notices already looked at
  const nextNotice = async (re, what, timeoutMs = 15000) => waitFor(async () => {
    const all = await notices(users.alice, room, bot.userId);
    const i = all.findIndex((b, k) => k >= seen && re.test(b));
    if (i < 0) return null;
    seen = i + 1;
    return all[i];
  }, timeoutMs, { message: `a notice ${re} (${what})`, maxIntervalMs: 250 });
  const invitesTo = (number) => kam.events('request')
    .filter((e) => e.method === 'INVITE' && e.ruri.startsWith(`sip:${number}@`));

  // alice in the room's conference, her tone 440 Hz.
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', call: room, invitee: bot.userId,
      tone: TONE.alice, probes: PROBES, duration: 16, windows: [[8, 13]] },
  ], { dir: st.dir, timeoutS: 30 });
  t.after(() => mx.stop());
  await waitFor(() => mx.connected(users.alice.userId), 20000, { message: 'alice connected' });
  const tAlice = Date.now();

  // !dial: ringing, answered, in the conference.
  await users.alice.sendText(room, `!dial ${PHONE.user}`);
  await nextNotice(/^Dialling \+15551002/, 'dialling');
  await phone.waitForEvent('CALL_INCOMING', 10000);
  await nextNotice(/^\+15551002 is ringing/, 'ringing');
  await phone.accept();
  await phone.waitForEvent('CALL_ESTABLISHED', 10000);
  const tPhone = Date.now();
  await nextNotice(/^\+15551002 answered/, 'answered');
  await sb.waitForLog(/to=\+15551002 .*joined conference/);
  // kamailio challenged our INVITE and we answered: the same call came twice from us.
  const ours = invitesTo(PHONE.user).filter((e) => e.src.endsWith(`:${st.sipPort}`));
  assert.ok(ours.length >= 2 && ours.every((e) => e.callid === ours[0].callid),
            `an INVITE and its authenticated retry: ${JSON.stringify(ours)}`);
  assert.ok(ours[0].from.includes('+15550199'), `From: the trunk's from_user: ${ours[0].from}`);

  // Both hear each other (alice's window is from her connection: the phone is in by then).
  const st1 = await mx.finished(40000);
  const r = mx.result(users.alice.userId);
  assert.ok(r?.ok, JSON.stringify(r));
  assert.equal(st1.code, 0);
  const w = r.windows[0];
  assert.ok(w.tones_db['880'] - w.tones_db['440'] >= 20 && w.tones_db['880'] - w.noise_db >= 20,
            `alice hears the phone: ${JSON.stringify(w)}`);

  // !hangup NUMBER: BYE from us.
  await users.alice.sendText(room, `!hangup ${PHONE.user}`);
  await phone.waitForEvent('CALL_CLOSED', 10000);
  await nextNotice(/^The call with \+15551002 ended: hung up from Matrix/, 'hung up');
  await kam.waitForEvent('request', (e) => e.method === 'BYE' &&
                                       e.src.endsWith(`:${st.sipPort}`), 5000);
  const rec = phone.recordings();
  assert.ok(rec.length >= 1, 'the phone recorded the call');
  const from = Math.max(1, (tAlice + 8000 - tPhone) / 1000);
  const pw = await wavTones(rec[rec.length - 1], PROBES, { from, to: from + 4 });
  assert.ok(pw.tones_db['440'] - pw.tones_db['880'] >= 20 && pw.tones_db['440'] - pw.noise_db >= 20,
            `the phone hears alice: ${JSON.stringify(pw)}`);

  // Busy: the phone turns the call down (baresip answers 486).
  await users.alice.sendText(room, `!dial ${PHONE.user}`);
  await waitFor(() => phone.events('CALL_INCOMING').length >= 2, 10000, { message: 'rings again' });
  await phone.hangup();
  await nextNotice(/^\+15551002 is busy/, 'busy');

  // No answer: cancelled after ring_timeout (5 s).
  await users.alice.sendText(room, `!dial ${PHONE.user}`);
  await waitFor(() => phone.events('CALL_INCOMING').length >= 3, 10000, { message: 'rings again' });
  const tRing = Date.now();
  await nextNotice(/^\+15551002 did not answer/, 'no answer', 15000);
  assert.ok(Date.now() - tRing >= 4000, 'not before the ring timeout');
  await waitFor(() => phone.events('CALL_CLOSED').length >= 3, 5000, { message: 'cancelled' });
  await kam.waitForEvent('request', (e) => e.method === 'CANCEL', 5000);

  // Refusals: nothing reaches the trunk.
  const before = kam.events('request').filter((e) => e.method === 'INVITE').length;
  await users.alice.sendText(room, '!dial +15552000');
  await nextNotice(/^Not dialling \+15552000: \+15552000 is not a number calls may go to/,
                   'number not allowed');
  await users.bob.sendText(room, `!dial ${PHONE.user}`);
  await nextNotice(/^Not dialling \+15551002: @bob:localhost may not place phone calls/,
                   'user not allowed');
  await users.alice.sendText(room, '!sip status');
  const status = await nextNotice(/^SIP trunks:/, 'status');
  assert.match(status, /kamailio: registered \(expires in \d+ s\)/);
  assert.match(status, /SIP calls: 0/);
  assert.equal(kam.events('request').filter((e) => e.method === 'INVITE').length, before,
               'kamailio saw no INVITE for the refused dials');
  assert.equal(invitesTo('+15552000').length, 0);
  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
});
