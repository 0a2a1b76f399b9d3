/*
 * Conferences by name: opened by the first join, closed when the last member leaves, so an idle
 * conference costs nothing. What a name means is the caller's business — the gateway names a
 * conference after the Matrix room it belongs to — so a Matrix call and a SIP call that name the
 * same room meet in the same mix.
 *
 * Threads: main loop only (the rooms themselves tick on their clocks).
 */
#ifndef SB_CONF_REGISTRY_H
#define SB_CONF_REGISTRY_H

#include "conf/conf.h"

struct conf_registry;

int conf_registry_alloc(struct conf_registry **rp, struct conf_mixer *mixer);

/* Joins port to the conference called name (opening it if needed). */
int conf_registry_join(struct conf_registry *r, const char *name, const struct conf_port *port,
                       const char *label, struct conf_member **mp);

/* Leaves (synchronously, as conf_member_leave) and closes the conference if it is now empty. */
void conf_registry_leave(struct conf_registry *r, struct conf_member *mb);

/* The open conference called name, or NULL. */
struct conf_room *conf_registry_find(struct conf_registry *r, const char *name);

/* Open conferences (for tests and status). */
unsigned conf_registry_count(const struct conf_registry *r);

#endif
