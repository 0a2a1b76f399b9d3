// One Matrix user as Element would be: matrix-js-sdk's MatrixClient syncing against the
// homeserver and its legacy 1:1 MatrixCall (the code Element's "voice call" button runs), with a
// WebAudio oscillator as the microphone and a tone analyser on the remote feed. The test drives
// it through window.sb (page.evaluate) and reads back call state, tone levels and WebRTC stats.
//
// Nothing here talks to switchboard directly: every call event goes through the SDK and the
// homeserver, and every media packet through Chromium's WebRTC stack.
/* global matrixSdk */
(() => {
  const sdk = matrixSdk;
  const BLOCK = 4096; // analysis block, samples (11.7 Hz bins at 48 kHz)
  const RATE = 48000;
  const TONE_PEAK = 0.2; // -14 dBFS at the envelope's peak

  const st = {
    client: null,
    audio: null, // AudioContext
    toneDest: null, // MediaStreamAudioDestinationNode carrying the tone
    probe: null, // AudioWorkletNode
    probeFreqs: [],
    probes: [],
    noiseFreqs: [],
    source: null, // MediaStreamAudioSourceNode of the remote feed
    sink: null, // muted <audio> element holding the remote stream
    calls: [], // every MatrixCall this page saw, oldest first
    ringAction: null, // { roomId, action: 'answer' | 'reject' }
    log: [],
    readId: 0,
    reads: new Map(),
  };

  function note(msg) {
    const line = `${(performance.now() / 1000).toFixed(3)} ${msg}`;
    st.log.push(line);
    if (st.log.length > 400) st.log.splice(0, st.log.length - 400);
    const el = document.getElementById('status');
    if (el) el.textContent = msg;
  }

  // Frequencies over the voice band that tell the noise floor: clear (by 60 Hz) of every probe,
  // its 2nd and 3rd harmonics and the sums and differences two probes make through a
  // non-linear path. The same rule as mxcall's, so the two tests' figures compare.
  function noiseFrequencies(probes) {
    const guard = 60;
    const near = (f) => probes.some((a) => Math.abs(f - a) < guard || Math.abs(f - 2 * a) < guard ||
      Math.abs(f - 3 * a) < guard || probes.some((b) => Math.abs(f - (a + b)) < guard ||
        Math.abs(f - Math.abs(a - b)) < guard || Math.abs(f - Math.abs(2 * a - b)) < guard));
    const out = [];
    for (let f = 187; f < 4000 && out.length < 32; f += 120) if (!near(f)) out.push(f);
    return out;
  }

  // The microphone: a sine at toneHz whose amplitude swells and fades envelopeHz times a second
  // (0: a steady tone). A voice's syllables do that; Opus's voice activity detector takes a
  // steady tone for background noise, and an encoder in DTX mode (as the SDK asks of its peer
  // with usedtx=1) then sends only a comfort-noise update every 400 ms.
  async function setUpAudio(toneHz, envelopeHz, probes) {
    const ctx = new AudioContext({ sampleRate: RATE });
    if (ctx.state !== 'running') await ctx.resume();
    const osc = new OscillatorNode(ctx, { type: 'sine', frequency: toneHz });
    const gain = new GainNode(ctx, { gain: envelopeHz ? TONE_PEAK / 2 : TONE_PEAK });
    if (envelopeHz) {
      // gain = peak/2 + peak/2 * sin(2 pi envelopeHz t): from silence to the peak and back.
      const lfo = new OscillatorNode(ctx, { type: 'sine', frequency: envelopeHz });
      const depth = new GainNode(ctx, { gain: TONE_PEAK / 2 });
      lfo.connect(depth).connect(gain.gain);
      lfo.start();
    }
    const dest = new MediaStreamAudioDestinationNode(ctx, { channelCount: 1 });
    osc.connect(gain).connect(dest);
    osc.start();

    st.probes = probes;
    st.noiseFreqs = noiseFrequencies(probes);
    st.probeFreqs = [...probes, ...st.noiseFreqs];
    await ctx.audioWorklet.addModule('probe-worklet.js');
    const probe = new AudioWorkletNode(ctx, 'sb-probe', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { freqs: st.probeFreqs, block: BLOCK },
    });
    probe.port.onmessage = (e) => {
      const w = st.reads.get(e.data.id);
      if (w) {
        st.reads.delete(e.data.id);
        w(e.data);
      }
    };
    // A silent path to the destination keeps the graph (and so the worklet) pulled.
    const mute = new GainNode(ctx, { gain: 0 });
    probe.connect(mute).connect(ctx.destination);
    st.audio = ctx;
    st.toneDest = dest;
    st.probe = probe;
  }

  // The microphone the SDK gets: a fresh track of the tone for every request, since the SDK
  // stops the tracks of a call's stream when the call ends.
  function installMicrophone() {
    const md = navigator.mediaDevices;
    md.getUserMedia = async (constraints) => {
      note(`getUserMedia ${JSON.stringify(constraints)}`);
      if (constraints && constraints.video) {
        throw new DOMException('no camera on this page', 'NotFoundError');
      }
      return new MediaStream(st.toneDest.stream.getAudioTracks().map((t) => t.clone()));
    };
  }

  // Feeds the remote audio to the analyser. Chromium renders a remote WebRTC track into WebAudio
  // only while a media element also plays it, hence the muted <audio>.
  function listenTo(stream, why) {
    if (!stream || stream.getAudioTracks().length === 0) return;
    if (st.source && st.source.mediaStream === stream) return;
    if (st.source) st.source.disconnect();
    if (!st.sink) {
      st.sink = document.createElement('audio');
      st.sink.muted = true;
      st.sink.autoplay = true;
      document.body.appendChild(st.sink);
    }
    st.sink.srcObject = stream;
    st.sink.play().catch((e) => note(`audio element play: ${e}`));
    st.source = st.audio.createMediaStreamSource(stream);
    st.source.connect(st.probe);
    note(`listening to remote stream ${stream.id} (${why})`);
  }

  function currentCall() {
    return st.calls[st.calls.length - 1] || null;
  }

  function watchCall(call, how) {
    st.calls.push(call);
    note(`${how} call ${call.callId} in ${call.roomId}`);
    call.on(sdk.CallEvent.State, (state, old) => {
      note(`call ${call.callId} state ${old} -> ${state}`);
      if (state === sdk.CallState.Connected) listenTo(call.remoteUsermediaStream, 'connected');
    });
    call.on(sdk.CallEvent.FeedsChanged, () => {
      if (call === currentCall()) listenTo(call.remoteUsermediaStream, 'feeds changed');
    });
    call.on(sdk.CallEvent.Hangup, () => {
      note(`call ${call.callId} hung up: party ${call.hangupParty} reason ${call.hangupReason}`);
    });
    call.on(sdk.CallEvent.Error, (err) => {
      note(`call ${call.callId} error: ${err.code || ''} ${err.message || err}`);
    });
  }

  function onIncoming(call) {
    const ring = st.ringAction;
    note(`incoming call ${call.callId} in ${call.roomId} from ` +
         `${call.getOpponentMember()?.userId} (ring action ${ring ? ring.action : 'none'})`);
    if (!ring || (ring.roomId && ring.roomId !== call.roomId)) return;
    st.ringAction = null;
    watchCall(call, 'incoming');
    const act = () => {
      if (ring.action === 'reject') call.reject();
      else call.answer(true, false).catch((e) => note(`answer failed: ${e}`));
    };
    // The SDK rings only once the invite is processed; act right away, as a user who clicked.
    if (call.state === sdk.CallState.Ringing) act();
    else {
      const onState = (state) => {
        if (state !== sdk.CallState.Ringing) return;
        call.off(sdk.CallEvent.State, onState);
        act();
      };
      call.on(sdk.CallEvent.State, onState);
    }
  }

  function waitForSync(client) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off(sdk.ClientEvent.Sync, check);
        reject(new Error('initial sync did not finish within 20 s'));
      }, 20000);
      function check(state, _prev, data) {
        if (state === 'PREPARED' || state === 'SYNCING') {
          clearTimeout(timer);
          client.off(sdk.ClientEvent.Sync, check);
          resolve();
        } else if (state === 'ERROR') {
          note(`sync error: ${data?.error}`);
        }
      }
      client.on(sdk.ClientEvent.Sync, check);
    });
  }

  function db(power) {
    return power > 0 ? 10 * Math.log10(power) : -200;
  }

  function median(v) {
    const s = [...v].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : -200;
  }

  function readProbe() {
    return new Promise((resolve) => {
      const id = ++st.readId;
      st.reads.set(id, resolve);
      st.probe.port.postMessage({ cmd: 'read', id });
    });
  }

  function rtpStats(report) {
    const out = { inbound: null, outbound: null, pair: null };
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.inbound = { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost,
                        jitter: s.jitter, bytesReceived: s.bytesReceived,
                        codec: byId.get(s.codecId)?.mimeType };
      } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
        out.outbound = { packetsSent: s.packetsSent, bytesSent: s.bytesSent,
                         codec: byId.get(s.codecId)?.mimeType };
      } else if (s.type === 'transport' && s.selectedCandidatePairId) {
        const p = byId.get(s.selectedCandidatePairId);
        const cand = (id) => {
          const c = byId.get(id);
          return c && { type: c.candidateType, address: c.address, port: c.port,
                        protocol: c.protocol };
        };
        if (p) {
          out.pair = { state: p.state, rtt: p.currentRoundTripTime, local: cand(p.localCandidateId),
                       remote: cand(p.remoteCandidateId) };
        }
        out.dtlsState = s.dtlsState;
        out.srtpCipher = s.srtpCipher;
      }
    });
    return out;
  }

  window.sb = {
    // Logs in with a token the test made, starts the client and waits for its first sync.
    // toneHz, envelopeHz: the microphone (see setUpAudio); probes: the frequencies to measure.
    async init({ baseUrl, userId, accessToken, deviceId, toneHz, envelopeHz = 0, probes }) {
      await setUpAudio(toneHz, envelopeHz, probes);
      installMicrophone();
      const client = sdk.createClient({ baseUrl, userId, accessToken, deviceId,
                                        timelineSupport: true });
      st.client = client;
      if (!client.supportsVoip()) throw new Error('the SDK says this browser cannot do VoIP');
      client.on(sdk.CallEventHandlerEvent.Incoming, onIncoming);
      const synced = waitForSync(client);
      await client.startClient({ initialSyncLimit: 20 });
      await synced;
      note(`synced as ${userId}`);
      return { toneHz, noiseFreqs: st.noiseFreqs };
    },

    // Element's voice call button: a MatrixCall in roomId (with invitee, or none as Element in
    // a room of two).
    async placeCall(roomId, invitee) {
      const call = sdk.createNewMatrixCall(st.client, roomId, invitee ? { invitee } : undefined);
      if (!call) throw new Error('createNewMatrixCall returned null');
      watchCall(call, `outgoing (invitee ${invitee || 'none'})`);
      await call.placeVoiceCall();
      return call.callId;
    },

    // What to do with the next ring (in roomId, if given): 'answer' or 'reject'.
    onNextRing(action, roomId) {
      st.ringAction = { action, roomId };
    },

    async sendText(roomId, body) {
      const r = await st.client.sendTextMessage(roomId, body);
      return r.event_id;
    },

    // Rooms this user is invited to, as the SDK sees them.
    invitedRooms() {
      return st.client.getRooms().filter((r) => r.getMyMembership() === 'invite')
        .map((r) => r.roomId);
    },

    async joinRoom(roomId) {
      const room = await st.client.joinRoom(roomId);
      return room.roomId;
    },

    call() {
      const c = currentCall();
      if (!c) return null;
      return { callId: c.callId, roomId: c.roomId, state: c.state, direction: c.direction,
               invitee: c.invitee ?? null, hangupParty: c.hangupParty ?? null,
               hangupReason: c.hangupReason ?? null,
               remoteFeeds: c.getRemoteFeeds().length, listening: Boolean(st.source) };
    },

    calls() {
      return st.calls.map((c) => ({ callId: c.callId, roomId: c.roomId, state: c.state,
                                    hangupReason: c.hangupReason ?? null }));
    },

    hangup() {
      const c = currentCall();
      if (c) c.hangup(sdk.CallErrorCode.UserHangup, false);
    },

    // Forgets what the analyser heard so far: the next measure starts from here.
    resetAnalysis() {
      st.probe.port.postMessage({ cmd: 'reset' });
    },

    // Levels (dB, full-scale sine 0 dB) of each probe and the noise floor (median level of the
    // off-probe frequencies) over what was heard since the last reset.
    async levels() {
      const r = await readProbe();
      const tones = {};
      st.probes.forEach((hz, i) => { tones[String(hz)] = db(r.power[i]); });
      const noise = median(r.power.slice(st.probes.length).map(db));
      return { blocks: r.blocks, seconds: (r.blocks * BLOCK) / RATE, tones_db: tones,
               noise_db: noise, peak: r.peak };
    },

    async stats() {
      const c = currentCall();
      if (!c || !c.peerConn) return null;
      return rtpStats(await c.peerConn.getStats());
    },

    log() {
      return st.log.slice();
    },
  };
  note('ready');
})();
