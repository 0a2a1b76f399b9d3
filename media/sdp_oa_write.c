/*
 * Offer/answer: writing our offers and answers (see sdp_offer_answer.h).
 *
 * The WEBRTC descriptions follow what Chromium itself writes for an audio transceiver, line for
 * line where it matters (c= and a=rtcp before the candidates, ICE and DTLS attributes before the
 * mid, msid, rtcp-mux, then the formats), because the first peer that must accept them is
 * Chromium's setRemoteDescription, and a description shaped like its own never meets a corner
 * of its parser nobody else has tried. What we leave out on purpose: transport-cc and the other
 * feedback and header extensions we do not implement (a peer would wait for feedback that never
 * comes), and every codec but the chosen one (the mixer decodes one).
 *
 * The RTP_AVP descriptions are what a SIP phone expects: c= at the session level, no ICE, DTLS,
 * mid or msid, and a=ptime:20 because we send 20 ms frames; rtcp-mux offered (and answered
 * where offered) because it halves the NAT bindings, and SDES a=crypto lines last.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "media/sdp_oa_int.h"
#include "media/sdp_offer_answer.h"

int sdp_codecs_select(enum sdp_profile profile, const char *const *names, size_t n,
                      struct sdp_codec *out, size_t cap, size_t *count, size_t *bad)
{
    size_t nd, k = 0;
    const struct sdp_codec *def = sdp_codecs_default(profile, &nd);
    if (!names || !n || !out || !count)
        return EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct sdp_codec *c = NULL;
        for (size_t d = 0; d < nd && !c && names[i]; d++) {
            if (!sdp_oa_is_dtmf(def[d].name) && !strcasecmp(names[i], def[d].name))
                c = &def[d];
        }
        if (!c) {
            if (bad)
                *bad = i;
            return ENOENT;
        }
        for (size_t j = 0; j < k; j++) {
            if (out[j].pt == c->pt)
                return EINVAL;
        }
        if (k == cap)
            return EOVERFLOW;
        out[k++] = *c;
    }
    /* telephone-event at every clock rate chosen, in the default list's order */
    size_t ncodecs = k;
    for (size_t d = 0; d < nd; d++) {
        bool want = false;
        for (size_t j = 0; j < ncodecs && sdp_oa_is_dtmf(def[d].name); j++)
            want |= out[j].clock_rate == def[d].clock_rate;
        if (!want)
            continue;
        if (k == cap)
            return EOVERFLOW;
        out[k++] = def[d];
    }
    *count = k;
    return 0;
}

/* A format we write: our codec entry under a payload type, with its rtcp-fb or not. */
struct wfmt {
    const struct sdp_codec *c;
    uint8_t pt;
    bool fb;
};

/* What one audio section says. */
struct waudio {
    const struct sdp_local *l;
    const char *proto;
    const char *mid; /* NULL: no a=mid */
    enum sdp_setup setup;
    enum sdp_dir dir;
    uint8_t ext_id;
    struct wfmt f[SDP_MAX_FORMATS];
    size_t nf;
    char addr[64];
    uint16_t port;
    bool rtcp_mux;                   /* RTP_AVP: a=rtcp-mux */
    const struct sdp_crypto *crypto; /* RTP_AVP: a=crypto lines */
    size_t ncrypto;
};

/* The address and port for c= and m=: given, the first usable candidate's, or RFC 8829's
 * "0.0.0.0 9" placeholder while there is none. */
static void default_addr(const struct sdp_local *l, char *addr, size_t cap, uint16_t *port)
{
    if (l->addr) {
        snprintf(addr, cap, "%s", l->addr);
        *port = l->port;
        return;
    }
    for (size_t i = 0; l->profile == SDP_PROFILE_WEBRTC && i < l->ncandidates; i++) {
        const char *c = l->candidates[i];
        if (!c)
            continue;
        if (!strncmp(c, "a=", 2))
            c += 2;
        if (strncmp(c, "candidate:", 10))
            continue;
        unsigned comp, p;
        char transport[8], a[64];
        /* foundation component transport priority address port typ type ... */
        if (sscanf(c + 10, "%*s %u %7s %*s %63s %u", &comp, transport, a, &p) == 4 && comp == 1 &&
            !strcasecmp(transport, "udp") && p && p <= 65535 && !strstr(a, ".local")) {
            snprintf(addr, cap, "%s", a);
            *port = (uint16_t)p;
            return;
        }
    }
    snprintf(addr, cap, "0.0.0.0");
    *port = 9;
}

static const char *ipver(const char *addr)
{
    return strchr(addr, ':') ? "IP6" : "IP4";
}

static int add_session_part(struct sdp_session **sp, const struct sdp_local *l,
                            const char *bundle_mid, const char *addr)
{
    struct sdp_session *s;
    int e = sdp_session_alloc(&s, l->sess_id, l->sess_version);
    if (e)
        return e;
    if (l->profile == SDP_PROFILE_RTP_AVP) {
        e = sdp_origin_set_addr(s, addr);
        if (!e)
            e = sdp_conn_set(s, NULL, addr);
    } else {
        if (bundle_mid)
            e = sdp_attr_addf(s, NULL, "group", "BUNDLE %s", bundle_mid);
        if (!e && l->ice_lite)
            e = sdp_attr_add(s, NULL, "ice-lite", NULL);
        if (!e && l->msid_stream)
            e = sdp_attr_addf(s, NULL, "msid-semantic", " WMS %s", l->msid_stream);
    }
    if (e) {
        mem_deref(s);
        return e;
    }
    *sp = s;
    return 0;
}

static int add_candidates(struct sdp_session *s, struct sdp_media *m, const struct sdp_local *l)
{
    for (size_t i = 0; i < l->ncandidates; i++) {
        const char *c = l->candidates[i];
        if (!c)
            return EINVAL;
        if (!strncmp(c, "a=", 2))
            c += 2;
        if (strncmp(c, "candidate:", 10))
            return EINVAL;
        int e = sdp_attr_add(s, m, "candidate", c + 10);
        if (e)
            return e;
    }
    return l->candidates_done ? sdp_attr_add(s, m, "end-of-candidates", NULL) : 0;
}

static int add_formats(struct sdp_session *s, struct sdp_media *m, const struct waudio *w)
{
    int e = 0;
    for (size_t i = 0; i < w->nf && !e; i++) {
        const struct wfmt *f = &w->f[i];
        unsigned ch = f->c->channels ? f->c->channels : 1;
        if (ch > 1)
            e = sdp_attr_addf(s, m, "rtpmap", "%u %s/%u/%u", f->pt, f->c->name,
                              (unsigned)f->c->clock_rate, ch);
        else
            e = sdp_attr_addf(s, m, "rtpmap", "%u %s/%u", f->pt, f->c->name,
                              (unsigned)f->c->clock_rate);
        if (!e && f->fb && f->c->rtcp_fb)
            e = sdp_attr_addf(s, m, "rtcp-fb", "%u %s", f->pt, f->c->rtcp_fb);
        if (!e && f->c->fmtp)
            e = sdp_attr_addf(s, m, "fmtp", "%u %s", f->pt, f->c->fmtp);
    }
    return e;
}

static int add_audio(struct sdp_session *s, const struct waudio *w)
{
    const struct sdp_local *l = w->l;
    const bool webrtc = l->profile == SDP_PROFILE_WEBRTC;
    struct sdp_media *m;
    int e = sdp_media_add(s, &m, "audio", w->port, w->proto);
    for (size_t i = 0; i < w->nf && !e; i++) {
        char pt[4];
        snprintf(pt, sizeof(pt), "%u", w->f[i].pt);
        e = sdp_media_add_format(s, m, pt);
    }
    if (!e && webrtc) {
        static const char *const setup[] = {"", "actpass", "active", "passive"};
        e = sdp_conn_set(s, m, w->addr);
        if (!e)
            e = sdp_attr_addf(s, m, "rtcp", "%u IN %s %s", w->port, ipver(w->addr), w->addr);
        if (!e)
            e = add_candidates(s, m, l);
        if (!e)
            e = sdp_attr_add(s, m, "ice-ufrag", l->ice_ufrag);
        if (!e)
            e = sdp_attr_add(s, m, "ice-pwd", l->ice_pwd);
        if (!e)
            e = sdp_attr_add(s, m, "ice-options", "trickle");
        if (!e)
            e = sdp_attr_addf(s, m, "fingerprint", "%s %s", l->fp_alg, l->fingerprint);
        if (!e)
            e = sdp_attr_add(s, m, "setup", setup[w->setup]);
    }
    if (!e && w->mid)
        e = sdp_attr_add(s, m, "mid", w->mid);
    if (!e && w->ext_id)
        e = sdp_attr_addf(s, m, "extmap", "%u %s", w->ext_id, SDP_URI_AUDIO_LEVEL);
    if (!e)
        e = sdp_attr_add(s, m, sdp_dir_name(w->dir), NULL);
    if (!e && webrtc && l->msid_stream && l->msid_track)
        e = sdp_attr_addf(s, m, "msid", "%s %s", l->msid_stream, l->msid_track);
    if (!e && (webrtc || w->rtcp_mux))
        e = sdp_attr_add(s, m, "rtcp-mux", NULL);
    if (!e)
        e = add_formats(s, m, w);
    if (!e && !webrtc)
        e = sdp_attr_add(s, m, "ptime", "20");
    for (size_t i = 0; i < w->ncrypto && !e; i++) {
        char line[160];
        e = sdp_crypto_format(&w->crypto[i], line, sizeof(line));
        if (!e)
            e = sdp_attr_add(s, m, "crypto", line);
        explicit_bzero(line, sizeof(line));
    }
    if (!e && webrtc && l->ssrc && l->cname)
        e = sdp_attr_addf(s, m, "ssrc", "%u cname:%s", (unsigned)l->ssrc, l->cname);
    return e;
}

/* An m-section we refuse (RFC 3264 6): its media and proto, port 0, one of its formats, and
 * nothing but its mid. */
static int add_refused(struct sdp_session *s, const struct sdp_media *om, enum sdp_profile p)
{
    struct sdp_media *m;
    int e = sdp_media_add(s, &m, om->type, 0, om->proto);
    if (!e)
        e = sdp_media_add_format(s, m, om->fmts[0]);
    if (!e && p == SDP_PROFILE_WEBRTC)
        e = sdp_conn_set(s, m, "0.0.0.0");
    const char *mid = sdp_media_mid(om);
    if (!e && mid)
        e = sdp_attr_add(s, m, "mid", mid);
    return e;
}

/* What a description we write needs: ICE and DTLS (WEBRTC), or where RTP goes (RTP_AVP). */
static int check_writable(const struct sdp_local *l)
{
    if (l->profile != SDP_PROFILE_WEBRTC)
        return l->addr && l->port ? 0 : EINVAL;
    if (!l->ice_ufrag || !l->ice_pwd || !l->fp_alg || !l->fingerprint)
        return EINVAL;
    if (l->ncandidates && !l->candidates)
        return EINVAL;
    return 0;
}

static int finish(struct sdp_session *s, int e, char **textp)
{
    if (!e)
        e = sdp_format(s, textp);
    mem_deref(s);
    return e;
}

int sdp_answer_create(const struct sdp_session *offer, const struct sdp_local *local, char **answer,
                      struct sdp_audio_params *out, char *err, size_t errlen)
{
    if (!answer || !offer || sdp_oa_check_local(local) || check_writable(local))
        return EINVAL;
    struct sdp_audio_params tmp;
    struct sdp_audio_params *p = out ? out : &tmp;
    int e = sdp_offer_read(offer, local, p, err, errlen);
    if (e)
        return e;

    const struct sdp_media *om = &offer->media[p->mline];
    const struct sdp_codec *cs;
    size_t ncs;
    sdp_oa_codecs(local, &cs, &ncs);

    struct waudio w = {.l = local,
                       .proto = om->proto,
                       .mid = p->mid[0] ? p->mid : NULL,
                       .setup =
                           p->dtls_role == DTLS_ROLE_CLIENT ? SDP_SETUP_ACTIVE : SDP_SETUP_PASSIVE,
                       .dir = p->dir,
                       .ext_id = p->level_ext_id,
                       .rtcp_mux = p->rtcp_mux,
                       .crypto = p->srtp ? &p->crypto_local : NULL,
                       .ncrypto = p->srtp ? 1 : 0};
    struct sdp_rtpmap rm = {.pt = p->pt, .clock_rate = p->clock_rate, .channels = p->channels};
    snprintf(rm.name, sizeof(rm.name), "%s", p->codec);
    for (size_t i = 0; i < ncs && !w.nf; i++) {
        if (!sdp_oa_is_dtmf(cs[i].name) && sdp_oa_codec_match(&cs[i], &rm))
            w.f[w.nf++] = (struct wfmt){&cs[i], p->pt, false};
    }
    for (size_t i = 0; i < ncs && p->dtmf_pt && w.nf == 1; i++) {
        if (sdp_oa_is_dtmf(cs[i].name) && cs[i].clock_rate == p->clock_rate)
            w.f[w.nf++] = (struct wfmt){&cs[i], p->dtmf_pt, false};
    }
    if (!w.nf) /* sdp_offer_read chose from cs: cannot happen */
        return EINVAL;
    /* feedback is answered only where the offer asked for the same */
    for (size_t i = 0; i < w.nf; i++) {
        const struct wfmt *f = &w.f[i];
        for (const struct sdp_attr *a = NULL;
             f->c->rtcp_fb && (a = sdp_attrs_next(&om->attrs, "rtcp-fb", a));) {
            char want[64];
            snprintf(want, sizeof(want), "%u %s", f->pt, f->c->rtcp_fb);
            if (a->value && !strcmp(a->value, want))
                w.f[i].fb = true;
        }
    }
    default_addr(local, w.addr, sizeof(w.addr), &w.port);

    struct sdp_session *s;
    e = add_session_part(&s, local, p->bundle ? p->mid : NULL, w.addr);
    if (e)
        return e;
    for (size_t i = 0; i < offer->nmedia && !e; i++) {
        if (i == p->mline) {
            e = add_audio(s, &w);
        } else if ((e = add_refused(s, &offer->media[i], local->profile)) == EINVAL) {
            mem_deref(s);
            return sdp_oa_fail(err, errlen, EBADMSG, "m-section %zu cannot be echoed back", i + 1);
        }
    }
    return finish(s, e, answer);
}

int sdp_offer_create(const struct sdp_local *local, char **offer)
{
    if (!offer || sdp_oa_check_local(local) || check_writable(local))
        return EINVAL;
    const bool webrtc = local->profile == SDP_PROFILE_WEBRTC;
    const struct sdp_codec *cs;
    size_t ncs;
    sdp_oa_codecs(local, &cs, &ncs);
    if (!ncs || ncs > SDP_MAX_FORMATS)
        return EINVAL;

    const bool sdes = !webrtc && local->srtp != SDP_SRTP_OFF;
    struct waudio w = {.l = local,
                       .proto = sdp_oa_offer_proto(local),
                       .mid = webrtc ? "0" : NULL,
                       .setup = SDP_SETUP_ACTPASS,
                       .dir = local->dir,
                       .ext_id = webrtc ? 1 : 0,
                       .rtcp_mux = !webrtc && local->rtcp_mux,
                       .crypto = sdes ? local->crypto : NULL,
                       .ncrypto = sdes ? local->ncrypto : 0};
    bool used[128] = {false};
    for (size_t i = 0; i < ncs; i++) {
        if (!cs[i].name || cs[i].pt > 127 || used[cs[i].pt] || !cs[i].clock_rate)
            return EINVAL;
        used[cs[i].pt] = true;
        w.f[w.nf++] = (struct wfmt){&cs[i], cs[i].pt, true};
    }
    default_addr(local, w.addr, sizeof(w.addr), &w.port);

    struct sdp_session *s;
    int e = add_session_part(&s, local, webrtc ? "0" : NULL, w.addr);
    if (e)
        return e;
    return finish(s, add_audio(s, &w), offer);
}
