/*
 * mxload's switchboard driver: each participant calls the bot (m.call.invite with our offer,
 * invitee the bot) in one room, as its own Matrix user; one observer's /sync brings every
 * answer, candidate and hangup of the bot, routed to the participant by call id. The users,
 * their tokens and the room come from a file the benchmark prepared (see load.c).
 */
#ifndef SB_TOOLS_MXCALL_LOAD_MATRIX_H
#define SB_TOOLS_MXCALL_LOAD_MATRIX_H

struct load;
struct load_matrix;

/* Reads the file; sets ld->cfg.n to the number of users when it is 0 or larger. EINVAL (said
 * on stderr) for a bad file. */
int load_matrix_alloc(struct load_matrix **mp, struct load *ld, const char *path);
/* Starts the observer's sync; load_driver_ready() follows its first batch. */
int load_matrix_start(struct load_matrix *m);

#endif
