/*
 * An audio session: glue between the SDP offer/answer (what was agreed), the transport (where
 * packets go: WebRTC, or plain RTP for SIP) and the audio stream (what they carry). The session
 * keeps the previous negotiation's result so a re-offer can be told apart from a new call: an
 * ICE restart restarts ICE only, a hold changes the stream's direction only, new SDES keys
 * re-key the transport only, and the stream itself (SSRC, sequence numbers, codec state) lives
 * for the whole call.
 *
 * The two profiles differ in the transport and in what our SDP says about it (local_desc); the
 * offer/answer calls and the stream are shared. With plain RTP there is nothing to gather or
 * connect, so the session reports `connected` itself, on the owner's loop, after the first
 * negotiation.
 */
#include "media/session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "base/log.h"
#include "base/mem.h"
#include "media/audio_stream.h"
#include "media/dtls.h"
#include "media/rtp_transport.h"
#include "media/sdp.h"
#include "media/sdp_offer_answer.h"
#include "media/webrtc_transport.h"

#define SESSION_MAX_LOCAL_CANDIDATES 32

struct media_session {
    struct media_session_cfg cfg;
    char *log_ctx;
    const struct media_session_handlers *h;
    void *arg;
    bool offerer;
    bool closed;
    bool rtp_profile; /* SDP_PROFILE_RTP_AVP: rtp below, else transport */

    struct webrtc_transport *transport;
    struct rtp_transport *rtp;
    struct audio_stream *audio;

    /* Configuration copies: the codec list (its strings in one block), the SDP address. */
    struct sdp_codec *codecs;
    size_t ncodecs;
    char *codec_strings;
    char *addr;
    /* RTP_AVP with SDES: our keys, one per suite, for the whole session. SECRET. */
    struct sdp_crypto crypto[SDP_CRYPTO_MAX];
    size_t ncrypto;
    /* RTP_AVP: `connected` is ours to report, once, from the owner's loop. */
    GMainContext *owner;
    GSource *connected_src;
    bool connected;

    /* What our SDP says about us. */
    uint64_t sess_id, sess_version;
    uint32_t ssrc;
    char cname[24], stream_id[40], track_id[40];
    char *local_cands[SESSION_MAX_LOCAL_CANDIDATES];
    size_t nlocal_cands;
    bool gathering_done;

    /* The agreed parameters, once any negotiation finished. */
    bool negotiated;
    struct sdp_audio_params params;
    struct sdp_session *remote_offer; /* the offer awaiting our answer */

    /* Our own renegotiation: the direction we ask for (every later SDP of ours says it too),
     * and whether our re-offer still waits for its answer. */
    enum sdp_dir local_dir;
    bool reoffer_pending;
};

static const char *const failure_names[] = {
    [MEDIA_FAIL_ICE] = "ice",
    [MEDIA_FAIL_DTLS] = "dtls",
    [MEDIA_FAIL_FINGERPRINT] = "fingerprint",
    [MEDIA_FAIL_CONSENT] = "consent",
    [MEDIA_FAIL_CLOSED] = "closed",
};

const char *media_failure_name(enum media_failure f)
{
    return (unsigned)f < sizeof(failure_names) / sizeof(failure_names[0]) ? failure_names[f] : "?";
}

static void random_token(char *buf, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[64];
    size_t n = len - 1 < sizeof(rnd) ? len - 1 : sizeof(rnd);
    RAND_bytes(rnd, (int)n);
    for (size_t i = 0; i < n; i++)
        buf[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    buf[n] = '\0';
}

static void clear_local_candidates(struct media_session *s)
{
    for (size_t i = 0; i < s->nlocal_cands; i++)
        mem_deref(s->local_cands[i]);
    s->nlocal_cands = 0;
    s->gathering_done = false;
}

/* ---- transport events ---- */

static void on_local_candidate(const char *candidate, void *arg)
{
    struct media_session *s = arg;
    if (s->nlocal_cands < SESSION_MAX_LOCAL_CANDIDATES)
        s->local_cands[s->nlocal_cands++] = mem_strdup(candidate);
    if (s->h->local_candidate)
        s->h->local_candidate(candidate, s->arg);
}

static void on_gathering_done(void *arg)
{
    struct media_session *s = arg;
    s->gathering_done = true;
    if (s->h->gathering_done)
        s->h->gathering_done(s->arg);
}

static void on_connected(void *arg)
{
    struct media_session *s = arg;
    if (s->h->connected)
        s->h->connected(s->arg);
}

static void on_failed(enum webrtc_failure why, const char *detail, void *arg)
{
    struct media_session *s = arg;
    enum media_failure f = why == WEBRTC_FAIL_DTLS          ? MEDIA_FAIL_DTLS
                           : why == WEBRTC_FAIL_FINGERPRINT ? MEDIA_FAIL_FINGERPRINT
                           : why == WEBRTC_FAIL_CONSENT     ? MEDIA_FAIL_CONSENT
                           : why == WEBRTC_FAIL_CLOSED      ? MEDIA_FAIL_CLOSED
                                                            : MEDIA_FAIL_ICE;
    if (s->h->failed)
        s->h->failed(f, detail, s->arg);
}

static const struct webrtc_transport_handlers transport_handlers = {
    .local_candidate = on_local_candidate,
    .gathering_done = on_gathering_done,
    .connected = on_connected,
    .failed = on_failed,
};

/* ---- our description ---- */

static void local_desc(struct media_session *s, struct sdp_local *l)
{
    memset(l, 0, sizeof(*l));
    l->profile = s->rtp_profile ? SDP_PROFILE_RTP_AVP : SDP_PROFILE_WEBRTC;
    l->sess_id = s->sess_id;
    l->sess_version = s->sess_version;
    if (s->rtp_profile) {
        l->addr = s->addr;
        l->port = rtp_transport_local_port(s->rtp);
        l->rtcp_mux = true;
        l->srtp = s->cfg.srtp;
        l->crypto = s->ncrypto ? s->crypto : NULL;
        l->ncrypto = s->ncrypto;
    } else {
        webrtc_transport_local_credentials(s->transport, &l->ice_ufrag, &l->ice_pwd);
        l->ice_lite = webrtc_transport_ice_lite(s->transport);
        l->fp_alg = "sha-256";
        l->fingerprint = dtls_identity_fingerprint(s->cfg.identity);
        l->candidates = (const char *const *)s->local_cands;
        l->ncandidates = s->nlocal_cands;
        l->candidates_done = s->gathering_done;
        l->msid_stream = s->stream_id;
        l->msid_track = s->track_id;
    }
    l->ssrc = s->ssrc;
    l->cname = s->cname;
    l->dir = s->local_dir;
    l->codecs = s->codecs;
    l->ncodecs = s->ncodecs;
    l->current = s->negotiated ? &s->params : NULL;
}

/* ---- applying a negotiation ---- */

static int start_stream(struct media_session *s, const struct sdp_audio_params *p,
                        struct media_transport *t, char *err, size_t errlen)
{
    enum audio_codec codec;
    if (audio_codec_from_name(p->codec, &codec)) {
        snprintf(err, errlen, "no audio stream for codec %s", p->codec);
        return ENOTSUP;
    }
    struct audio_stream_cfg ac = {
        .codec = codec,
        .pt = p->pt,
        .dtmf_pt = p->dtmf_pt,
        .level_ext_id = p->level_ext_id,
        .fec = p->opus_fec,
        /* Never DTX, whatever the peer accepts: what we send is a mix, and a steady sound
         * in it (music, a tone) would reach the peer as comfort noise. */
        .dtx = false,
        .bitrate = s->cfg.opus_bitrate,
        .complexity = s->cfg.opus_complexity,
        .local_ssrc = s->ssrc,
        .cname = s->cname,
        .log_ctx = s->log_ctx,
    };
    int e = audio_stream_alloc(&s->audio, t, &ac);
    if (e)
        snprintf(err, errlen, "cannot start the %s audio stream: %s", p->codec, strerror(e));
    return e;
}

static gboolean report_connected(gpointer data)
{
    struct media_session *s = data;
    g_source_unref(s->connected_src);
    s->connected_src = NULL;
    if (!s->closed && s->h->connected)
        s->h->connected(s->arg);
    return G_SOURCE_REMOVE;
}

/* Plain RTP: the stream first (so it receives from the first packet the transport takes), then
 * where the transport sends and what it accepts. */
static int apply_rtp(struct media_session *s, const struct sdp_audio_params *p, char *err,
                     size_t errlen)
{
    bool new_stream = !s->audio;
    if (new_stream) {
        int e = start_stream(s, p, rtp_transport_media(s->rtp), err, errlen);
        if (e)
            return e;
    }
    uint8_t pts[2] = {p->pt, p->dtmf_pt};
    struct rtp_transport_remote r = {
        .addr = p->remote_addr,
        .port = p->remote_port,
        .rtcp_addr = p->remote_rtcp_addr,
        .rtcp_port = p->remote_rtcp_port,
        .rtcp_mux = p->rtcp_mux,
        .send_rtp = p->send,
        .pts = pts,
        .npts = p->dtmf_pt ? 2 : 1,
        .srtp = p->srtp,
        .suite = p->crypto_local.suite,
        .local_key = p->crypto_local.key,
        .remote_key = p->crypto_remote.key,
        .key_len = p->crypto_local.key_len,
    };
    int e = rtp_transport_set_remote(s->rtp, &r);
    if (e) {
        snprintf(err, errlen, "the transport refused the remote description (%s:%u): %s",
                 p->remote_addr, p->remote_port,
                 e == EBADMSG ? "not a numeric IP address" : strerror(e));
        if (new_stream)
            s->audio = mem_deref(s->audio); /* it never received: the transport had no remote */
        return e;
    }
    if (!s->connected) {
        s->connected = true;
        s->connected_src = g_idle_source_new();
        g_source_set_callback(s->connected_src, report_connected, s, NULL);
        g_source_attach(s->connected_src, s->owner);
    }
    if (p->srtp != s->params.srtp || !s->negotiated)
        logc_info(s->log_ctx, "rtp: media to %s:%u, %s%s", p->remote_addr, p->remote_port,
                  p->srtp ? "SRTP " : "plain RTP",
                  p->srtp ? sdp_crypto_suite_name(p->crypto_local.suite) : "");
    return 0;
}

static int apply_webrtc(struct media_session *s, const struct sdp_audio_params *p, char *err,
                        size_t errlen)
{
    int e = webrtc_transport_set_remote(s->transport, p->ice_ufrag, p->ice_pwd, p->fp_alg,
                                        p->fingerprint, p->dtls_role);
    if (e) {
        snprintf(err, errlen, "the transport refused the remote description: %s", strerror(e));
        return e;
    }
    for (size_t i = 0; i < p->ncandidates; i++)
        webrtc_transport_add_remote_candidate(s->transport, p->candidates[i]);
    if (p->end_of_candidates)
        webrtc_transport_remote_gathering_done(s->transport);
    return s->audio ? 0 : start_stream(s, p, webrtc_transport_media(s->transport), err, errlen);
}

static int apply(struct media_session *s, const struct sdp_audio_params *p, char *err,
                 size_t errlen)
{
    /* The stream lives for the whole call with the codec it started with. */
    if (s->audio && (strcasecmp(p->codec, s->params.codec) || p->pt != s->params.pt ||
                     p->clock_rate != s->params.clock_rate)) {
        snprintf(err, errlen,
                 "the renegotiation would change the codec from %s/%u (%u) to %s/%u "
                 "(%u): not supported while the stream runs",
                 s->params.codec, (unsigned)s->params.clock_rate, s->params.pt, p->codec,
                 (unsigned)p->clock_rate, p->pt);
        return ENOTSUP;
    }
    int e = s->rtp_profile ? apply_rtp(s, p, err, errlen) : apply_webrtc(s, p, err, errlen);
    if (e)
        return e;
    audio_stream_set_direction(s->audio, p->send, p->recv);
    s->params = *p;
    /* The candidate pointers belong to the remote SDP, which is not kept. */
    s->params.ncandidates = 0;
    s->negotiated = true;
    return 0;
}

int media_session_set_remote_offer(struct media_session *s, const char *sdp, char *err,
                                   size_t errlen)
{
    if (s->offerer && !s->negotiated) {
        snprintf(err, errlen, "we made the offer; an offer from the peer now is glare");
        return EPROTO;
    }
    struct sdp_session *offer = NULL;
    int e = sdp_parse(&offer, sdp, strlen(sdp), err, errlen);
    if (e)
        return e;
    struct sdp_local l;
    local_desc(s, &l);
    struct sdp_audio_params p;
    e = sdp_offer_read(offer, &l, &p, err, errlen);
    if (!e) {
        if (p.ice_restart) {
            logc_info(s->log_ctx, "the peer restarts ICE");
            clear_local_candidates(s);
        }
        e = apply(s, &p, err, errlen);
    }
    explicit_bzero(&p, sizeof(p));
    if (e) {
        mem_deref(offer);
        return e;
    }
    mem_deref(s->remote_offer);
    s->remote_offer = offer;
    s->reoffer_pending = false; /* theirs won: ours is rolled back */
    return 0;
}

int media_session_create_answer(struct media_session *s, char **sdp)
{
    if (!s->remote_offer)
        return EINVAL;
    s->sess_version++;
    struct sdp_local l;
    local_desc(s, &l);
    struct sdp_audio_params p;
    char err[256];
    int e = sdp_answer_create(s->remote_offer, &l, sdp, &p, err, sizeof(err));
    explicit_bzero(&p, sizeof(p));
    if (e)
        logc_error(s->log_ctx, "cannot write our answer: %s", err);
    s->remote_offer = mem_deref(s->remote_offer);
    return e;
}

int media_session_create_offer(struct media_session *s, char **sdp)
{
    if (!s->offerer)
        return EINVAL;
    struct sdp_local l;
    local_desc(s, &l);
    return sdp_offer_create(&l, sdp);
}

/* Our codec and telephone-event with the payload types already agreed, so a re-offer cannot
 * move the running stream to other payload types (when the peer made the first offer, its
 * numbers rule). */
static size_t agreed_codecs(const struct media_session *s, struct sdp_codec *out)
{
    size_t n, k = 0;
    const struct sdp_codec *def =
        s->codecs
            ? s->codecs
            : sdp_codecs_default(s->rtp_profile ? SDP_PROFILE_RTP_AVP : SDP_PROFILE_WEBRTC, &n);
    if (s->codecs)
        n = s->ncodecs;
    bool have_codec = false, have_dtmf = false;
    for (size_t i = 0; i < n && k < 2; i++) {
        bool dtmf = strcasecmp(def[i].name, "telephone-event") == 0;
        if (def[i].clock_rate != s->params.clock_rate || (dtmf ? have_dtmf : have_codec))
            continue;
        if (dtmf ? !s->params.dtmf_pt : strcasecmp(def[i].name, s->params.codec) != 0)
            continue;
        out[k] = def[i];
        out[k].pt = dtmf ? s->params.dtmf_pt : s->params.pt;
        have_dtmf |= dtmf;
        have_codec |= !dtmf;
        k++;
    }
    return k;
}

int media_session_create_reoffer(struct media_session *s, bool send, bool recv, char **sdp)
{
    if (!s->negotiated || s->remote_offer)
        return EINVAL;
    if (s->reoffer_pending)
        return EALREADY;
    s->local_dir = (enum sdp_dir)((send ? SDP_DIR_SEND : 0) | (recv ? SDP_DIR_RECV : 0));
    s->sess_version++;
    struct sdp_local l;
    local_desc(s, &l);
    struct sdp_codec codecs[2];
    l.ncodecs = agreed_codecs(s, codecs);
    l.codecs = l.ncodecs ? codecs : NULL;
    int e = sdp_offer_create(&l, sdp);
    if (!e)
        s->reoffer_pending = true;
    return e;
}

int media_session_set_remote_answer(struct media_session *s, const char *sdp, char *err,
                                    size_t errlen)
{
    if (!s->offerer && !s->reoffer_pending) {
        snprintf(err, errlen, "an answer, but we made no offer");
        return EPROTO;
    }
    /* Whatever comes of it, the re-offer is settled: a bad answer leaves the session as the
     * previous negotiation made it. */
    bool reoffer = s->reoffer_pending;
    s->reoffer_pending = false;
    struct sdp_session *answer = NULL;
    int e = sdp_parse(&answer, sdp, strlen(sdp), err, errlen);
    if (e)
        return e;
    struct sdp_local l;
    local_desc(s, &l);
    struct sdp_codec codecs[2];
    if (reoffer) {
        l.ncodecs = agreed_codecs(s, codecs);
        l.codecs = l.ncodecs ? codecs : NULL;
    }
    struct sdp_audio_params p;
    e = sdp_answer_read(answer, &l, &p, err, errlen);
    if (!e)
        e = apply(s, &p, err, errlen);
    explicit_bzero(&p, sizeof(p));
    mem_deref(answer);
    return e;
}

int media_session_add_remote_candidate(struct media_session *s, const char *candidate)
{
    if (s->rtp_profile)
        return ENOTSUP;
    if (!candidate[0]) {
        webrtc_transport_remote_gathering_done(s->transport);
        return 0;
    }
    return webrtc_transport_add_remote_candidate(s->transport, candidate);
}

bool media_session_gathering_done(const struct media_session *s)
{
    return s->gathering_done;
}

struct audio_stream *media_session_audio(struct media_session *s)
{
    return s->audio;
}

void media_session_direction(const struct media_session *s, bool *send, bool *recv)
{
    *send = s->negotiated && s->params.send;
    *recv = s->negotiated && s->params.recv;
}

const char *media_session_stream_id(const struct media_session *s)
{
    return s->stream_id;
}

uint64_t media_session_last_rx_us(const struct media_session *s)
{
    return s->audio ? audio_stream_last_rx_us(s->audio) : 0;
}

void media_session_get_info(struct media_session *s, struct media_session_info *info)
{
    memset(info, 0, sizeof(*info));
    if (s->rtp_profile) {
        struct rtp_transport_info ri;
        rtp_transport_get_info(s->rtp, &ri);
        info->connected = s->connected;
        snprintf(info->local_addr, sizeof(info->local_addr), "%s", ri.local_addr);
        snprintf(info->remote_addr, sizeof(info->remote_addr), "%s", ri.remote_addr);
        if (s->negotiated && s->params.srtp)
            snprintf(info->srtp, sizeof(info->srtp), "%s",
                     sdp_crypto_suite_name(s->params.crypto_local.suite));
    } else {
        struct webrtc_transport_info ti;
        webrtc_transport_get_info(s->transport, &ti);
        info->connected = ti.connected;
        snprintf(info->local_addr, sizeof(info->local_addr), "%s", ti.local_addr);
        snprintf(info->remote_addr, sizeof(info->remote_addr), "%s", ti.remote_addr);
        info->ice_connected_us = ti.ice_connected_us;
        info->dtls_done_us = ti.dtls_done_us;
        snprintf(info->srtp, sizeof(info->srtp), "%s", ti.srtp_profile);
    }
    if (s->negotiated)
        snprintf(info->codec, sizeof(info->codec), "%s/%u", s->params.codec, s->params.clock_rate);
}

int media_session_rtp_info(struct media_session *s, struct rtp_transport_info *info)
{
    if (!s->rtp_profile)
        return ENOENT;
    rtp_transport_get_info(s->rtp, info);
    return 0;
}

void media_session_close(struct media_session *s)
{
    if (s->closed)
        return;
    s->closed = true;
    if (s->connected_src) {
        g_source_destroy(s->connected_src);
        g_source_unref(s->connected_src);
        s->connected_src = NULL;
    }
    /* The transport first: once it is closed nothing delivers into the stream any more. */
    if (s->rtp)
        rtp_transport_close(s->rtp);
    if (s->transport)
        webrtc_transport_close(s->transport);
}

static void session_destroy(void *data)
{
    struct media_session *s = data;
    media_session_close(s);
    mem_deref(s->audio);
    mem_deref(s->transport);
    mem_deref(s->rtp);
    mem_deref(s->remote_offer);
    clear_local_candidates(s);
    explicit_bzero(s->crypto, sizeof(s->crypto));
    explicit_bzero(&s->params, sizeof(s->params));
    mem_deref(s->codecs);
    mem_deref(s->codec_strings);
    mem_deref(s->addr);
    if (s->owner)
        g_main_context_unref(s->owner);
    mem_deref(s->log_ctx);
}

/* A copy of the codec list, its strings in one block. */
static int copy_codecs(struct media_session *s, const struct sdp_codec *cs, size_t n)
{
    if (!cs || !n)
        return 0;
    if (n > SDP_MAX_FORMATS)
        return EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cs[i].name)
            return EINVAL;
        total += strlen(cs[i].name) + 1;
        total += cs[i].fmtp ? strlen(cs[i].fmtp) + 1 : 0;
        total += cs[i].rtcp_fb ? strlen(cs[i].rtcp_fb) + 1 : 0;
    }
    s->codecs = mem_zalloc(n * sizeof(*s->codecs), NULL);
    s->codec_strings = mem_alloc(total, NULL);
    if (!s->codecs || !s->codec_strings)
        return ENOMEM;
    char *at = s->codec_strings;
    for (size_t i = 0; i < n; i++) {
        const char **dst[3] = {&s->codecs[i].name, &s->codecs[i].fmtp, &s->codecs[i].rtcp_fb};
        const char *src[3] = {cs[i].name, cs[i].fmtp, cs[i].rtcp_fb};
        s->codecs[i] = cs[i];
        for (size_t k = 0; k < 3; k++) {
            *dst[k] = NULL;
            if (!src[k])
                continue;
            size_t len = strlen(src[k]) + 1;
            memcpy(at, src[k], len);
            *dst[k] = at;
            at += len;
        }
    }
    s->ncodecs = n;
    return 0;
}

/* Our SDES keys: one per suite we accept, from the CSPRNG, in our preference order (AES-CM 80
 * is what every SIP device has; then GCM; the short tag last). */
static int make_keys(struct media_session *s)
{
    enum srtp_suite suites[3];
    size_t n = 0;
    suites[n++] = SRTP_SUITE_AES_CM_128_HMAC_SHA1_80;
    if (srtp_session_gcm_supported())
        suites[n++] = SRTP_SUITE_AEAD_AES_128_GCM;
    suites[n++] = SRTP_SUITE_AES_CM_128_HMAC_SHA1_32;
    for (size_t i = 0; i < n; i++) {
        struct sdp_crypto *c = &s->crypto[i];
        c->tag = (uint32_t)i + 1;
        c->suite = suites[i];
        c->key_len = srtp_suite_key_len(suites[i]);
        if (RAND_bytes(c->key, (int)c->key_len) != 1)
            return EIO;
    }
    s->ncrypto = n;
    return 0;
}

static int alloc_rtp(struct media_session *s, const struct media_session_cfg *cfg)
{
    const char *addr = cfg->public_addr ? cfg->public_addr : cfg->local_ip;
    if ((unsigned)cfg->srtp > SDP_SRTP_REQUIRED || !cfg->local_ip)
        return EINVAL;
    if (!addr || !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::")) {
        logc_error(s->log_ctx, "rtp: no address to put into our SDP (set a public address when "
                               "binding to a wildcard)");
        return EINVAL;
    }
    s->addr = mem_strdup(addr);
    if (!s->addr)
        return ENOMEM;
    if (cfg->srtp != SDP_SRTP_OFF) {
        int e = make_keys(s);
        if (e)
            return e;
    }
    s->gathering_done = true;
    s->owner = g_main_context_ref_thread_default();
    struct rtp_transport_cfg tc = {
        .worker = cfg->worker,
        .local_ip = cfg->local_ip,
        .port_min = cfg->port_min,
        .port_max = cfg->port_max,
        .log_ctx = s->log_ctx,
    };
    return rtp_transport_alloc(&s->rtp, &tc);
}

static int alloc_webrtc(struct media_session *s, const struct media_session_cfg *cfg)
{
    struct webrtc_transport_cfg tc = {
        .worker = cfg->worker,
        .local_ip = cfg->local_ip,
        .port_min = cfg->port_min,
        .port_max = cfg->port_max,
        .controlling = s->offerer,
        .identity = cfg->identity,
        .log_ctx = s->log_ctx,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .ice = cfg->ice,
        .consent_timeout_ms = cfg->consent_timeout_ms,
    };
    int e = webrtc_transport_alloc(&s->transport, &tc, &transport_handlers, s);
    if (!e)
        e = webrtc_transport_gather(s->transport);
    return e;
}

int media_session_alloc(struct media_session **sp, const struct media_session_cfg *cfg,
                        bool offerer, const struct media_session_handlers *h, void *arg)
{
    if (cfg->profile != SDP_PROFILE_WEBRTC && cfg->profile != SDP_PROFILE_RTP_AVP)
        return EINVAL;
    struct media_session *s = mem_zalloc(sizeof(*s), session_destroy);
    if (!s)
        return ENOMEM;
    s->cfg = *cfg;
    s->log_ctx = mem_strdup(cfg->log_ctx ? cfg->log_ctx : "");
    s->cfg.log_ctx = s->log_ctx;
    s->cfg.codecs = NULL;
    s->cfg.public_addr = NULL;
    s->h = h;
    s->arg = arg;
    s->offerer = offerer;
    s->rtp_profile = cfg->profile == SDP_PROFILE_RTP_AVP;
    RAND_bytes((unsigned char *)&s->sess_id, sizeof(s->sess_id));
    s->sess_id &= 0x3fffffffffffffffULL; /* o= wants a positive 63-bit number */
    s->sess_version = 1;
    s->local_dir = SDP_DIR_SENDRECV;
    do {
        RAND_bytes((unsigned char *)&s->ssrc, sizeof(s->ssrc));
    } while (s->ssrc == 0);
    random_token(s->cname, sizeof(s->cname));
    random_token(s->stream_id, sizeof(s->stream_id));
    random_token(s->track_id, sizeof(s->track_id));

    int e = s->log_ctx ? copy_codecs(s, cfg->codecs, cfg->ncodecs) : ENOMEM;
    if (!e)
        e = s->rtp_profile ? alloc_rtp(s, cfg) : alloc_webrtc(s, cfg);
    if (e) {
        mem_deref(s);
        return e;
    }
    *sp = s;
    return 0;
}
