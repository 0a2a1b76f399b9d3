// ctest-timeout: 180
// A phone calls a user route and the Matrix user is Element's call stack: matrix-js-sdk's
// MatrixCall in headless Chromium (tests/browser), with a WebAudio tone as its microphone. A
// baresip phone that offers G.711 only (PCMU) dials the number through kamailio; the bot opens a
// direct room with the user and rings there; the page joins it and answers the ring. Audio flows
// both ways: the page hears the phone's tone and the phone's recording has the page's, each at
// least 20 dB above the other and the noise floor; the SIP leg is PCMU (switchboard's log of
// the leg's media, the phone's 8 kHz recording) while the page's leg is Opus. The page hangs up:
// the phone gets our BYE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage } from './lib/sipstage.mjs';
import { startPhone, wavTones } from './lib/baresip.mjs';
import { browserUnavailable, launchBrowser } from './lib/browser.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { page: 440, phone: 990 };
const PROBES = Object.values(TONE);
const PHONE = { user: '+15551006', password: 'phone-pw-1006' };
const NUMBER = '+15550101';
const WINDOW_MS = 5000;

function hears(lv, hz, other) {
  const level = (f) => lv.tones_db[String(f)];
  return level(hz) - level(other) >= 20 && level(hz) - lv.noise_db >= 20;
}

function fmt(lv) {
  const t = Object.entries(lv.tones_db).map(([hz, v]) => `${hz} Hz ${v.toFixed(1)}`).join(', ');
  return `${t}; noise ${lv.noise_db.toFixed(1)} dB${lv.seconds ? ` over ${lv.seconds.toFixed(1)} s` : ''}`;
}

test('a G.711 phone calls a user route answered in the browser: audio both ways',
     { timeout: 170000 }, async (t) => {
  const why = browserUnavailable();
  if (why) assert.fail(why);
  const st = await sipStage(['alice'], {
    phoneUsers: { [PHONE.user]: PHONE.password },
    routes: [{ number: NUMBER, user: '@alice:localhost' }],
  });
  t.after(() => st.stop());
  const { users, kam, sb } = st;
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const phone = await startPhone({ dir: st.dir, name: 'phone', ...PHONE, trunkPort: kam.port,
                                   toneHz: TONE.phone, codecs: ['PCMU/8000/1'] });
  t.after(() => phone.stop());

  try {
    const alice = await browser.peer('alice', users.alice, { toneHz: TONE.page, envelopeHz: 1.3,
                                                             probes: PROBES });
    await alice.sb('onNextRing', 'answer');

    await phone.dial(`sip:${NUMBER}@127.0.0.1:${kam.port}`);
    await sb.waitForLog(/ringing @alice:localhost on Matrix/, 10000);
    // The bot opens a direct room with alice and rings her there once she is in it (joined as
    // Element would when she accepts the invite, unless she is in it already).
    const dm = await waitFor(async () => (await alice.sb('call'))?.roomId ||
                             (await alice.sb('invitedRooms'))[0], 20000,
                             { message: 'alice is invited to a direct room by the bot' });
    if ((await alice.sb('invitedRooms')).includes(dm)) await alice.sb('joinRoom', dm);
    await phone.waitForEvent('CALL_RINGING', 15000);
    const call = await waitFor(async () => {
      const c = await alice.sb('call');
      return c && c.state === 'connected' ? c : null;
    }, 30000, { message: 'alice\'s page answers and connects' });
    assert.equal(call.roomId, dm);
    assert.equal(call.direction, 'inbound');
    await phone.waitForEvent('CALL_ESTABLISHED', 10000);
    const tUp = Date.now();

    // G.711 on the phone's side, Opus on the page's.
    await sb.waitForLog(new RegExp(`number=\\${NUMBER} .*media connected \\(PCMU/8000,`), 5000);
    await sb.waitForLog(/mixing: @alice:localhost speaks opus\/48000, \+15551006 \(phone\) speaks PCMU\/8000/, 5000);

    // The page hears the phone once the path is up; then measure one fresh window.
    await waitFor(async () => {
      const lv = await alice.sb('levels');
      if (lv.seconds >= 1 && hears(lv, TONE.phone, TONE.page)) return true;
      if (lv.seconds >= 1) await alice.sb('resetAnalysis');
      return false;
    }, 20000, { message: 'alice\'s page hears the phone', intervalMs: 1200, maxIntervalMs: 1200 });
    await alice.sb('resetAnalysis');
    const from = (Date.now() - tUp) / 1000;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    const to = (Date.now() - tUp) / 1000;
    const lv = await alice.sb('levels');
    assert.ok(lv.seconds >= WINDOW_MS / 1000 - 1, `enough audio analysed: ${fmt(lv)}`);
    assert.ok(hears(lv, TONE.phone, TONE.page), `the page hears the phone: ${fmt(lv)}`);
    const stats = await alice.sb('stats');
    assert.match(stats?.inbound?.codec || '', /opus/i, JSON.stringify(stats));
    assert.ok(stats.outbound.packetsSent > 100 && stats.inbound.packetsReceived > 100,
              `RTP both ways on the page's leg: ${JSON.stringify(stats)}`);

    // The page hangs up: our BYE to the phone.
    await alice.sb('hangup');
    await phone.waitForEvent('CALL_CLOSED', 10000);
    await kam.waitForEvent('request', (e) => e.method === 'BYE' &&
                                         e.src.endsWith(`:${st.sipPort}`), 5000);

    // The phone heard the page over the same window (its recording starts with the call).
    const rec = phone.recordings();
    const pw = await wavTones(rec[rec.length - 1], PROBES, { from, to });
    assert.equal(pw.rate, 8000, 'G.711 on the phone side');
    assert.ok(hears(pw, TONE.page, TONE.phone), `the phone hears the page: ${fmt(pw)}`);
  } catch (err) {
    err.message += `\n${await browser.describe()}\n${sb.proc.describe()}`;
    throw err;
  }

  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
});
