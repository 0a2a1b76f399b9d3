// ctest-timeout: 150
// DTMF both ways between a phone and a Matrix user in a room's conference, each detected at the
// far end. A baresip phone dials the room's number through kamailio; alice (mxcall) calls the
// bot in the room. alice keys "159#" (RFC 4733 in her WebRTC leg, relayed by the conference to
// the phone's RTP leg at 8 kHz): the phone reports each digit once, in order (CALL_DTMF_START).
// The phone keys "37*#" (baresip's sndcode, RFC 4733): alice reports each once, in order, and
// switchboard's log names each digit and who sent it. Then a third caller (SIPp) sends its
// digits by SIP INFO (application/dtmf-relay "4", application/dtmf "2"): both others get them;
// a malformed INFO gets 400 and one that is not DTMF 415, and the call carries on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage, ROOM_NUMBER } from './lib/sipstage.mjs';
import { startPhone } from './lib/baresip.mjs';
import { runMxcall } from './lib/mxcall.mjs';
import { startSipp } from './lib/sipp.mjs';
import { waitFor } from './lib/wait.mjs';

const PHONE = { user: '+15551004', password: 'phone-pw-1004' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('DTMF both ways between a phone and a Matrix user; SIP INFO DTMF', async (t) => {
  const st = await sipStage(['alice'], { phoneUsers: { [PHONE.user]: PHONE.password } });
  t.after(() => st.stop());
  const { hs, users, room, kam, sb, bot } = st;
  const alice = users.alice.userId;
  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: 700 });
  t.after(() => phone.stop());

  await phone.dial(`sip:${ROOM_NUMBER}@127.0.0.1:${kam.port}`);
  await phone.waitForEvent('CALL_ESTABLISHED', 15000);
  await sb.waitForLog(/number=\+15550100 .*joined conference/, 5000);

  // alice keys her digits 2 s after connecting; she stays until the test is done with her.
  const mx = await runMxcall(hs.url, [
    { user: alice, password: 'pw', call: room, invitee: bot.userId, tone: 440, duration: 0,
      dtmf: [[2, '159#']], dtmf_ms: 120 },
  ], { dir: st.dir, timeoutS: 30 });
  t.after(() => mx.stop());
  await waitFor(() => mx.connected(alice), 20000, { message: 'alice connected' });

  // Matrix -> phone.
  await waitFor(() => phone.dtmfReceived().length >= 4, 10000,
                { message: `the phone gets alice's digits\n${phone.describe()}` });
  assert.equal(mx.events('dtmf_sent')[0]?.error, '', JSON.stringify(mx.events('dtmf_sent')));
  await sleep(500); // a digit sent twice would show by now
  assert.equal(phone.dtmfReceived(), '159#', phone.describe());
  await sb.waitForLog(/dtmf '#' \(\d+ ms\) from @alice:localhost in conf=/, 5000);

  // Phone -> Matrix.
  await phone.sendDigits('37*#');
  const heard = () => mx.events('dtmf').filter((e) => e.party === alice).map((e) => e.digit)
    .join('');
  await waitFor(() => heard().length >= 4, 10000,
                { message: `alice gets the phone's digits: "${heard()}"\n${mx.proc.describe()}` });
  await sleep(500);
  assert.equal(heard(), '37*#', JSON.stringify(mx.events('dtmf')));
  for (const d of ['3', '7', '\\*', '#']) {
    await sb.waitForLog(new RegExp(`dtmf '${d}' \\(\\d+ ms\\) from \\+15551004 \\(phone\\) in ` +
                                   'conf=!'), 5000);
  }
  assert.equal(phone.dtmfReceived(), '159#', 'the phone does not hear its own digits');

  // SIP INFO from a third caller, straight to switchboard (127.0.0.1 is an allowed source).
  const sipp = await startSipp({ dir: st.dir, scenario: 'info_dtmf.xml',
                                 target: `127.0.0.1:${st.sipPort}`, service: ROOM_NUMBER,
                                 timeoutS: 30, name: 'info' });
  t.after(() => sipp.stop());
  const done = await sipp.finished(40000);
  assert.equal(done.code, 0, sipp.describe());
  assert.deepEqual(sipp.logs().filter((l) => l.startsWith('INFO')),
                   ['INFO dtmf-relay 200', 'INFO dtmf 200', 'INFO malformed 400', 'INFO text 415'],
                   sipp.describe());
  await waitFor(() => heard().length >= 6 && phone.dtmfReceived().length >= 6, 10000,
                { message: `the INFO digits reach alice ("${heard()}") and the phone ` +
                           `("${phone.dtmfReceived()}")` });
  await sleep(500);
  assert.equal(heard(), '37*#42');
  assert.equal(phone.dtmfReceived(), '159#42');
  const fromInfo = mx.events('dtmf').find((e) => e.digit === '4');
  assert.ok(fromInfo.duration_ms >= 150 && fromInfo.duration_ms <= 250,
            `the INFO's duration carried over: ${JSON.stringify(fromInfo)}`);
  await sb.waitForLog(/malformed DTMF in an INFO \(application\/dtmf-relay, \d+ bytes\): 400/);
  await sb.waitForLog(/INFO with a text\/plain body: not DTMF, 415/);

  // alice and the phone are still in the call; alice hangs up.
  assert.ok(mx.proc.running && phone.events('CALL_CLOSED').length === 0);
  await mx.stop();
  const r = mx.result(alice);
  assert.equal(r?.dtmf_received, '37*#42', JSON.stringify(r));
  assert.equal(r?.dtmf_sent, 4);
  await phone.hangup();
  await phone.waitForEvent('CALL_CLOSED', 10000);
  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
});
