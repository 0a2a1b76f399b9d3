// ctest-timeout: 180
// A phone calls a number routed to a Matrix user: the bot rings the user in a direct room with
// them (the phone hears 180 meanwhile), the user answers (200 to the phone) and the two hear each
// other, G.711 on the phone's side; the user hangs up and the phone gets our BYE. Then the other
// endings: the phone gives up while the user is being rung (CANCEL: the Matrix call is hung up
// too), the user declines (603 to the phone), is busy (hangs up with user_busy: 486) or does not
// answer before the invite's lifetime (480); and the phone hangs up a call the user answered
// (its BYE ends the Matrix call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage } from './lib/sipstage.mjs';
import { startPhone, wavTones } from './lib/baresip.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { invitedRoom, reject, sendHangup, waitForEvent } from './lib/calls.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { alice: 440, phone: 990 };
const PROBES = Object.values(TONE);
const PHONE = { user: '+15551003', password: 'phone-pw-1003' };

test('a phone rings a Matrix user: answer, hang up, CANCEL while ringing, decline, busy, no answer, BYE from the phone',
     async (t) => {
  const st = await sipStage(['alice', 'carol'], {
    phoneUsers: { [PHONE.user]: PHONE.password },
    routes: [{ number: '+15550101', user: '@alice:localhost' },
             { number: '+15550102', user: '@carol:localhost' }],
    calls: { inviteLifetimeMs: 6000 }, // no answer: 480 after 6 s
  });
  t.after(() => st.stop());
  const { hs, users, kam, sb, bot } = st;
  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: TONE.phone });
  t.after(() => phone.stop());

  // alice answers the first call she gets, for 12 s.
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', answer: true, tone: TONE.alice, probes: PROBES,
      duration: 12, windows: [[3, 10]] },
  ], { dir: st.dir, timeoutS: 40 });
  t.after(() => mx.stop());
  await mx.proc.waitForStderr(/mx: syncing as/, 15000);

  await phone.dial(`sip:+15550101@127.0.0.1:${kam.port}`);
  await sb.waitForLog(/ringing @alice:localhost on Matrix/, 10000);
  await phone.waitForEvent('CALL_RINGING', 20000);
  await phone.waitForEvent('CALL_ESTABLISHED', 20000);
  const tUp = Date.now();
  await sb.waitForLog(/joined conference sip-bridge:/, 5000);
  await waitFor(() => mx.connected(users.alice.userId), 10000, { message: 'alice connected' });

  // alice hangs up after her 12 s: the phone gets our BYE.
  const status = await mx.finished(40000);
  const r = mx.result(users.alice.userId);
  assert.ok(r?.ok, JSON.stringify(r));
  assert.equal(status.code, 0);
  await phone.waitForEvent('CALL_CLOSED', 10000);
  await kam.waitForEvent('request', (e) => e.method === 'BYE' &&
                                       e.src.endsWith(`:${st.sipPort}`), 5000);
  const w = r.windows[0];
  assert.ok(w.tones_db['990'] - w.tones_db['440'] >= 20 && w.tones_db['990'] - w.noise_db >= 20,
            `alice hears the phone: ${JSON.stringify(w)}`);
  const rec = phone.recordings();
  const pw = await wavTones(rec[rec.length - 1], PROBES, { from: 3, to: 9 });
  assert.equal(pw.rate, 8000, 'G.711 on the phone side');
  assert.ok(pw.tones_db['440'] - pw.tones_db['990'] >= 20 && pw.tones_db['440'] - pw.noise_db >= 20,
            `the phone hears alice: ${JSON.stringify(pw)}`);
  assert.ok(Date.now() - tUp > 5000);

  // carol, by hand: she joins the direct room the bot opens, and is rung there.
  const carol = users.carol;
  await carol.syncNext();
  await phone.dial(`sip:+15550102@127.0.0.1:${kam.port}`);
  const dm = await carol.syncUntil(invitedRoom, { timeoutMs: 15000 });
  await carol.join(dm);
  const invite1 = await waitForEvent(carol, dm, (e) => e.type === 'm.call.invite' &&
                                     e.sender === bot.userId, 15000);
  await waitFor(() => phone.events('CALL_RINGING').length >= 2, 10000,
                { message: 'the phone hears ringing' });
  // The phone gives up: the Matrix call is hung up too.
  await phone.hangup();
  await sb.waitForLog(/the caller gave up \(CANCEL\)/, 5000);
  await waitForEvent(carol, dm, (e) => e.type === 'm.call.hangup' &&
                     e.content.call_id === invite1.content.call_id, 15000);

  // carol declines: 603 to the phone.
  await phone.dial(`sip:+15550102@127.0.0.1:${kam.port}`);
  const invite2 = await waitForEvent(carol, dm, (e) => e.type === 'm.call.invite' &&
                                     e.content.call_id !== invite1.content.call_id, 15000);
  await reject(carol, dm, invite2);
  await waitFor(() => phone.events('CALL_CLOSED').some((e) => /603/.test(e.param)), 10000,
                { message: `the phone is told 603\n${phone.describe()}` });
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '603', 5000);

  // carol is busy (she hangs up the ring with user_busy): 486 to the phone.
  await phone.dial(`sip:+15550102@127.0.0.1:${kam.port}`);
  const invite3 = await waitForEvent(carol, dm, (e) => e.type === 'm.call.invite' &&
                                     e.content.call_id !== invite2.content.call_id, 15000);
  await sendHangup(carol, dm, invite3.content.call_id, { reason: 'user_busy' });
  await waitFor(() => phone.events('CALL_CLOSED').some((e) => /486/.test(e.param)), 10000,
                { message: `the phone is told 486\n${phone.describe()}` });
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '486', 5000);

  // carol does not answer: 480 to the phone once the invite's lifetime (6 s) is over, and the
  // Matrix call is hung up.
  const tRing = Date.now();
  await phone.dial(`sip:+15550102@127.0.0.1:${kam.port}`);
  const invite4 = await waitForEvent(carol, dm, (e) => e.type === 'm.call.invite' &&
                                     e.content.call_id !== invite3.content.call_id, 15000);
  await waitFor(() => phone.events('CALL_CLOSED').some((e) => /480/.test(e.param)), 15000,
                { message: `the phone is told 480\n${phone.describe()}` });
  assert.ok(Date.now() - tRing >= 5000, 'not before the invite expired');
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '480', 5000);
  await waitForEvent(carol, dm, (e) => e.type === 'm.call.hangup' &&
                     e.content.call_id === invite4.content.call_id, 10000);

  // alice answers again and stays; the phone hangs up: its BYE ends her call.
  const mx2 = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', answer: true, tone: TONE.alice, duration: 0 },
  ], { dir: st.dir, timeoutS: 40, name: 'mx2' });
  t.after(() => mx2.stop());
  await mx2.proc.waitForStderr(/mx: syncing as/, 15000);
  const closedBefore = phone.events('CALL_CLOSED').length;
  const upBefore = phone.events('CALL_ESTABLISHED').length;
  await phone.dial(`sip:+15550101@127.0.0.1:${kam.port}`);
  await waitFor(() => mx2.connected(users.alice.userId), 20000, { message: 'alice answers' });
  await waitFor(() => phone.events('CALL_ESTABLISHED').length > upBefore, 10000,
                { message: 'the phone is connected' });
  await phone.hangup();
  await sb.waitForLog(/number=\+15550101 .*the phone hung up \(BYE\)/, 10000);
  assert.equal((await mx2.finished(20000)).code, 0);
  const r2 = mx2.result(users.alice.userId);
  assert.ok(r2?.ok && /^remote/.test(r2.end), JSON.stringify(r2));
  await waitFor(() => phone.events('CALL_CLOSED').length > closedBefore, 5000);

  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
});
