// SDP for raw test clients that send m.call.* events by hand: a browser-shaped audio offer that
// switchboard can negotiate (it answers it), though nothing behind it will ever do ICE.
import { randomBytes } from 'node:crypto';

const token = (n) => randomBytes(n).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, n);

function fingerprint() {
  return [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

// An audio-only WebRTC offer (Chromium's shape) with one host candidate on a port nobody
// listens on; dir is the a= direction line.
export function webrtcOffer({ dir = 'sendrecv', port = 9, withCandidate = true } = {}) {
  const lines = [
    'v=0',
    `o=- ${BigInt.asUintN(62, randomBytes(8).readBigUInt64BE())} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=msid-semantic: WMS stream0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${token(4)}`,
    `a=ice-pwd:${token(24)}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint()}`,
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    `a=${dir}`,
    'a=msid:stream0 track0',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:126 telephone-event/48000',
    `a=ssrc:${1000 + Math.floor(Math.random() * 1e6)} cname:${token(16)}`,
  ];
  if (withCandidate) lines.push(`a=candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host`);
  return `${lines.join('\r\n')}\r\n`;
}
