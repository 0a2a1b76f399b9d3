/*
 * Sample descriptions for the SDP tests, written with LF line endings (the tests make the CRLF
 * forms): a Chromium offer as matrix-js-sdk sends it, an aiortc offer, a SIP phone's RTP/AVP
 * offer, and a Chromium-style answer to our own offer.
 */
#ifndef SB_TESTS_SDP_SAMPLES_H
#define SB_TESTS_SDP_SAMPLES_H

#define CHROMIUM_FP                                                                                \
    "3B:8A:E1:2D:60:4D:1B:0D:2C:63:4E:4D:8D:42:0F:0F:1B:55:41:4B:42:18:D3:15:46:9F:7C:CB:6A:B1:"   \
    "6E:"                                                                                          \
    "A1"

#define CHROMIUM_SESSION                                                                           \
    "v=0\n"                                                                                        \
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\n"                                                 \
    "s=-\n"                                                                                        \
    "t=0 0\n"

#define CHROMIUM_AUDIO_BODY(DIR, UFRAG, PWD, SETUP)                                                \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\n"                                        \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "a=rtcp:9 IN IP4 0.0.0.0\n"                                                                    \
    "a=ice-ufrag:" UFRAG "\n"                                                                      \
    "a=ice-pwd:" PWD "\n"                                                                          \
    "a=ice-options:trickle\n"                                                                      \
    "a=fingerprint:sha-256 " CHROMIUM_FP "\n"                                                      \
    "a=setup:" SETUP "\n"                                                                          \
    "a=mid:0\n"                                                                                    \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"                                     \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\n"                      \
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\n"       \
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\n"                                             \
    "a=" DIR "\n"                                                                                  \
    "a=msid:9Zk3LzjR 4f1a2b3c-aaaa-bbbb-cccc-0123456789ab\n"                                       \
    "a=rtcp-mux\n"                                                                                 \
    "a=rtcp-rsize\n"                                                                               \
    "a=rtpmap:111 opus/48000/2\n"                                                                  \
    "a=rtcp-fb:111 transport-cc\n"                                                                 \
    "a=fmtp:111 minptime=10;usedtx=1;useinbandfec=1\n"                                             \
    "a=rtpmap:63 red/48000/2\n"                                                                    \
    "a=fmtp:63 111/111\n"                                                                          \
    "a=rtpmap:9 G722/8000\n"                                                                       \
    "a=rtpmap:0 PCMU/8000\n"                                                                       \
    "a=rtpmap:8 PCMA/8000\n"                                                                       \
    "a=rtpmap:13 CN/8000\n"                                                                        \
    "a=rtpmap:110 telephone-event/48000\n"                                                         \
    "a=rtpmap:126 telephone-event/8000\n"                                                          \
    "a=ssrc:1001406532 cname:sS0mf1oRTlRa0Tz7\n"                                                   \
    "a=ssrc:1001406532 msid:9Zk3LzjR 4f1a2b3c-aaaa-bbbb-cccc-0123456789ab\n"

#define CHROMIUM_VIDEO_BODY                                                                        \
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\n"                                                  \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "a=rtcp:9 IN IP4 0.0.0.0\n"                                                                    \
    "a=ice-ufrag:Sx+9\n"                                                                           \
    "a=ice-pwd:Fkn3QEZz7rPtnmsuFN6v6Tc5\n"                                                         \
    "a=ice-options:trickle\n"                                                                      \
    "a=fingerprint:sha-256 " CHROMIUM_FP "\n"                                                      \
    "a=setup:actpass\n"                                                                            \
    "a=mid:1\n"                                                                                    \
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\n"                                             \
    "a=sendrecv\n"                                                                                 \
    "a=msid:9Zk3LzjR 1a2b3c4d-aaaa-bbbb-cccc-0123456789ab\n"                                       \
    "a=rtcp-mux\n"                                                                                 \
    "a=rtcp-rsize\n"                                                                               \
    "a=rtpmap:96 VP8/90000\n"                                                                      \
    "a=rtcp-fb:96 goog-remb\n"                                                                     \
    "a=rtcp-fb:96 nack\n"                                                                          \
    "a=rtcp-fb:96 nack pli\n"                                                                      \
    "a=rtpmap:97 rtx/90000\n"                                                                      \
    "a=fmtp:97 apt=96\n"                                                                           \
    "a=rtpmap:102 H264/90000\n"                                                                    \
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\n"          \
    "a=rtpmap:103 rtx/90000\n"                                                                     \
    "a=fmtp:103 apt=102\n"                                                                         \
    "a=ssrc-group:FID 2323 2324\n"                                                                 \
    "a=ssrc:2323 cname:sS0mf1oRTlRa0Tz7\n"                                                         \
    "a=ssrc:2324 cname:sS0mf1oRTlRa0Tz7\n"

/* The audio+video call offer from matrix-js-sdk in Chromium. */
#define CHROMIUM_OFFER                                                                             \
    CHROMIUM_SESSION                                                                               \
    "a=group:BUNDLE 0 1\n"                                                                         \
    "a=extmap-allow-mixed\n"                                                                       \
    "a=msid-semantic: WMS 9Zk3LzjR\n" CHROMIUM_AUDIO_BODY(                                         \
        "sendrecv", "Sx+9", "Fkn3QEZz7rPtnmsuFN6v6Tc5", "actpass") CHROMIUM_VIDEO_BODY

/* An audio-only re-offer of the same session with another direction / credentials / setup. */
#define CHROMIUM_AUDIO_OFFER(VERSION, DIR, UFRAG, PWD, SETUP)                                      \
    "v=0\n"                                                                                        \
    "o=- 4611731400430051336 " VERSION " IN IP4 127.0.0.1\n"                                       \
    "s=-\n"                                                                                        \
    "t=0 0\n"                                                                                      \
    "a=group:BUNDLE 0\n"                                                                           \
    "a=extmap-allow-mixed\n"                                                                       \
    "a=msid-semantic: WMS 9Zk3LzjR\n" CHROMIUM_AUDIO_BODY(DIR, UFRAG, PWD, SETUP)

/* aiortc: fingerprint at the session level, candidates in the SDP, opus on 96. */
#define AIORTC_OFFER                                                                               \
    "v=0\n"                                                                                        \
    "o=- 3912345678 3912345678 IN IP4 0.0.0.0\n"                                                   \
    "s=-\n"                                                                                        \
    "t=0 0\n"                                                                                      \
    "a=group:BUNDLE 0\n"                                                                           \
    "a=msid-semantic:WMS *\n"                                                                      \
    "a=fingerprint:sha-256 " CHROMIUM_FP "\n"                                                      \
    "m=audio 47852 UDP/TLS/RTP/SAVPF 96 0 8\n"                                                     \
    "c=IN IP4 192.0.2.77\n"                                                                        \
    "a=sendrecv\n"                                                                                 \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\n"                                             \
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"                                     \
    "a=mid:0\n"                                                                                    \
    "a=msid:2c5b0e1f-6f1d-4e0a-9bd1-5d1b0c6f7a11 7f3e5c2a-0d4b-4f7e-8a5e-3c2b1a0f9e8d\n"           \
    "a=rtcp:9 IN IP4 0.0.0.0\n"                                                                    \
    "a=rtcp-mux\n"                                                                                 \
    "a=ssrc:2718281828 cname:0e7c6a3b-5a2f-4d8e-9b1c-7f6e5d4c3b2a\n"                               \
    "a=rtpmap:96 opus/48000/2\n"                                                                   \
    "a=rtpmap:0 PCMU/8000\n"                                                                       \
    "a=rtpmap:8 PCMA/8000\n"                                                                       \
    "a=candidate:9d0a5c2e3b6f4a18b7c1d2e3f4a5b6c7 1 udp 2130706431 192.0.2.77 47852 typ host\n"    \
    "a=candidate:3c5b1e4c-1b2a-4c3d 1 udp 2113937151 3c5b1e4c-1b2a-4c3d-9e8f-0a1b2c3d4e5f.local "  \
    "54321 typ host generation 0 network-cost 999\n"                                               \
    "a=candidate:4e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c 1 udp 1694498815 198.51.100.9 47852 typ srflx "  \
    "raddr 192.0.2.77 rport 47852\n"                                                               \
    "a=end-of-candidates\n"                                                                        \
    "a=ice-ufrag:Kx7q\n"                                                                           \
    "a=ice-pwd:Ue1sKd0WtOwq6BvyXdG3zA\n"                                                           \
    "a=setup:actpass\n"

/* A SIP phone's offer: plain RTP/AVP, static payload types without rtpmap. */
#define SIP_OFFER                                                                                  \
    "v=0\n"                                                                                        \
    "o=deskphone 2890844526 2890844526 IN IP4 192.0.2.50\n"                                        \
    "s=SIP Call\n"                                                                                 \
    "c=IN IP4 192.0.2.50\n"                                                                        \
    "t=0 0\n"                                                                                      \
    "m=audio 30000 RTP/AVP 8 0 101\n"                                                              \
    "a=rtpmap:8 PCMA/8000\n"                                                                       \
    "a=rtpmap:101 telephone-event/8000\n"                                                          \
    "a=fmtp:101 0-16\n"                                                                            \
    "a=ptime:20\n"                                                                                 \
    "a=sendrecv\n"

/* A data channel alone. */
#define DATACHANNEL_OFFER                                                                          \
    CHROMIUM_SESSION                                                                               \
    "a=group:BUNDLE 0\n"                                                                           \
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"                                           \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "a=ice-ufrag:Sx+9\n"                                                                           \
    "a=ice-pwd:Fkn3QEZz7rPtnmsuFN6v6Tc5\n"                                                         \
    "a=fingerprint:sha-256 " CHROMIUM_FP "\n"                                                      \
    "a=setup:actpass\n"                                                                            \
    "a=mid:0\n"                                                                                    \
    "a=sctp-port:5000\n"                                                                           \
    "a=max-message-size:262144\n"

/* What Chromium answers to our WEBRTC offer (sdp_offer_create), SETUP and formats varying. */
#define CHROMIUM_ANSWER(MLINE, SETUP, RTPMAPS)                                                     \
    "v=0\n"                                                                                        \
    "o=- 5049321183652164335 2 IN IP4 127.0.0.1\n"                                                 \
    "s=-\n"                                                                                        \
    "t=0 0\n"                                                                                      \
    "a=group:BUNDLE 0\n"                                                                           \
    "a=msid-semantic: WMS\n" MLINE "\n"                                                            \
    "c=IN IP4 0.0.0.0\n"                                                                           \
    "a=rtcp:9 IN IP4 0.0.0.0\n"                                                                    \
    "a=ice-ufrag:Jm1x\n"                                                                           \
    "a=ice-pwd:0b6Vb9aCw1uHrVzjqqUQc3Pm\n"                                                         \
    "a=ice-options:trickle\n"                                                                      \
    "a=fingerprint:sha-256 " CHROMIUM_FP "\n"                                                      \
    "a=setup:" SETUP "\n"                                                                          \
    "a=mid:0\n"                                                                                    \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"                                     \
    "a=recvonly\n"                                                                                 \
    "a=rtcp-mux\n" RTPMAPS

#define CHROMIUM_ANSWER_RTPMAPS                                                                    \
    "a=rtpmap:111 opus/48000/2\n"                                                                  \
    "a=fmtp:111 minptime=10;useinbandfec=1;stereo=1;maxaveragebitrate=64000\n"                     \
    "a=rtpmap:126 telephone-event/48000\n"

#endif
