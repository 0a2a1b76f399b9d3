/*
 * mxload's Janus driver: the same participants as on switchboard, in a Janus AudioBridge room,
 * over Janus's plain HTTP API (the REST transport on loopback). One Janus session carries every
 * participant: a handle each, attached to janus.plugin.audiobridge, and one long-poll for all
 * their events, routed by handle id (the "sender" of each event).
 *
 * Set-up: create the session; attach a control handle and create the room (48 kHz, no audio
 * level events, private, not permanent), or use the given one when it already exists. Each
 * participant: attach, "join" with our JSEP offer (Opus only, audio only) and "quality" (Janus's
 * name for the Opus complexity of the mix it encodes for that participant); the JSEP answer
 * comes back as an event on the long-poll, with Janus's candidates in it. The session is kept
 * alive by the long-poll and a keepalive every 20 s. At the end: "leave" for each participant,
 * then the session is destroyed.
 */
#ifndef SB_TOOLS_MXCALL_JANUS_H
#define SB_TOOLS_MXCALL_JANUS_H

#include <stdint.h>

struct load;
struct janus_load;

/* url: Janus's HTTP API base ("http://127.0.0.1:8088/janus"); room: 0 picks one. */
int janus_load_alloc(struct janus_load **jp, struct load *ld, const char *url, uint64_t room);
/* Creates the session and the room; load_driver_ready() follows (or load_driver_failed()). */
int janus_load_start(struct janus_load *j);

#endif
