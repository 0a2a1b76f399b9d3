/*
 * The SIP side of the gateway: one sofia-sip stack (nua) on the main loop, the trunks it
 * registers to, the dial plan, and the SIP calls it carries. A SIP call's media is a plain RTP
 * (or SDES-SRTP) leg that joins a conference by name, exactly like a Matrix call's WebRTC leg, so
 * phones and Matrix users meet in the same mix.
 *
 * The SIP side never talks Matrix. What it needs from the Matrix side (room notices, ringing a
 * Matrix user for an inbound call to a user route) comes through struct sip_gw_host, wired by
 * the daemon; what the Matrix side asks of it (!dial, !hangup NUMBER, !sip status) are the
 * sip_gw_* calls below.
 *
 * Threads: main loop only.
 */
#ifndef SB_SIP_SIP_H
#define SB_SIP_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/session.h"

struct sip_gw;
struct sip_call;
struct conf_registry;
struct media_workers;

enum sip_srtp {
    SIP_SRTP_OFF,      /* RTP/AVP only */
    SIP_SRTP_OPTIONAL, /* offer RTP/AVP with a=crypto; accept either */
    SIP_SRTP_REQUIRED, /* RTP/SAVP only: refuse plain RTP (488) */
};

struct sip_trunk_cfg {
    const char *name;
    const char *registrar; /* "sip:host[:port]"; NULL: IP-authenticated, no REGISTER */
    const char *proxy;     /* where outbound INVITEs go */
    const char *username;
    const char *password; /* SECRET: never logged */
    const char *from_user;
    const char *const *codecs; /* preference order: "opus", "g722", "pcmu", "pcma" */
    size_t ncodecs;
    enum sip_srtp srtp;
    const char *const *allowed_sources; /* CIDRs ("127.0.0.1/32"); inbound from elsewhere: 403 */
    size_t nallowed_sources;
    uint32_t register_expires_s; /* the expiry we ask the registrar for (0: 300) */
};

struct sip_route_in {
    const char *number; /* the dialled number (Request-URI or To user part) */
    const char *room;   /* the caller joins this room's conference ... */
    const char *user;   /* ... or the bot rings this Matrix user, bridged 1:1 */
};

struct sip_cfg {
    const char *const *listen; /* "udp:127.0.0.1:5060", "tcp:...", "tls:..." */
    size_t nlisten;
    const char *public_ip;          /* advertised in SDP and Contact; NULL: the listen address */
    const char *tls_cert, *tls_key; /* for tls: listeners */
    const struct sip_trunk_cfg *trunks;
    size_t ntrunks;
    const struct sip_route_in *routes_in;
    size_t nroutes_in;
    const char *const *outbound_allowed_users; /* globs of Matrix users who may !dial */
    size_t noutbound_allowed_users;
    const char *const *outbound_allowed_numbers; /* globs of numbers they may dial */
    size_t noutbound_allowed_numbers;
    uint32_t invite_rate_per_source; /* INVITEs per second per source address; beyond: 503 */
    uint32_t session_expires_s;      /* RFC 4028 session timer (default 1800) */

    /* The media legs: where they bind and what they are allowed to use. */
    struct media_workers *workers;
    struct media_session_cfg media; /* template: worker, log_ctx, profile set per call */
    uint32_t ring_timeout_ms;       /* an outbound call not answered by then: CANCEL */
    uint32_t rtp_timeout_ms;        /* no RTP/RTCP this long from an unheld peer: BYE (0: off) */
};

/* What the SIP side asks of the Matrix side. */
struct sip_gw_host {
    void *arg;
    /* A line for a Matrix room (dial progress: ringing, busy, answered, hung up). */
    void (*notice)(void *arg, const char *room_id, const char *text);
    /* An inbound call to a user route: ring user_id on Matrix into the conference named
     * conference ("sip-bridge:<Call-ID>", the SIP leg joins it on answer), reporting back with
     * sip_call_user_*() on sc. 0 when the ring is under way. sc stays valid until the host is
     * told user_call_gone, or until it calls sip_call_user_refused / _hangup itself. */
    int (*ring_user)(void *arg, const char *user_id, const char *conference, const char *caller,
                     struct sip_call *sc);
    /* The phone gave up (CANCEL) or hung up a bridged call: end the Matrix half. */
    void (*user_call_gone)(void *arg, struct sip_call *sc);
};

/* Copies what it keeps of cfg (its strings and lists may go afterwards); conferences and
 * cfg->workers must outlive the gateway. */
int sip_gw_alloc(struct sip_gw **gwp, const struct sip_cfg *cfg, struct conf_registry *conferences,
                 const struct sip_gw_host *host);
/* Binds the listeners and starts registering. */
int sip_gw_start(struct sip_gw *gw);

/* The Matrix side's answers for an inbound call to a user route. */
void sip_call_user_ringing(struct sip_call *sc);           /* 180 (if not yet sent) */
void sip_call_user_answered(struct sip_call *sc);          /* 200 OK; the leg joins the bridge */
void sip_call_user_refused(struct sip_call *sc, int code); /* 603 rejected, 486 busy, 480 */
void sip_call_user_hangup(struct sip_call *sc);            /* BYE */
/* The Matrix user holds the answered call (true) or resumes it: the phone gets a re-INVITE
 * offering a=sendonly, then a=sendrecv again. Only the latest wish counts: one made while a
 * re-INVITE is out (or before the call is confirmed) goes once that is over. Glare (491) is
 * retried after RFC 3261's random wait; a re-INVITE the phone refuses leaves the call up, as it
 * was. */
void sip_call_user_hold(struct sip_call *sc, bool hold);

/* !dial: user (in notice_room) calls number into conference. EPERM when policy refuses (the
 * user or the number is not allowed: nothing leaves), ENOENT when no trunk can carry it; why
 * says what to tell the user. 0: the INVITE is on its way; progress arrives as notices. */
int sip_gw_dial(struct sip_gw *gw, const char *notice_room, const char *conference,
                const char *user_id, const char *number, char *why, size_t whylen);
/* !hangup NUMBER in conference: ENOENT when there is no such call. */
int sip_gw_hangup(struct sip_gw *gw, const char *conference, const char *number);
/* !sip status: registration state of each trunk and the calls up; g_free. */
char *sip_gw_status(struct sip_gw *gw);

/* Ends every call (BYE / CANCEL / 503 for those not answered), unregisters, then calls done,
 * each phase bounded (a few seconds). done must not free the gateway itself (quit the loop,
 * then mem_deref it). */
typedef void(sip_gw_stopped_h)(void *arg);
void sip_gw_shutdown(struct sip_gw *gw, sip_gw_stopped_h *done, void *arg);

#endif
