// ctest-timeout: 240
// Element's call stack against switchboard: three users, each in headless Chromium running
// matrix-js-sdk's own MatrixCall with a WebAudio tone as the microphone, reach the group room's
// conference by the three ways in — alice calls the bot in the group room (invitee set), bob
// calls it in his linked direct room with no invitee (as Element does in a room of two), carol
// types "!call" and answers the bot's ring. Each page must hear the two other tones at least
// 20 dB above its own and above the noise floor, with RTP flowing both ways (getStats); then
// carol hangs up and alice and bob still hear each other and no longer her.
//
// Chromium runs with its defaults for ICE, so its host candidates are mDNS ".local" names the
// gateway cannot resolve: the connection has to come from the browser's checks (peer-reflexive).
// SB_BROWSER_RAW_IPS=1 runs it with --disable-features=WebRtcHideLocalIpsWithMdns instead (raw
// host candidates, which the gateway uses directly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupRoomStage } from './lib/scenario.mjs';
import { launchBrowser, browserUnavailable } from './lib/browser.mjs';
import { waitFor } from './lib/wait.mjs';

const TONE = { alice: 440, bob: 550, carol: 660 };
// Each tone swells and fades like syllables, at its own pace, so that the gateway's Opus encoder
// hears talk: a steady tone is background noise to its voice activity detector, and in DTX mode
// (the SDK asks for usedtx=1) it would send a comfort-noise update every 400 ms instead, which
// takes 5 to 20 dB off the tones the pages measure, differently from run to run.
const ENVELOPE = { alice: 1.3, bob: 1.7, carol: 2.3 };
const PROBES = Object.values(TONE);
const WINDOW_MS = 5000; // one analysis window
const RAW_IPS = process.env.SB_BROWSER_RAW_IPS === '1';

function assertHears(lv, own, others, what) {
  assert.ok(lv && lv.seconds >= WINDOW_MS / 1000 - 1,
            `${what}: too little audio analysed (${lv?.seconds?.toFixed(1)} s)`);
  const level = (hz) => lv.tones_db[String(hz)];
  for (const hz of others) {
    assert.ok(level(hz) - level(own) >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above its own ` +
              `${own} Hz at ${level(own).toFixed(1)} dB`);
    assert.ok(level(hz) - lv.noise_db >= 20,
              `${what}: ${hz} Hz at ${level(hz).toFixed(1)} dB is not 20 dB above the noise ` +
              `floor at ${lv.noise_db.toFixed(1)} dB`);
  }
}

// Hears each of others 20 dB over its own tone and the noise, over what came since the last
// reset: the sign that a page's audio path is up (used to wait, then measure afresh).
function hearsAll(lv, own, others) {
  const level = (hz) => lv.tones_db[String(hz)];
  return others.every((hz) => level(hz) - level(own) >= 20 && level(hz) - lv.noise_db >= 20);
}

function fmt(lv) {
  const t = Object.entries(lv.tones_db).map(([hz, v]) => `${hz} Hz ${v.toFixed(1)}`).join(', ');
  return `${t}; noise ${lv.noise_db.toFixed(1)} dB over ${lv.seconds.toFixed(1)} s`;
}

// The user's call on its page reaches state (bounded).
function callState(peer, state, timeoutMs = 30000) {
  return waitFor(async () => {
    const c = await peer.sb('call');
    return c && c.state === state ? c : null;
  }, timeoutMs, { message: `${peer.name}'s call reaches "${state}"` });
}

// A page's ring from the bot after "!call" in the group room: the bot opens (or reuses) a direct
// room, invites the user and rings there. The page joins the room; its SDK sees the ring and
// answers or rejects it as told.
async function callCommand(peer, groupRoom, action) {
  await peer.sb('onNextRing', action);
  await peer.sb('sendText', groupRoom, '!call');
  const dm = await waitFor(async () => (await peer.sb('invitedRooms'))[0], 20000,
                           { message: `${peer.name} is invited to a direct room by the bot` });
  await peer.sb('joinRoom', dm);
  return dm;
}

// Waits (bounded) until, over a short window of fresh audio, pred(levels, index) holds for every
// peer: the state the audio reaches after a change, before a full window is measured.
function settle(peers, pred, message, timeoutMs = 20000) {
  return waitFor(async () => {
    const lv = await Promise.all(peers.map((p) => p.sb('levels')));
    if (lv.every((l) => l.seconds >= 1) && lv.every(pred)) return true;
    if (lv.some((l) => l.seconds >= 1)) await Promise.all(peers.map((p) => p.sb('resetAnalysis')));
    return false;
  }, timeoutMs, { message, intervalMs: 1200, maxIntervalMs: 1200 });
}

// Measures every peer over one window starting now.
async function measure(peers) {
  await Promise.all(peers.map((p) => p.sb('resetAnalysis')));
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  return Promise.all(peers.map((p) => p.sb('levels')));
}

test('Element (matrix-js-sdk in Chromium) meets the group room conference three ways',
     { timeout: 200000 }, async (t) => {
  const why = browserUnavailable();
  if (why) assert.fail(why);
  const started = Date.now();
  const st = await groupRoomStage(['alice', 'bob', 'carol']);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await st.stop();
  });
  const { bot, users, room } = st;
  const browser = await launchBrowser({ hideLocalIps: !RAW_IPS });
  t.after(() => browser.close());

  try {
    const peers = {};
    for (const u of ['alice', 'bob', 'carol'])
      peers[u] = await browser.peer(u, users[u], { toneHz: TONE[u], envelopeHz: ENVELOPE[u],
                                                 probes: PROBES });
    const { alice, bob, carol } = peers;

    // bob's direct room linked to the group room, from a "!call" whose ring he rejected.
    const bobDm = await callCommand(bob, room, 'reject');
    await callState(bob, 'ended', 20000);
    await st.sb.waitForLog(/call ended by peer \(rejected\)/);

    // The three ways in, at once.
    await Promise.all([
      alice.sb('placeCall', room, bot.userId),
      bob.sb('placeCall', bobDm, null),
      callCommand(carol, room, 'answer'),
    ]);
    for (const p of [alice, bob, carol]) await callState(p, 'connected');
    const calls = Object.fromEntries(await Promise.all(
      Object.entries(peers).map(async ([u, p]) => [u, await p.sb('call')])));
    assert.equal(calls.alice.roomId, room);
    assert.equal(calls.alice.invitee, bot.userId);
    assert.equal(calls.bob.roomId, bobDm);
    assert.equal(calls.bob.invitee, null, 'bob calls with no invitee, as Element in a DM');
    assert.equal(calls.carol.direction, 'inbound');

    // The audio path is up once every page hears both others; then measure afresh.
    const everyone = [alice, bob, carol];
    await settle(everyone, (lv, i) => hearsAll(lv, PROBES[i], PROBES.filter((_, j) => j !== i)),
                 'every page hears the two others');

    const statsBefore = await Promise.all(everyone.map((p) => p.sb('stats')));
    const all = await measure(everyone);
    const statsAfter = await Promise.all(everyone.map((p) => p.sb('stats')));
    ['alice', 'bob', 'carol'].forEach((u, i) => {
      console.log(`${u} (all in): ${fmt(all[i])}`);
      const others = Object.keys(TONE).filter((o) => o !== u).map((o) => TONE[o]);
      assertHears(all[i], TONE[u], others, `${u}, all in`);
      const a = statsBefore[i];
      const b = statsAfter[i];
      console.log(`${u} stats: ${JSON.stringify(b)}`);
      assert.ok(b.outbound && b.inbound, `${u}: no RTP stats ${JSON.stringify(b)}`);
      // A 20 ms Opus frame every 20 ms each way: about 250 packets in the window.
      const sent = b.outbound.packetsSent - a.outbound.packetsSent;
      const received = b.inbound.packetsReceived - a.inbound.packetsReceived;
      console.log(`${u} packets in the window: sent ${sent}, received ${received}`);
      assert.ok(sent >= 150, `${u} sent too few packets in the window: ${JSON.stringify([a, b])}`);
      assert.ok(received >= 150,
                `${u} received too few packets in the window: ${JSON.stringify([a, b])}`);
      assert.match(b.inbound.codec || '', /opus/i);
      assert.equal(b.pair?.state, 'succeeded');
    });

    // What each SDK sent as candidates: with Chromium's defaults, mDNS names for host ones.
    const mdns = (c) => /^candidate:\S+ \d+ \S+ \d+ \S+\.local /.test(c);
    for (const u of ['alice', 'bob', 'carol']) {
      // Trickled in m.call.candidates, or in the SDP when gathering ended before it was sent.
      const sent = (await users[u].allMessages(calls[u].roomId))
        .filter((e) => e.sender === users[u].userId && e.content.call_id === calls[u].callId)
        .flatMap((e) => [
          ...(e.content.candidates || []).map((c) => c.candidate),
          ...((e.content.offer || e.content.answer)?.sdp || '').split(/\r?\n/)
            .filter((l) => l.startsWith('a=candidate:')).map((l) => l.slice(2)),
        ]);
      const hosts = sent.filter((c) => / typ host/.test(c));
      assert.ok(hosts.length > 0 && hosts.every((c) => mdns(c) === !RAW_IPS),
                `${u}'s host candidates are ${RAW_IPS ? '' : 'not '}mDNS names: ` +
                `${JSON.stringify(sent)}`);
    }

    // Each call went to the group room's conference, whichever room it was placed in.
    const conf = st.sb.logLines(/joined conference/);
    assert.equal(conf.length, 3, conf.join('\n'));
    for (const line of conf) assert.ok(line.includes(`joined conference ${room}`), line);

    // carol hangs up; alice and bob stay and hear each other, and her tone is gone.
    await carol.sb('hangup');
    await callState(carol, 'ended', 5000);
    await st.sb.waitForLog(new RegExp(`peer=${users.carol.userId}\\] call ended by peer`));
    // Not hearing her: her tone at least 30 dB below the other one and below where it was while
    // she was in. (Not down to the noise floor: the codec's distortion of the remaining tone
    // may put a little energy on her frequency.)
    const gone = (lv, i) => {
      const u = ['alice', 'bob'][i];
      const level = (hz) => lv.tones_db[String(hz)];
      const other = u === 'alice' ? TONE.bob : TONE.alice;
      return level(TONE.carol) <= level(other) - 30 &&
             level(TONE.carol) <= all[i].tones_db[String(TONE.carol)] - 30;
    };
    // The listeners' decoders let go of her tone once the mix without her reaches them.
    await settle([alice, bob], gone, 'alice and bob no longer hear carol');
    const two = await measure([alice, bob]);
    ['alice', 'bob'].forEach((u, i) => {
      console.log(`${u} (carol gone): ${fmt(two[i])}`);
      const other = u === 'alice' ? TONE.bob : TONE.alice;
      assertHears(two[i], TONE[u], [other], `${u}, after carol left`);
      assert.ok(gone(two[i], i), `${u} still hears carol after she hung up: ${fmt(two[i])} ` +
                `(with her: ${fmt(all[i])})`);
    });
    for (const p of [alice, bob]) assert.equal((await p.sb('call')).state, 'connected');

    await alice.sb('hangup');
    await bob.sb('hangup');
    for (const u of ['alice', 'bob']) {
      await callState(peers[u], 'ended', 5000);
      await st.sb.waitForLog(new RegExp(`peer=${users[u].userId}\\] call ended by peer`));
    }
  } catch (err) {
    // The reporter prints the error's stack, made before anything could be added to it.
    console.error(`${await browser.describe()}\n--- switchboard ---\n` +
                  `${st.sb.proc.stderr.tail(80)}`);
    throw err;
  }

  // The pages go first, so that their clients do not see the homeserver vanish.
  await browser.close();
  const status = await st.stop();
  stopped = true;
  assert.equal(status.code, 0, `switchboard exited with ${JSON.stringify(status)}\n` +
               `${st.sb.proc.stderr.tail(120)}`);
  console.log(`run time ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
