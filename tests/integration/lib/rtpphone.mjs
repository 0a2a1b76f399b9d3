// The media half of a scripted phone: SIPp does the signalling (its SDP points here with
// -key rtp_port), this endpoint does the audio, so a test can hear exactly what the gateway
// sent a phone at any moment, which baresip 1.0.0 cannot show once a call's direction changed
// (it drops its recording filter on any re-INVITE that is not sendrecv).
//
// It receives PCMU (payload type 0) on a loopback UDP port and lays it out by RTP timestamp
// into a recording (silence where nothing came), which writeWav() saves for tools/wavtones;
// it sends a PCMU tone back every 20 ms to wherever the gateway sends from (symmetric RTP), so
// the other side hears this phone too.
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';

const RATE = 8000;
const FRAME = 160; // 20 ms
const MAX_SECONDS = 300;

export function ulawDecode(u) {
  const v = ~u & 0xff;
  const exponent = (v >> 4) & 7;
  const sample = ((((v & 0x0f) << 3) + 0x84) << exponent) - 0x84;
  return v & 0x80 ? -sample : sample;
}

export function ulawEncode(s) {
  const sign = s < 0 ? 0x80 : 0;
  let x = Math.min(Math.abs(s), 32635) + 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (x & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (x >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export class RtpPhone {
  constructor(sock, { toneHz, toneDbfs }) {
    this.sock = sock;
    this.port = sock.address().port;
    this.toneHz = toneHz;
    this.amp = 32767 * 10 ** (toneDbfs / 20);
    this.pcm = new Int16Array(RATE * MAX_SECONDS);
    this.end = 0; // samples laid out so far
    this.ts0 = null; // RTP timestamp of sample 0
    this.t0 = null; // Date.now() when sample 0 arrived
    // [Date.now(), sample] of each packet as it arrived: a loaded sender's clock (its RTP
    // timestamps) can fall behind the wall clock, so at() maps by arrival, not by t0 alone.
    this.arrivals = [];
    this.remote = null;
    this.received = 0;
    this.sent = 0;
    this.seq = Math.floor(Math.random() * 65536);
    this.ts = Math.floor(Math.random() * 2 ** 32);
    this.ssrc = Math.floor(Math.random() * 2 ** 32);
    this.phase = 0;
    sock.on('message', (msg, rinfo) => this.onPacket(msg, rinfo));
    this.timer = setInterval(() => this.sendFrame(), 20);
  }

  onPacket(msg, rinfo) {
    if (msg.length < 12 || msg[0] >> 6 !== 2) return;
    const pt = msg[1] & 0x7f;
    if (pt >= 72 && pt <= 79) return; // RTCP multiplexed
    this.remote = { address: rinfo.address, port: rinfo.port };
    if (pt !== 0) return; // telephone-event and anything else: not audio
    let off = 12 + 4 * (msg[0] & 0x0f);
    if (msg[0] & 0x10) {
      if (msg.length < off + 4) return;
      off += 4 + 4 * msg.readUInt16BE(off + 2);
    }
    let len = msg.length - off;
    if (msg[0] & 0x20) len -= msg[msg.length - 1];
    if (len <= 0) return;
    const ts = msg.readUInt32BE(4);
    if (this.ts0 === null) {
      this.ts0 = ts;
      this.t0 = Date.now();
    }
    const at = (ts - this.ts0) >>> 0;
    if (at < RATE * MAX_SECONDS) this.arrivals.push([Date.now(), at]);
    if (at + len > this.pcm.length) return;
    for (let i = 0; i < len; i++) this.pcm[at + i] = ulawDecode(msg[off + i]);
    this.end = Math.max(this.end, at + len);
    this.received++;
  }

  sendFrame() {
    if (!this.remote || !this.toneHz) return;
    const pkt = Buffer.alloc(12 + FRAME);
    pkt[0] = 0x80;
    pkt[1] = this.sent === 0 ? 0x80 : 0x00;
    pkt.writeUInt16BE(this.seq, 2);
    pkt.writeUInt32BE(this.ts >>> 0, 4);
    pkt.writeUInt32BE(this.ssrc >>> 0, 8);
    const step = (2 * Math.PI * this.toneHz) / RATE;
    for (let i = 0; i < FRAME; i++) {
      pkt[12 + i] = ulawEncode(Math.round(this.amp * Math.sin(this.phase)));
      this.phase += step;
    }
    this.phase %= 2 * Math.PI;
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + FRAME) >>> 0;
    this.sent++;
    this.sock.send(pkt, this.remote.port, this.remote.address);
  }

  // Seconds into the recording at wall-clock time t (Date.now()): where the packet that arrived
  // last by then was laid out, plus the time since (up to the next packet's place).
  at(t) {
    const a = this.arrivals;
    if (!a.length || t < a[0][0]) return (t - (this.t0 ?? t)) / 1000;
    let lo = 0;
    let hi = a.length - 1;
    while (lo < hi) { // the last arrival at or before t
      const mid = (lo + hi + 1) >> 1;
      if (a[mid][0] <= t) lo = mid;
      else hi = mid - 1;
    }
    let pos = a[lo][1] + ((t - a[lo][0]) * RATE) / 1000;
    if (lo + 1 < a.length) pos = Math.min(pos, a[lo + 1][1]);
    return pos / RATE;
  }

  // The recording so far as a mono 16-bit 8 kHz WAV.
  writeWav(file) {
    const data = Buffer.from(this.pcm.buffer, 0, this.end * 2);
    const h = Buffer.alloc(44);
    h.write('RIFF', 0);
    h.writeUInt32LE(36 + data.length, 4);
    h.write('WAVEfmt ', 8);
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(1, 22);
    h.writeUInt32LE(RATE, 24);
    h.writeUInt32LE(RATE * 2, 28);
    h.writeUInt16LE(2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36);
    h.writeUInt32LE(data.length, 40);
    writeFileSync(file, Buffer.concat([h, data]));
    return file;
  }

  stop() {
    clearInterval(this.timer);
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

// A phone's media endpoint on 127.0.0.1 (port picked by the system), sending toneHz once the
// gateway's RTP arrives (0: silent).
export async function startRtpPhone({ toneHz = 0, toneDbfs = -12 } = {}) {
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', resolve);
  });
  return new RtpPhone(sock, { toneHz, toneDbfs });
}
