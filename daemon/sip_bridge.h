/*
 * The Matrix side and the SIP side, wired together: the SIP gateway made from the config's sip:
 * section, its host (room notices through the bot, phones ringing Matrix users), and the bot's
 * SIP commands (!dial, !hangup NUMBER, !sip status) through the gateway. Neither side knows the
 * other; this is the only place that knows both.
 *
 * A phone calling a user route: the bot rings the user (bot_ring_user) and what happens to the
 * ring is what the phone is told (180, 200, 603 / 486 / 480, BYE); the phone giving up cancels
 * the ring; the user holding or resuming the answered call re-INVITEs the phone.
 *
 * Threads: main loop only.
 */
#ifndef SB_DAEMON_SIP_BRIDGE_H
#define SB_DAEMON_SIP_BRIDGE_H

#include "media/session.h"
#include "sip/sip.h"

struct sip_bridge;
struct config;
struct bot;
struct conf_registry;
struct media_workers;

/* Makes the SIP gateway from cfg->sip (which must be enabled), starts it (listeners,
 * registrations) and hands the bot its SIP commands. bot, conferences and workers must outlive
 * the bridge; media is the template of the SIP legs' media (copied). */
int sip_bridge_alloc(struct sip_bridge **bp, const struct config *cfg, struct bot *bot,
                     struct media_workers *workers, const struct media_session_cfg *media,
                     struct conf_registry *conferences);

/* Ends every SIP call and unregisters (sip_gw_shutdown), then calls done. */
void sip_bridge_shutdown(struct sip_bridge *b, sip_gw_stopped_h *done, void *arg);

#endif
