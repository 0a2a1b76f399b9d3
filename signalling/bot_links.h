/*
 * Direct rooms linked to group rooms. Element places calls only in two-member rooms, so for each
 * user and group room the bot keeps one direct room whose calls join the group room's
 * conference. Kept in state_dir/links.json so links survive restarts.
 */
#ifndef SB_SIGNALLING_BOT_LINKS_H
#define SB_SIGNALLING_BOT_LINKS_H

struct bot_links;

/* state_dir NULL keeps links in memory only. A damaged file is logged and started afresh. */
int bot_links_load(struct bot_links **lp, const char *state_dir);

/* The direct room linked for (user, group_room), or NULL. */
const char *bot_links_direct_room(const struct bot_links *l, const char *user,
                                  const char *group_room);
/* The group room a direct room is linked to, or NULL when it is not a linked direct room. */
const char *bot_links_group_room(const struct bot_links *l, const char *direct_room);
/* The user a linked direct room belongs to, or NULL. */
const char *bot_links_user(const struct bot_links *l, const char *direct_room);

/* Links (or relinks) and saves. 0 or an errno (saving failed: the link still holds in memory). */
int bot_links_set(struct bot_links *l, const char *user, const char *group_room,
                  const char *direct_room);
/* Forgets a direct room (the user left it). */
void bot_links_remove_direct(struct bot_links *l, const char *direct_room);

#endif
