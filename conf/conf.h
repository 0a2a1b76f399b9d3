/*
 * Conferences: rooms of members, each member hearing everyone else but never itself (an N-1
 * mix), on a 20 ms clock.
 *
 * A mixer owns a few clock threads. Each room is pinned to one clock for its whole life (the
 * least loaded one when the room is made) and is ticked by it only while it has members: an
 * idle room is on no list, and a clock with nothing to tick has its timer disarmed and sleeps
 * in read(). On every tick a clock takes each of its rooms' private lock in turn, pulls 20 ms
 * from every member's port, mixes, and pushes 20 ms back. No lock is shared between rooms on
 * that path and a tick allocates nothing, so rooms scale with clocks, not with a global lock.
 *
 * conf/ never knows what is behind a member: a WebRTC leg's audio stream, a SIP leg, a test's
 * fake. It sees a port: a handful of function pointers and an object.
 *
 * Passthrough: a room of exactly two members whose ports can forward (pull_packets /
 * push_packets) and whose formats are equal (same codec, clock and channels: a two-party bridge
 * with one codec on both sides) hands each member's received payloads to the other undecoded,
 * paced by the receiving jitter buffer one tick at a time. It mixes again (decode, mix, encode)
 * from the tick after a third member joins, and forwards again once the room is back to two;
 * each change is logged. Each direction switches on its own: forwarding waits for a packet
 * boundary (pull says EAGAIN until then, and the member is read instead), a muted member is
 * read (and not heard) rather than forwarded, and on the way back to mixing the room primes the
 * receiving decoder and the sending encoder with the audio the listener heard last
 * (resume_decoding / resume_encoding), so that neither blends stale state into the next frame.
 * Timestamps and sequence numbers run on across every switch (audio_stream.h). DTMF is relayed
 * the same way in both modes.
 *
 * Large rooms: each tick mixes only the few members who are talking (active speakers: at most
 * CONF_SPEAKERS, chosen by their frames' RFC 6464 or measured levels, each keeping its slot
 * through pauses shorter than a hangover, and displaced before that only by someone clearly
 * louder). Everyone who is not a speaker hears the same mix of them; a speaker hears it without
 * itself, through its own encoder. The shared mix is encoded once per distinct output (format
 * and encoder settings) and that payload is pushed to each of its listeners (push_packets:
 * each leg still stamps it with its own SSRC, sequence numbers, timestamps and protection);
 * ports without the payload ops are written the mix. A member becoming a speaker primes its
 * own encoder with the shared audio it heard last (resume_encoding), so the switch does not
 * blend stale encoder state in. A member's frames below the speakers' are not heard at all
 * (nobody hears a fifth talker over four louder ones until one of them stops).
 *
 * DTMF is relayed, not mixed: a digit one member sends (conf_member_dtmf(), from whatever
 * thread its leg receives on) waits in that member's small queue until the next tick, which
 * hands it to every other member's port (send_dtmf) before writing their audio, so each leg
 * sends it as RFC 4733 events interleaved with its audio, at its own payload type and clock.
 *
 * Threads: the control calls (alloc, join, leave, mute, foreach, free) come from one thread
 * (the main loop) or are serialised by the caller. Getters of counts and stats may be called
 * from anywhere. join / leave / foreach take the room's lock, so they wait at most for that
 * one room's tick in progress (microseconds), never for the clock's other rooms.
 */
#ifndef SB_CONF_CONF_H
#define SB_CONF_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "media/audio_stream.h"

struct conf_member;

/* A member's audio, as the clock sees it. Called only from the room's clock thread, one member
 * after another, never after conf_member_leave() has returned (attach excepted: see there). */
struct conf_port {
    /* Next 20 ms received from the participant; must always fill pcm (zeros with
     * info->kind = AUDIO_FRAME_SILENT when there is nothing). */
    void (*read)(void *obj, int16_t *pcm, struct audio_frame_info *info);
    /* 20 ms to send to the participant. Members who hear the same mix get the same pointer,
     * so a port that encodes may recognise a frame it has already encoded. */
    int (*write)(void *obj, const int16_t *pcm);
    /* Once per tick after write, e.g. for RTCP; may be NULL. */
    void (*tick)(void *obj, uint64_t now_us);
    /* Optional: the clock fell behind and gave up `frames` ticks before this one. The port's
     * timeline steps over them as the wall clock did: what waited to be played in them is
     * dropped (not played late, which would add their time to every later frame) and the
     * next audio sent is stamped where it really belongs (RFC 3550: timestamps follow the
     * sampling clock), marked as the start of a talk spurt. Called before this tick's read. */
    void (*skip)(void *obj, unsigned frames);
    void *obj;
    /* Optional (NULL: the member gets no digits): sends the participant an RFC 4733 digit,
     * interleaved with the audio of the next writes. 0, or an errno (ENOTSUP when its leg
     * negotiated no telephone-event: it just does not get digits). */
    int (*send_dtmf)(void *obj, char digit, uint16_t duration_ms);
    /* Optional: called by conf_room_join() with the new member, and by conf_member_leave()
     * with NULL, on the control thread and outside any tick, so that the port can pass the
     * digits its participant sends to conf_member_dtmf(). When the call with NULL returns,
     * the port must no longer use the member. */
    void (*attach)(void *obj, struct conf_member *mb);

    /* Optional passthrough: all four ops, and a format, or none (the member is always mixed).
     * pull_packets: instead of read, the next 20 ms as received payloads (audio_stream_pull:
     * 0, or EAGAIN when this tick must be read). push_packets: instead of write, the other
     * member's payloads, sent as they are (audio_stream_push). resume_decoding: before the
     * first read after pulls: primes the decoder with the last payloads pulled and gives the
     * last 20 ms the listener heard, or EAGAIN while that payload plays into this tick (pull
     * once more; force: switch now). resume_encoding: before the first write after pushes:
     * primes the encoder with that audio. */
    struct audio_format format;
    /* With format, push_packets and resume_encoding: the settings of the port's encoder. Members
     * of one format and equal settings who hear the same mix get it encoded once, the same
     * payload pushed to each (see "Large rooms"). */
    struct audio_encoder_cfg enc_cfg;
    int (*pull_packets)(void *obj, struct audio_fwd *fwd);
    int (*push_packets)(void *obj, const struct audio_fwd *fwd);
    int (*resume_decoding)(void *obj, int16_t *pcm, bool force);
    void (*resume_encoding)(void *obj, const int16_t *pcm);
};

/* A port onto a media audio stream, passthrough included. The port does not hold a reference:
 * the caller keeps the stream alive until conf_member_leave() returns. While the stream is a
 * member, its DTMF handler belongs to the conference (the digits it receives are relayed to the
 * room); leaving removes the handler. */
struct audio_stream;
void conf_port_from_audio_stream(struct conf_port *p, struct audio_stream *as);

/* ---- mixer: the clock threads ---- */

struct conf_mixer;

/* The clock period. */
#define CONF_TICK_US (AUDIO_FRAME_MS * 1000u)

/* Starts nclocks clock threads (0: one per online CPU), each idle until a room needs it.
 * mem_deref() of the mixer stops and joins them; rooms still alive then stop ticking (their
 * joins fail with EINVAL) but stay valid until freed. */
int conf_mixer_alloc(struct conf_mixer **mp, unsigned nclocks);

unsigned conf_mixer_clock_count(const struct conf_mixer *m);

struct conf_clock_stats {
    uint64_t ticks;       /* ticks run */
    uint64_t overruns;    /* ticks that started one period or more after their deadline */
    uint64_t skipped;     /* deadlines given up when the clock fell too far behind */
    uint32_t max_tick_us; /* longest tick (the work, not the wait) */
    uint32_t last_tick_us;
    unsigned rooms;   /* rooms pinned to this clock */
    unsigned members; /* members in them */
    bool running;     /* timer armed: some room has members */
};

/* EINVAL when idx is out of range. Lock-free; the figures are each exact, not a snapshot. */
int conf_mixer_clock_stats(const struct conf_mixer *m, unsigned idx, struct conf_clock_stats *st);

/* ---- rooms and members ---- */

struct conf_room;

/* A room pinned to the mixer's least-loaded clock; name is for logs. The room holds a reference
 * to its clock, not to the mixer. mem_deref() frees it once every member has left. */
int conf_room_alloc(struct conf_room **rp, struct conf_mixer *m, const char *name);

/* Adds a member whose audio is port (copied); label names it in !who lists and logs (copied).
 * It hears the room and is heard from the next tick on. *mp is valid until conf_member_leave().
 * EINVAL for bad arguments or a room whose mixer is gone, ENOMEM. */
int conf_room_join(struct conf_room *room, const struct conf_port *port, const char *label,
                   struct conf_member **mp);

/* Removes the member and frees it. Synchronous: when it returns, the clock is not inside the
 * port and never will be again, so the caller may free what the port points at right away.
 * The others do not miss a tick. NULL is accepted. */
void conf_member_leave(struct conf_member *mb);

/* Members mixed at most in one tick (the active speakers). */
#define CONF_SPEAKERS 4

/* Digits not yet relayed that one member may have queued. */
#define CONF_DTMF_QUEUE 16

/* A digit ('0'-'9', '*', '#', 'A'-'D') the member sent, for everyone else in the room: logged,
 * queued, and handed to the other members' ports on the next tick. Thread-safe, for as long as
 * the member exists; allocates nothing. A muted member's digits are logged but not relayed
 * (nobody hears it). EINVAL for another character, ENOBUFS when CONF_DTMF_QUEUE digits are
 * already waiting. */
int conf_member_dtmf(struct conf_member *mb, char digit, uint16_t duration_ms);

/* A muted (held) member is read but not mixed: nobody hears it; it still hears the room. */
void conf_member_set_muted(struct conf_member *mb, bool muted);
bool conf_member_muted(const struct conf_member *mb);

const char *conf_member_label(const struct conf_member *mb);
/* The room the member is in (valid while the member is). */
struct conf_room *conf_member_room(const struct conf_member *mb);

struct conf_member_stats {
    uint64_t ticks;            /* frames read from and written to the port */
    uint64_t frames_mixed;     /* frames the others heard decoded and mixed (not silent, muted) */
    uint64_t frames_forwarded; /* frames whose payloads went to the other member undecoded */
    uint64_t frames_shared;    /* frames it was sent as the room's mix encoded once for many */
    uint64_t frames_silent;
    uint64_t write_errors; /* port write() returned non-zero (EAGAIN before connecting...) */
    uint64_t dtmf_in;      /* digits from the member, relayed to the room */
    uint64_t dtmf_out;     /* digits relayed to the member (its send_dtmf accepted them) */
    /* -dBov of the last frame read, 127 for silence (RFC 6464 scale); for a forwarded frame
     * the sender's own figure when its leg negotiated the level extension, else 127. */
    uint8_t last_level;
    bool speaker; /* holds one of the room's speaker slots: its frames are mixed */
};

/* Lock-free; safe from any thread while the member exists. */
void conf_member_get_stats(const struct conf_member *mb, struct conf_member_stats *st);

/* Whether the room forwards (two members, same format) rather than mixes. Lock-free. */
bool conf_room_passthrough(const struct conf_room *room);

/* Members now in the room. Lock-free. */
unsigned conf_room_count(const struct conf_room *room);
const char *conf_room_name(const struct conf_room *room);
/* Index of the clock the room is pinned to. */
unsigned conf_room_clock(const struct conf_room *room);

/* Calls h for each member in join order, with the room locked: h must not join, leave or free
 * anything in this room. Return false from h to stop. */
typedef bool(conf_member_h)(struct conf_member *mb, void *arg);
void conf_room_foreach(struct conf_room *room, conf_member_h *h, void *arg);

#endif
