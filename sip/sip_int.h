/*
 * What the files of the SIP side share: the gateway, its trunks and its calls, and the few
 * functions one file offers the others. Internal to sip/.
 *
 * Every nua handle we keep is bound to one of our objects (a trunk's REGISTER handle, a call's
 * dialog); the object starts with a kind tag so the one nua callback (stack.c) can tell which
 * it is. Handles nua creates for requests we refuse stay unbound and are destroyed right after
 * the response.
 */
#ifndef SB_SIP_SIP_INT_H
#define SB_SIP_SIP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_glib.h>

#include "media/sdp_offer_answer.h"
#include "sip/acl.h"
#include "sip/dtmf_info.h"
#include "sip/plan.h"
#include "sip/ratelimit.h"
#include "sip/sip.h"

struct conf_member;

/* Distinct values, so a stray pointer is unlikely to pass for either. */
enum sip_hkind {
    SIP_HANDLE_TRUNK = 0x54524b31,
    SIP_HANDLE_CALL = 0x43414c31,
};

/* Codecs a trunk allows, in its preference order. */
enum sip_codec {
    SIP_CODEC_OPUS,
    SIP_CODEC_G722,
    SIP_CODEC_PCMU,
    SIP_CODEC_PCMA,
};
#define SIP_MAX_CODECS 4

const char *sip_codec_name(enum sip_codec c);

enum sip_reg_state {
    SIP_REG_NONE,          /* IP-authenticated: nothing to register */
    SIP_REG_REGISTERING,   /* a REGISTER is out */
    SIP_REG_REGISTERED,    /* the registrar accepted our contact */
    SIP_REG_FAILED,        /* refused or unreachable; a retry is scheduled */
    SIP_REG_UNREGISTERING, /* shutting down: the un-REGISTER is out */
    SIP_REG_STOPPED,       /* unregistered (or given up) at shutdown */
};

struct sip_trunk {
    enum sip_hkind kind; /* first: the handle magic */
    struct sip_gw *gw;
    char *name;
    char *registrar; /* sip URI, NULL for IP-authenticated trunks */
    char *proxy;     /* where outbound INVITEs go (NULL: the registrar) */
    char *domain;    /* host[:port] of the registrar (or proxy): From / To of our requests */
    char *username;  /* may be NULL (IP-authenticated) */
    char *password;  /* SECRET */
    char *from_user;
    enum sip_codec codecs[SIP_MAX_CODECS];
    size_t ncodecs;
    /* The same as our SDP's preference list (with telephone-event), for the media session. */
    struct sdp_codec sdp_codecs[SIP_MAX_CODECS + 2];
    size_t nsdp_codecs;
    enum sip_srtp srtp;
    struct sip_cidr *sources;
    size_t nsources;
    uint32_t expires_s;
    char log_ctx[96];

    /* Registration. */
    nua_handle_t *reg;
    enum sip_reg_state state;
    int64_t expires_at_us; /* monotonic; when our registration lapses */
    int last_status;
    char last_phrase[64];
    unsigned backoff_s;
    int64_t retry_at_us;
    guint retry_timer;
    unsigned auth_tries;
};

enum sip_call_state {
    SIP_CALL_INCOMING, /* inbound INVITE not answered yet (a user route rings) */
    SIP_CALL_CALLING,  /* outbound INVITE sent */
    SIP_CALL_RINGING,  /* outbound: the far end rings (180/183) */
    SIP_CALL_ANSWERED, /* 200 sent (inbound, waiting for the ACK) or received */
    SIP_CALL_ACTIVE,   /* confirmed: media flows */
    SIP_CALL_ENDING,   /* our BYE / CANCEL / final refusal is out */
    SIP_CALL_ENDED,
};

const char *sip_call_state_name(enum sip_call_state s);

struct sip_call {
    enum sip_hkind kind; /* first: the handle magic */
    struct sip_gw *gw;
    nua_handle_t *nh;
    bool inbound;
    enum sip_call_state state;
    struct sip_trunk *trunk; /* inbound: the trunk its source matched */

    char *call_id;
    char *number;      /* the dialled number (ours inbound, theirs outbound) */
    char *caller;      /* inbound: who is calling (From user) */
    char *peer;        /* the address the INVITE came from / went to */
    char *conference;  /* the conference it joins */
    char *notice_room; /* outbound: where progress goes */
    char *user_id;     /* outbound: who dialled; inbound user route: who is rung */
    char log_ctx[256];

    struct media_session *media;
    struct conf_member *member;
    bool held;          /* the peer holds us: muted in the mix */
    bool await_ack_sdp; /* our 200 carried the offer (late offer): the answer is in the ACK */
    bool user_route;    /* inbound to a Matrix user: the host was told */
    bool user_gone_told;
    bool ringing_sent; /* inbound: 180 went out */
    bool notice_sent;  /* outbound: the room was told how it ended */
    bool by_remote;    /* who ended it */
    unsigned auth_tries;
    int end_status; /* the SIP status that ended it (0: BYE) */
    char end_phrase[96];

    /* Our re-INVITEs: the Matrix user of a bridged call holds the phone (sip/hold.c). */
    bool hold_wanted;       /* what the Matrix user asks for now */
    bool hold_local;        /* what every SDP of ours asks for since our last re-offer */
    bool hold_agreed;       /* what the phone last accepted */
    bool reinvite_out;      /* our re-INVITE awaits its final response */
    bool reoffer_unsettled; /* the media session still waits for an answer to our re-offer */
    unsigned glare_tries;   /* 491s in a row */
    bool reinvite_fatal;    /* the phone's refusal of our re-INVITE makes the stack end the call */
    guint reinvite_timer;   /* the retry after a 491 */
    bool bye_deferred;      /* hung up while our re-INVITE was out: BYE once it is answered */
    guint bye_timer;        /* bounds that wait */

    guint ring_timer;
    guint media_timer;
    guint guard_timer;
    int64_t t_start_us, t_answer_us;
    int64_t media_since_us; /* the RTP timeout counts from here at the earliest (a resume) */
};

struct sip_gw {
    struct sip_cfg cfg; /* scalars; the strings it pointed at are not kept */
    char *public_ip;
    char **listen;
    size_t nlisten;
    char *tls_cert, *tls_key, *tls_dir;
    struct media_session_cfg media;
    struct media_workers *workers;
    struct conf_registry *conferences;
    struct sip_gw_host host;
    struct sip_plan *plan;
    struct sip_ratelimit *limiter;
    struct sip_ratelimit *log_limiter; /* bounds the log lines refusals write */
    struct sip_trunk **trunks;
    size_t ntrunks;
    GList *calls; /* struct sip_call *, one reference each */

    su_home_t home[1];
    su_root_t *root;
    GSource *source;
    nua_t *nua;
    bool started;
    bool stopping;
    bool nua_shutdown_sent, nua_shutdown_done;
    sip_gw_stopped_h *stopped;
    void *stopped_arg;
    guint stop_timer;
    int64_t stop_deadline_us;
    int stop_phase;
};

/* ---- stack.c ---- */

/* The trunk whose allowed_sources hold sa, or NULL. */
struct sip_trunk *sip_gw_trunk_for_source(struct sip_gw *gw, const struct sockaddr *sa);
/* The trunk outbound calls go through, or NULL. */
struct sip_trunk *sip_gw_outbound_trunk(struct sip_gw *gw);
/* Posts a notice through the host (no-op without one). */
void sip_gw_notice(struct sip_gw *gw, const char *room, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether a refusal from this source may be logged now (bounded per source). */
bool sip_gw_may_log(struct sip_gw *gw, const char *source);

/* ---- trunk.c ---- */

int sip_trunk_alloc(struct sip_trunk **tp, struct sip_gw *gw, const struct sip_trunk_cfg *cfg);
void sip_trunk_start(struct sip_trunk *t);
/* Un-REGISTERs (if registered); true when there is nothing to wait for. */
bool sip_trunk_stop(struct sip_trunk *t);
bool sip_trunk_stopped(const struct sip_trunk *t);
void sip_trunk_event(struct sip_trunk *t, nua_event_t ev, int status, const char *phrase,
                     const sip_t *sip);
/* One line of !sip status. */
void sip_trunk_status(const struct sip_trunk *t, GString *out);
/* Answers a 401 / 407 with the trunk's credentials; false when we cannot (no credentials, or
 * tries used up): the request has failed. */
bool sip_trunk_answer_challenge(const struct sip_trunk *t, nua_handle_t *nh, const sip_t *sip,
                                unsigned *tries, const char *log_ctx);

/* ---- call.c ---- */

int sip_call_alloc(struct sip_call **cp, struct sip_gw *gw, nua_handle_t *nh, bool inbound,
                   struct sip_trunk *trunk);
void sip_call_set_log_ctx(struct sip_call *c);
/* A media session for the call: profile, codecs and SRTP from its trunk. */
int sip_call_media_alloc(struct sip_call *c, bool offerer);
/* Joins c->conference (once the media is negotiated). 0 or an errno. */
int sip_call_join(struct sip_call *c);
/* Applies the direction the last negotiation agreed (hold / resume). */
void sip_call_update_hold(struct sip_call *c);
/* The terminal transition (idempotent): leaves the conference, closes the media, tells whoever
 * waits (notices, the host), drops the nua handle and the gateway's reference. The caller holds
 * a reference of its own if it uses c afterwards. */
void sip_call_finish(struct sip_call *c);
/* Ends the call our side: a final response, CANCEL or BYE, whichever its state calls for. A
 * BYE waits for the final response to our re-INVITE if one is out (at most a few seconds). */
void sip_call_hangup(struct sip_call *c, int status, const char *phrase);
/* Ends the wait of a BYE a hang-up deferred (see sip_call_hangup): sends it, or drops it when
 * the stack ends the session itself (send false). No-op when none waits. */
void sip_call_deferred_bye(struct sip_call *c, bool send);
/* Every nua event of a call's handle. */
void sip_call_event(struct sip_call *c, nua_event_t ev, int status, const char *phrase,
                    const sip_t *sip, tagi_t tags[]);
/* Starts watching for media that stopped (and the answered call's other timers). */
void sip_call_active(struct sip_call *c);
/* The media may only now start to flow again (a hold ended): the RTP timeout counts from now. */
void sip_call_media_watch_reset(struct sip_call *c);
/* The SDP body of a message (NULL when there is none); EBADMSG for a non-SDP body. */
int sip_msg_sdp(const sip_t *sip, const char **sdp);

/* ---- inbound.c ---- */

/* A new INVITE (no dialog of ours yet). */
void sip_inbound_invite(struct sip_gw *gw, nua_handle_t *nh, const sip_t *sip);
/* A re-INVITE in one of our dialogs (hold, resume, session refresh). */
void sip_inbound_reinvite(struct sip_call *c, const sip_t *sip);
/* The ACK of an inbound call (it may carry the answer to our late offer). */
void sip_inbound_ack(struct sip_call *c, const sip_t *sip);
/* An out-of-dialog OPTIONS (keep-alive probes from trunks). */
void sip_inbound_options(struct sip_gw *gw, nua_handle_t *nh, const sip_t *sip);

/* ---- hold.c ---- */

/* Sends the re-INVITE the Matrix user's hold (or resume) calls for, when one is due and the
 * dialog allows it now; otherwise later (after the answer in flight, a 491's wait, the ACK). */
void sip_hold_kick(struct sip_call *c);
/* The final response to our re-INVITE (c->reinvite_out). */
void sip_hold_response(struct sip_call *c, int status, const char *phrase, const sip_t *sip);
/* The phone's own offer was answered: what our answer asked for is what it knows now. */
void sip_hold_remote_offer_answered(struct sip_call *c);
/* Drops a re-offer of ours the phone never answered (refused, crossed), before a new one. */
void sip_hold_settle(struct sip_call *c);

/* ---- outbound.c ---- */

/* Responses to our INVITE. */
void sip_outbound_response(struct sip_call *c, int status, const char *phrase, const sip_t *sip);
/* Progress of an outbound call at its end (notice to the room). */
void sip_outbound_ended(struct sip_call *c);

#endif
