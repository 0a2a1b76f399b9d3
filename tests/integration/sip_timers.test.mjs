// ctest-timeout: 200
// Calls whose far end vanished are ended by switchboard, both ways it can tell: the RFC 4028
// session timer (the caller asked to refresh every 90 s and never does: BYE before the
// interval runs out, with sofia's Reason "Session timeout") and the RTP timeout (a caller that
// sends no media: BYE after media_timeout_s, Reason "RTP timeout"). SIPp plays the caller
// that goes silent; the two run side by side on two gateways to keep the test short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage, ROOM_NUMBER } from './lib/sipstage.mjs';
import { startSipp } from './lib/sipp.mjs';
import { waitFor } from './lib/wait.mjs';

async function vanishingCaller(st, expires, name) {
  const run = await startSipp({ dir: st.dir, scenario: 'answered_then_silent.xml',
                                target: `127.0.0.1:${st.sipPort}`, service: ROOM_NUMBER,
                                keys: { expires: String(expires) }, timeoutS: 150, name });
  await waitFor(() => run.logs().some((l) => l.startsWith('ANSWERED')), 10000,
                { message: `${name}: answered\n${run.describe()}` });
  return { run, answeredAt: Date.now() };
}

test('session timer and RTP timeout end calls whose peer vanished', async (t) => {
  const [timer, rtp] = await Promise.all([
    sipStage(['alice'], { kamailio: false, sip: { sessionExpiresS: 90 }, media: { timeoutS: 600 } }),
    sipStage(['alice'], { kamailio: false, media: { timeoutS: 3 } }),
  ]);
  t.after(() => Promise.all([timer.stop(), rtp.stop()]));

  const [a, b] = await Promise.all([vanishingCaller(timer, 90, 'timer'),
                                    vanishingCaller(rtp, 1800, 'rtp')]);
  t.after(() => Promise.all([a.run.stop(), b.run.stop()]));
  // The 200s agreed on the session timer the callers asked for.
  assert.ok(a.run.logs().some((l) => /ANSWERED session-expires=90;refresher=uac/.test(l)),
            a.run.describe());

  // No RTP at all: BYE a few seconds later.
  const bStatus = await b.run.finished(20000);
  const bSecs = (Date.now() - b.answeredAt) / 1000;
  assert.equal(bStatus.code, 0, `the silent caller got our BYE\n${b.run.describe()}`);
  assert.ok(bSecs >= 2.5 && bSecs < 10, `BYE ${bSecs} s after the answer`);
  assert.ok(b.run.logs().some((l) => /BYE reason=SIP;cause=408;text="RTP timeout"/.test(l)),
            b.run.describe());
  await rtp.sb.waitForLog(/no RTP from the phone for \d+ ms: hanging up/);

  // The session timer: BYE before the 90 s interval is over, not before half of it.
  const aStatus = await a.run.finished(120000);
  const aSecs = (Date.now() - a.answeredAt) / 1000;
  assert.equal(aStatus.code, 0, `the caller that never refreshed got our BYE\n${a.run.describe()}`);
  assert.ok(aSecs > 45 && aSecs <= 91, `BYE ${aSecs} s after the answer`);
  assert.ok(a.run.logs().some((l) => /BYE reason=.*Session timeout/i.test(l)), a.run.describe());
  await timer.sb.waitForLog(/the session expired without a refresh from the phone/);
  await timer.sb.waitForLog(/call ended by us: 408 Session timeout/);
  // Not the RTP timeout: media_timeout_s is 600 there.
  assert.equal(timer.sb.logLines(/no RTP from the phone/).length, 0);
  for (const s of [timer, rtp]) {
    const exit = await s.sb.stop();
    assert.equal(exit.code, 0, s.sb.proc.describe());
  }
});
