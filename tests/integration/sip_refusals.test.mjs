// ctest-timeout: 180
// What switchboard refuses on the SIP side, each with SIPp talking to it directly: a source
// outside allowed_sources (403), an unrouted number (404), an offer without a common codec
// (488), a malformed offer (400) - neither disturbing a call already up - and an INVITE flood
// from one source (503 with Retry-After past the per-source rate) while another source still
// gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sipStage, ROOM_NUMBER } from './lib/sipstage.mjs';
import { runSipp, startSipp } from './lib/sipp.mjs';
import { waitFor } from './lib/wait.mjs';

const PCMU = { mline: 'm=audio 6000 RTP/AVP 0 101', rtpmap: 'a=rtpmap:0 PCMU/8000' };

test('refusals: 403, 404, 488, 400 and 503 per source', async (t) => {
  const st = await sipStage(['alice'], {
    kamailio: false,
    sip: { allowedSources: ['127.0.0.1/32', '127.0.0.3/32'], rate: 5 },
    media: { timeoutS: 600 },
  });
  t.after(() => st.stop());
  const { sb, dir } = st;
  const target = `127.0.0.1:${st.sipPort}`;
  const refused = async (ip, service, keys, what, opts = {}) => {
    const { code, run } = await runSipp({ dir, scenario: 'refused.xml', target, ip, service,
                                          keys, timeoutS: 10, name: what, ...opts });
    return { code, run, results: run.results() };
  };

  // A call that is up all along: nothing below may disturb it.
  const up = await startSipp({ dir, scenario: 'answered_then_silent.xml', target,
                               ip: '127.0.0.3', service: ROOM_NUMBER, keys: { expires: '1800' },
                               timeoutS: 120, name: 'up' });
  t.after(() => up.stop());
  await waitFor(() => up.logs().some((l) => l.startsWith('ANSWERED')), 10000,
                { message: `the first call is answered\n${up.describe()}` });
  const upLine = await sb.waitForLog(/\[sip call=(\S+) number=\+15550100 peer=127\.0\.0\.3:\d+\] joined conference/);
  const upCall = upLine[1];

  // 403: not a trunk's address. Logged with where it came from.
  let r = await refused('127.0.0.2', ROOM_NUMBER, PCMU, 'forbidden');
  assert.deepEqual(r.results, ['403'], r.run.describe());
  assert.equal(r.code, 0);
  await sb.waitForLog(/INVITE from 127\.0\.0\.2:\d+, which is in no trunk's allowed_sources: 403/);

  // 404: nobody behind that number.
  r = await refused('127.0.0.1', '+15559999', PCMU, 'unrouted');
  assert.deepEqual(r.results, ['404'], r.run.describe());
  await sb.waitForLog(/no route for number \+15559999 \(trunk kamailio\): 404/);

  // 488: GSM only, which the trunk does not allow.
  r = await refused('127.0.0.1', ROOM_NUMBER,
                    { mline: 'm=audio 6000 RTP/AVP 3', rtpmap: 'a=rtpmap:3 GSM/8000' }, 'gsm');
  assert.deepEqual(r.results, ['488'], r.run.describe());

  // 400: an m= line without formats.
  r = await refused('127.0.0.1', ROOM_NUMBER, { mline: 'm=audio 6000 RTP/AVP', rtpmap: 'a=sendrecv' },
                    'malformed');
  assert.deepEqual(r.results, ['400'], r.run.describe());
  await sb.waitForLog(/refusing the offer: /);

  // The first call is still up, in the room.
  assert.ok(up.proc.running, `the call that was up is still running\n${up.describe()}`);
  assert.equal(sb.logLines(new RegExp(`call=${upCall.replace(/[.$]/g, '\\$&')} .*call ended`)).length,
               0, 'the call that was up did not end');
  assert.equal(sb.logLines(/joined conference/).length, 1, 'only the good call joined');

  // A flood from 127.0.0.1 (5 INVITEs a second allowed, after a burst of 5): most get 503,
  // while 127.0.0.3 calling at a normal pace at the same time is not held back.
  await new Promise((res) => setTimeout(res, 1200)); // the bucket of the calls above refills
  const [flood, other] = await Promise.all([
    refused('127.0.0.1', '+15559999', PCMU, 'flood', { calls: 30, rate: 200 }),
    refused('127.0.0.3', '+15559999', PCMU, 'other', { calls: 3, rate: 3 }),
  ]);
  const count = (res, code) => res.results.filter((c) => c === code).length;
  assert.equal(flood.results.length, 30, flood.run.describe());
  // The burst of 5, plus what the bucket refilled while the flood lasted (a fraction of a
  // second, longer on a loaded machine).
  assert.ok(count(flood, '404') >= 5 && count(flood, '404') <= 15,
            `the burst got through, then little more: ${JSON.stringify(flood.results)}`);
  assert.ok(count(flood, '503') >= 15, `the flood got 503s: ${JSON.stringify(flood.results)}`);
  assert.deepEqual(other.results, ['404', '404', '404'], other.run.describe());
  await sb.waitForLog(/more than 5 INVITEs a second from 127\.0\.0\.1: 503, retry after 1 s/);
  // The refusals of a flood are logged, but not one line per INVITE.
  const lines = sb.logLines(/more than 5 INVITEs a second from 127\.0\.0\.1/).length;
  assert.ok(lines >= 1 && lines <= 8, `${lines} log lines for the flood`);

  // The first call carried on through all of it, still in the conference.
  assert.ok(up.proc.running, `the call that was up is still running\n${up.describe()}`);
  assert.equal(sb.logLines(new RegExp(`call=${upCall.replace(/[.$]/g, '\\$&')} .*left conference`))
    .length, 0, 'the call that was up is still in the conference');

  // Shutdown ends it (BYE from us) and exits cleanly.
  const exit = await sb.stop();
  assert.equal(exit.code, 0, sb.proc.describe());
  assert.equal((await up.finished(10000)).code, 0, `the call got our BYE\n${up.describe()}`);
});
