/*
 * Private to conf/: what rooms (room.c) and clocks (mixer.c) know of each other.
 *
 * A clock keeps the rooms it ticks on an intrusive list it alone touches, so its tick walks
 * rooms without any lock of its own. Rooms reach that list through an inbox (a second
 * intrusive list behind the clock's small lock): a room that gets its first member pushes
 * itself there, the clock moves it over at its next tick, and drops it again on the first
 * tick that finds it empty. Each list holds a reference to the room, so a room that its owner
 * frees while the clock still has it lives until the clock lets go.
 */
#ifndef SB_CONF_CLOCK_H
#define SB_CONF_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct conf_clock;
struct conf_mixer;
struct conf_room;

/* Links embedded in a room; used by the clock only. Two links because a room emptied and
 * rejoined within one tick sits on the inbox while the clock is still unlinking it from the
 * tick list. */
struct conf_sched {
    struct conf_room *room;
    struct conf_sched *next;       /* tick list, owned by the clock thread */
    struct conf_sched *inbox_next; /* inbox, under the clock's lock */
};

/* The least loaded clock of m, with a reference the caller owns (mem_deref). */
struct conf_clock *conf_mixer_pick_clock(struct conf_mixer *m);

unsigned conf_clock_index(const struct conf_clock *c);

/* Load accounting for pinning. */
void conf_clock_add_rooms(struct conf_clock *c, int delta);
void conf_clock_add_members(struct conf_clock *c, int delta);

/* Puts the room on the clock (taking a reference to it) and wakes an idle clock. Called with
 * the room's lock held, by a room that is not yet on the clock. false once the clock stopped. */
bool conf_clock_schedule(struct conf_clock *c, struct conf_sched *s);

/* Called by the clock thread for each room on its list, now_us being CLOCK_MONOTONIC, skipped
 * the ticks the clock gave up just before this one (usually 0). Ticks the room under its lock;
 * false when the room has no members, in which case the room has marked itself unscheduled and
 * the clock must unlink it and drop its reference. */
bool conf_room_clock_tick(struct conf_room *r, uint64_t now_us, unsigned skipped);

/* By the clock's owner after its thread stopped: marks the room unscheduled before the clock
 * drops its reference. */
void conf_room_clock_detach(struct conf_room *r);

#endif
