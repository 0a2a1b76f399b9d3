// ctest-timeout: 180
// The Matrix user of a bridged call holds it and resumes it (m.call.negotiate), and the phone is
// told: switchboard re-INVITEs it with a=sendonly, then a=sendrecv.
//
//  - A baresip phone through kamailio calls alice (mxcall), who holds 5 s in and resumes at 10 s:
//    both re-INVITEs pass kamailio to the phone, which answers recvonly, then sendrecv; alice
//    hears the phone before the hold and after the resume; the phone's recording has alice
//    until the hold. (baresip 1.0.0 stops recording there for good: any re-INVITE that is not
//    sendrecv makes it reset its receive chain and drop its recording filter.)
//  - So what a held phone hears is measured on a phone whose media is the test's own RTP
//    endpoint (SIPp signalling, lib/rtpphone.mjs): bob's tone before the hold, silence while he
//    holds, his tone again after the resume; bob hears the phone before and after.
//  - A phone that makes it hard (SIPp) calls carol: it answers our hold with 491 (glare), which we
//    retry after at most 2 s (the phone owns the Call-ID), and our resume with 488, which leaves
//    the call up until carol hangs up. Called again, it answers the resume with 500 (no
//    Retry-After): this sofia-sip ends the call on that (RFC 5057's graceful termination), and
//    the log says so rather than blaming a session timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sipStage } from './lib/sipstage.mjs';
import { startPhone, wavTones } from './lib/baresip.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { startRtpPhone } from './lib/rtpphone.mjs';
import { startSipp } from './lib/sipp.mjs';
import { waitFor } from './lib/wait.mjs';

const PHONE = { user: '+15551005', password: 'phone-pw-1005' };

function assertHears(w, hz, other, what) {
  assert.ok(w.tones_db[hz] - w.noise_db >= 20 && w.tones_db[hz] - w.tones_db[other] >= 20,
            `${what}: ${JSON.stringify(w)}`);
}

test('the Matrix user holds and resumes: the phone is re-INVITEd; glare and a refusal',
     async (t) => {
  const st = await sipStage(['alice', 'bob', 'carol'], {
    phoneUsers: { [PHONE.user]: PHONE.password },
    routes: [{ number: '+15550101', user: '@alice:localhost' },
             { number: '+15550102', user: '@bob:localhost' },
             { number: '+15550103', user: '@carol:localhost' }],
    media: { timeoutS: 600 },
  });
  t.after(() => st.stop());
  const { hs, users, kam, sb } = st;
  const target = `127.0.0.1:${st.sipPort}`;
  // When the gateway logged something about the call to number (ms, the test's clock).
  const logTime = async (number, what) => {
    const re = new RegExp(`number=\\${number} [^\\]]*\\] ${what}`);
    return Date.parse((await sb.waitForLog(re, 5000)).input.split(' ')[0]);
  };

  // ---- baresip: the re-INVITEs through the trunk ----
  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: 990 });
  t.after(() => phone.stop());
  const mx = await runMxcall(hs.url, [
    { user: users.alice.userId, password: 'pw', answer: true, tone: 440, probes: [440, 990],
      duration: 15, hold_at: 5, resume_at: 10, windows: [[1.5, 4.5], [11.5, 14.5]] },
  ], { dir: st.dir, timeoutS: 40 });
  t.after(() => mx.stop());
  await mx.proc.waitForStderr(/mx: syncing as/, 15000);

  await phone.dial(`sip:+15550101@127.0.0.1:${kam.port}`);
  await phone.waitForEvent('CALL_ESTABLISHED', 20000);
  await waitFor(() => mx.connected(users.alice.userId), 10000, { message: 'alice connected' });

  const ours = (e) => e.method === 'INVITE' && e.src.endsWith(`:${st.sipPort}`);
  const hold = await kam.waitForEvent('request', (e) => ours(e) && e.dir === 'sendonly', 10000);
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '200' &&
                         e.callid === hold.callid && e.dir === 'recvonly', 5000);
  await sb.waitForLog(/number=\+15550101 .*@alice:localhost held the call/, 5000);
  await sb.waitForLog(/number=\+15550101 .*holding the phone: re-INVITE with a=sendonly/, 5000);
  await sb.waitForLog(/number=\+15550101 .*the phone accepted the hold \(we only send\)/, 5000);
  await kam.waitForEvent('request', (e) => ours(e) && e.dir === 'sendrecv', 10000);
  await kam.waitForEvent('reply', (e) => e.method === 'INVITE' && e.status === '200' &&
                         e.callid === hold.callid && e.dir === 'sendrecv', 5000);
  await sb.waitForLog(/number=\+15550101 .*the phone accepted the resume \(we send and receive\)/,
                      5000);

  const status = await mx.finished(30000);
  const r = mx.result(users.alice.userId);
  assert.ok(r?.ok, JSON.stringify(r));
  assert.equal(status.code, 0);
  assert.deepEqual(mx.events('hold').map((e) => [e.held, e.error]), [[true, ''], [false, '']]);
  await phone.waitForEvent('CALL_CLOSED', 10000);
  assertHears(r.windows[0], '990', '440', 'alice hears the phone before the hold');
  assertHears(r.windows[1], '990', '440', 'alice hears the phone after the resume');
  // The phone's recording starts when our 200 reaches it (alice had answered by then); the
  // window ends before the gateway muted her for the hold, whenever that was.
  const [tAnswered1, tHeld1] = [await logTime('+15550101', 'answered$'),
                                await logTime('+15550101', '@alice:localhost held the call')];
  const rec = phone.recordings();
  const before = await wavTones(rec[rec.length - 1], [440, 990],
                                { from: 1.5, to: (tHeld1 - tAnswered1) / 1000 - 0.5 });
  assert.equal(before.rate, 8000);
  assertHears(before, '440', '990', 'the phone hears alice before the hold');

  // ---- what a held phone hears: SIPp + the test's RTP endpoint calling bob ----
  const media = await startRtpPhone({ toneHz: 660 });
  t.after(() => media.stop());
  const mx2 = await runMxcall(hs.url, [
    { user: users.bob.userId, password: 'pw', answer: true, tone: 550, probes: [550, 660],
      duration: 14, hold_at: 4, resume_at: 9, windows: [[1, 3.5], [10.5, 13.5]] },
  ], { dir: st.dir, timeoutS: 40, name: 'mx2' });
  t.after(() => mx2.stop());
  await mx2.proc.waitForStderr(/mx: syncing as/, 15000);
  const accept = await startSipp({ dir: st.dir, scenario: 'hold_accept.xml', target,
                                   service: '+15550102', timeoutS: 60, name: 'accept',
                                   keys: { rtp_port: String(media.port) } });
  t.after(() => accept.stop());
  await waitFor(() => mx2.connected(users.bob.userId), 20000, { message: 'bob connected' });
  assert.equal((await accept.finished(40000)).code, 0, accept.describe());
  assert.deepEqual(accept.logs().filter((l) => /^(REINVITE|BYE)/.test(l)),
                   ['REINVITE hold 200', 'REINVITE resume 200', 'BYE'], accept.describe());
  const r2 = mx2.result(users.bob.userId);
  assert.ok(r2?.ok, JSON.stringify(r2));
  assertHears(r2.windows[0], '660', '550', 'bob hears the phone before the hold');
  assertHears(r2.windows[1], '660', '550', 'bob hears the phone after the resume');
  // The held phone's windows come from when the gateway did things (its log's clock is the
  // test's), not from fixed offsets: on a loaded machine the Matrix side's hold and resume reach
  // the gateway late, and a window that straddles one proves nothing.
  const when = (what) => logTime('+15550102', what);
  const [tAnswered, tHeld, tResumed, tHungUp] = [
    await when('answered$'), await when('@bob:localhost held the call'),
    await when('@bob:localhost resumed the call'), await when('@bob:localhost hung up'),
  ];
  const wav = media.writeWav(path.join(st.dir, 'held-phone.wav'));
  const win = async (from, to, what) => {
    assert.ok(to - from >= 1000, `${what}: the window is too short to measure ` +
              `(${JSON.stringify({ tAnswered, tHeld, tResumed, tHungUp })})`);
    return wavTones(wav, [550, 660], { from: media.at(from), to: media.at(to) });
  };
  const pre = await win(tAnswered + 1000, tHeld - 300, 'before the hold');
  const during = await win(tHeld + 500, tResumed - 300, 'while held');
  const post = await win(tResumed + 1500, tHungUp - 300, 'after the resume');
  assertHears(pre, '550', '660', 'the phone hears bob before the hold');
  assertHears(post, '550', '660', 'the phone hears bob after the resume');
  assert.ok(during.tones_db['550'] <= pre.tones_db['550'] - 30,
            `the phone hears nothing while held: ${JSON.stringify({ pre, during })}`);
  assert.ok(media.received > 500, `the phone got the gateway's RTP all along (${media.received})`);

  // ---- glare and refusals: SIPp calling carol ----
  // First the phone refuses our resume with 488: the request fails, the call goes on until carol
  // hangs up. Then with 500 and no Retry-After, which this sofia-sip ends the call on (RFC 5057
  // lets it): the log says why, and carol's call ends with it.
  const glareRun = async (n, status) => {
    const mxg = await runMxcall(hs.url, [
      { user: users.carol.userId, password: 'pw', answer: true, tone: 550, duration: 12,
        hold_at: 2, resume_at: 6 },
    ], { dir: st.dir, timeoutS: 40, name: `mx-glare${n}` });
    t.after(() => mxg.stop());
    await mxg.proc.waitForStderr(/mx: syncing as/, 15000);
    const glare = await startSipp({ dir: st.dir, scenario: 'hold_glare.xml', target,
                                    service: '+15550103', timeoutS: 60, name: `glare${n}`,
                                    args: ['-set', 'resume_status', String(status)] });
    t.after(() => glare.stop());
    assert.equal((await glare.finished(70000)).code, 0, glare.describe());
    assert.deepEqual(glare.logs().filter((l) => /^(REINVITE|BYE)/.test(l)),
                     ['REINVITE hold 491', 'REINVITE hold 200', `REINVITE resume ${status}`, 'BYE'],
                     glare.describe());
    await mxg.finished(30000);
    return mxg.result(users.carol.userId);
  };

  const r3 = await glareRun(1, 488);
  const retry = await sb.waitForLog(/our re-INVITE \(hold\) crossed one of the phone's \(491\): again in (\d+) ms/);
  assert.ok(Number(retry[1]) <= 2000, `the retry waits at most 2 s: ${retry[0]}`);
  await sb.waitForLog(/the phone refused our re-INVITE \(resume\): 488 Not Acceptable Here; the call goes on as it was/);
  // carol stayed her 12 s and hung up herself: the refusal did not end the call.
  assert.ok(r3?.ok && r3.end === 'duration', JSON.stringify(r3));
  await sb.waitForLog(/number=\+15550103 .*@carol:localhost hung up/, 5000);

  const r4 = await glareRun(2, 500);
  await sb.waitForLog(/the phone refused our re-INVITE \(resume\): 500 Server Internal Error; the SIP stack ends the call on that \(RFC 5057\)/);
  await sb.waitForLog(/number=\+15550103 .*call ended by us: 500 Server Internal Error/, 5000);
  assert.ok(r4?.connected && r4.end !== 'duration', `carol's call ended with the SIP leg: ${JSON.stringify(r4)}`);
  assert.deepEqual(sb.logLines(/session expired without a refresh/), [],
                   'the refusal is not taken for a session timeout');

  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
});
