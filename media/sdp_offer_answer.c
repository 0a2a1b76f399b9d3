/*
 * Offer/answer: reading remote offers and answers into sdp_audio_params (see
 * sdp_offer_answer.h). Writing our own offers and answers is in sdp_oa_write.c; both share the
 * few declarations of sdp_oa_int.h.
 *
 * Reading goes in one direction: find the audio m-section, choose the codec, then read what the
 * chosen section says about the transport. Everything copied out of the remote text is checked
 * first, so what reaches the transport (credentials, fingerprint) and what we echo back in our
 * answer (mids, payload types) is known to be well formed.
 */
#include "media/sdp_offer_answer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "media/sdp_int.h"
#include "media/sdp_oa_int.h"

static const struct sdp_codec webrtc_codecs[] = {
    {"opus", 48000, 2, 111, "minptime=10;useinbandfec=1", NULL},
    {"telephone-event", 48000, 1, 126, NULL, NULL},
};

static const struct sdp_codec avp_codecs[] = {
    {"opus", 48000, 2, 111, "minptime=10;useinbandfec=1", NULL},
    {"G722", 8000, 1, 9, NULL, NULL},
    {"PCMU", 8000, 1, 0, NULL, NULL},
    {"PCMA", 8000, 1, 8, NULL, NULL},
    {"telephone-event", 48000, 1, 126, "0-15", NULL},
    {"telephone-event", 8000, 1, 101, "0-15", NULL},
};

const struct sdp_codec *sdp_codecs_default(enum sdp_profile profile, size_t *count)
{
    if (profile == SDP_PROFILE_RTP_AVP) {
        *count = sizeof(avp_codecs) / sizeof(avp_codecs[0]);
        return avp_codecs;
    }
    *count = sizeof(webrtc_codecs) / sizeof(webrtc_codecs[0]);
    return webrtc_codecs;
}

void sdp_oa_codecs(const struct sdp_local *l, const struct sdp_codec **cs, size_t *n)
{
    if (l->codecs && l->ncodecs) {
        *cs = l->codecs;
        *n = l->ncodecs;
    } else {
        *cs = sdp_codecs_default(l->profile, n);
    }
}

int sdp_oa_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

bool sdp_oa_is_dtmf(const char *name)
{
    return !strcasecmp(name, "telephone-event");
}

bool sdp_oa_proto_savp(const char *proto)
{
    return !strcasecmp(proto, "RTP/SAVP") || !strcasecmp(proto, "RTP/SAVPF");
}

const char *sdp_oa_offer_proto(const struct sdp_local *l)
{
    if (l->profile != SDP_PROFILE_RTP_AVP)
        return "UDP/TLS/RTP/SAVPF";
    bool savp = l->srtp == SDP_SRTP_REQUIRED ||
                (l->srtp == SDP_SRTP_OPTIONAL && l->current && l->current->savp);
    return savp ? "RTP/SAVP" : "RTP/AVP";
}

bool sdp_oa_proto_ok(enum sdp_profile p, enum sdp_srtp srtp, const char *proto)
{
    static const char *const webrtc[] = {"UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVP", "RTP/SAVPF"};
    if (p == SDP_PROFILE_RTP_AVP) {
        if (!strcasecmp(proto, "RTP/AVP") || !strcasecmp(proto, "RTP/AVPF"))
            return true;
        return srtp != SDP_SRTP_OFF && sdp_oa_proto_savp(proto);
    }
    for (size_t i = 0; i < sizeof(webrtc) / sizeof(webrtc[0]); i++) {
        if (!strcasecmp(proto, webrtc[i]))
            return true;
    }
    return false;
}

bool sdp_oa_codec_match(const struct sdp_codec *c, const struct sdp_rtpmap *rm)
{
    return !strcasecmp(c->name, rm->name) && c->clock_rate == rm->clock_rate &&
           (c->channels ? c->channels : 1) == rm->channels;
}

static bool mid_ok(const char *mid)
{
    size_t n = strlen(mid);
    if (!n || n > SDP_MID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)mid[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]", c))
            return false;
    }
    return true;
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839). */
static bool ice_ok(const char *v)
{
    size_t n = strlen(v);
    if (!n || n > SDP_ICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* ---- the BUNDLE group ------------------------------------------------------------------- */

/* Whether mid is in an a=group:BUNDLE of s; *tag is then the group's first mid (RFC 8843: its
 * m-section carries the transport of the whole group). */
static bool bundle_tag(const struct sdp_session *s, const char *mid, char *tag, size_t taglen)
{
    if (!mid)
        return false;
    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&s->attrs, "group", a));) {
        const char *p = a->value;
        if (!p || strncmp(p, "BUNDLE", 6) || (p[6] != ' ' && p[6]))
            continue;
        p += 6;
        bool first = true, found = false;
        while (*p) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            if (!n)
                break;
            if (first && n < taglen) {
                memcpy(tag, p, n);
                tag[n] = '\0';
            }
            if (first && n >= taglen)
                tag[0] = '\0';
            first = false;
            if (n == strlen(mid) && !strncmp(p, mid, n))
                found = true;
            p += n;
        }
        if (found)
            return true;
    }
    return false;
}

static const struct sdp_media *media_by_mid(const struct sdp_session *s, const char *mid)
{
    for (size_t i = 0; mid && *mid && i < s->nmedia; i++) {
        const char *m = sdp_media_mid(&s->media[i]);
        if (m && !strcmp(m, mid))
            return &s->media[i];
    }
    return NULL;
}

/* ---- reading a section ------------------------------------------------------------------- */

/* The audio section being read, with where its transport attributes may also sit. */
struct rsec {
    const struct sdp_session *s;
    const struct sdp_media *m;
    const struct sdp_media *tag; /* BUNDLE tag section when it is another one, else NULL */
    char *err;
    size_t errlen;
};

/* An attribute of the transport: the section, then the BUNDLE tag section, then the session. */
static const struct sdp_attr *tattr(const struct rsec *r, const char *name)
{
    const struct sdp_attr *a = sdp_attrs_get(&r->m->attrs, name);
    if (!a && r->tag)
        a = sdp_attrs_get(&r->tag->attrs, name);
    return a ? a : sdp_attrs_get(&r->s->attrs, name);
}

static const struct {
    const char *name;
    size_t bytes;
    int rank; /* preference when several are given: SHA-256 is what every peer computes */
} hashes[] = {
    {"sha-256", 32, 0}, {"sha-384", 48, 1}, {"sha-512", 64, 2},
    {"sha-224", 28, 3}, {"sha-1", 20, 4},
};

/* "sha-256 AB:CD:..." -> alg and upper-case value. EBADMSG for a malformed value, ENOTSUP for a
 * hash we do not know. */
static int parse_fingerprint(const char *v, char *alg, size_t alen, char *fp, int *rank)
{
    size_t an = strcspn(v, " ");
    const char *hex = v + an;
    while (*hex == ' ')
        hex++;
    size_t hn = strcspn(hex, " ");
    for (const char *t = hex + hn; *t; t++) {
        if (*t != ' ')
            return EBADMSG;
    }
    for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
        if (an != strlen(hashes[i].name) || strncasecmp(v, hashes[i].name, an))
            continue;
        if (hn != hashes[i].bytes * 3 - 1)
            return EBADMSG;
        for (size_t k = 0; k < hn; k++) {
            char c = hex[k];
            bool colon = k % 3 == 2;
            bool xdigit =
                (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (colon ? c != ':' : !xdigit)
                return EBADMSG;
            fp[k] = (c >= 'a' && c <= 'f') ? (char)(c - 'a' + 'A') : c;
        }
        fp[hn] = '\0';
        snprintf(alg, alen, "%s", hashes[i].name);
        *rank = hashes[i].rank;
        return 0;
    }
    return an && an < 16 ? ENOTSUP : EBADMSG;
}

/* The fingerprints of the first level that has any (section, tag section, session); the best
 * ranked supported one wins. */
static int read_fingerprint(const struct rsec *r, struct sdp_audio_params *out)
{
    const struct sdp_attrs *levels[3] = {&r->m->attrs, r->tag ? &r->tag->attrs : NULL,
                                         &r->s->attrs};
    for (size_t l = 0; l < 3; l++) {
        if (!levels[l] || !sdp_attrs_get(levels[l], "fingerprint"))
            continue;
        int best = 99;
        for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(levels[l], "fingerprint", a));) {
            char alg[16], fp[SDP_FP_MAX];
            int rank,
                e = a->value ? parse_fingerprint(a->value, alg, sizeof(alg), fp, &rank) : EBADMSG;
            if (e == EBADMSG)
                return sdp_oa_fail(r->err, r->errlen, EBADMSG, "malformed a=fingerprint");
            if (!e && rank < best) {
                best = rank;
                memcpy(out->fp_alg, alg, sizeof(alg));
                memcpy(out->fingerprint, fp, sizeof(fp));
            }
        }
        if (best == 99)
            return sdp_oa_fail(r->err, r->errlen, EPROTO,
                               "no a=fingerprint with a hash we support (sha-256 ...)");
        return 0;
    }
    return sdp_oa_fail(r->err, r->errlen, EPROTO, "no a=fingerprint: DTLS-SRTP needs one");
}

static int parse_setup(const char *v, enum sdp_setup *st)
{
    static const char *const names[] = {"actpass", "active", "passive"};
    if (!v)
        return EBADMSG;
    size_t n = strcspn(v, " ");
    for (const char *t = v + n; *t; t++) {
        if (*t != ' ')
            return EBADMSG;
    }
    for (size_t i = 0; i < 3; i++) {
        if (n == strlen(names[i]) && !strncmp(v, names[i], n)) {
            *st = (enum sdp_setup)(SDP_SETUP_ACTPASS + i);
            return 0;
        }
    }
    return n == 8 && !strncmp(v, "holdconn", 8) ? ENOTSUP : EBADMSG;
}

/* ICE and DTLS attributes of a WEBRTC section. */
static int read_transport(const struct rsec *r, struct sdp_audio_params *out)
{
    const struct sdp_attr *uf = tattr(r, "ice-ufrag"), *pw = tattr(r, "ice-pwd");
    if (!uf || !pw)
        return sdp_oa_fail(r->err, r->errlen, EPROTO, "no a=ice-ufrag / a=ice-pwd");
    if (!uf->value || !ice_ok(uf->value) || !pw->value || !ice_ok(pw->value))
        return sdp_oa_fail(r->err, r->errlen, EBADMSG, "malformed a=ice-ufrag or a=ice-pwd");
    snprintf(out->ice_ufrag, sizeof(out->ice_ufrag), "%s", uf->value);
    snprintf(out->ice_pwd, sizeof(out->ice_pwd), "%s", pw->value);
    out->ice_lite = tattr(r, "ice-lite") != NULL;

    int e = read_fingerprint(r, out);
    if (e)
        return e;

    const struct sdp_attr *st = tattr(r, "setup");
    out->remote_setup = SDP_SETUP_NONE;
    if (st) {
        e = parse_setup(st->value, &out->remote_setup);
        if (e == ENOTSUP)
            return sdp_oa_fail(r->err, r->errlen, EPROTO, "a=setup:holdconn is not supported");
        if (e)
            return sdp_oa_fail(r->err, r->errlen, EBADMSG, "malformed a=setup");
    }

    /* One ICE component carries RTP and RTCP: without rtcp-mux the peer would wait for a
     * second component we never open, and ICE would fail after a long timeout. */
    out->rtcp_mux = sdp_attrs_get(&r->m->attrs, "rtcp-mux") ||
                    (r->tag && sdp_attrs_get(&r->tag->attrs, "rtcp-mux"));
    if (!out->rtcp_mux)
        return sdp_oa_fail(r->err, r->errlen, EPROTO, "no a=rtcp-mux: we only do muxed RTCP");

    const struct sdp_attrs *cl = &r->m->attrs;
    if (!sdp_attrs_get(cl, "candidate") && r->tag)
        cl = &r->tag->attrs;
    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(cl, "candidate", a));) {
        if (!a->value || !*a->value)
            continue;
        if (out->ncandidates < SDP_MAX_CANDIDATES)
            out->candidates[out->ncandidates++] = a->line;
        else
            out->candidates_dropped++;
    }
    out->end_of_candidates = tattr(r, "end-of-candidates") != NULL;
    return 0;
}

/* What does not depend on the profile: mid, extension, ptime, SSRC, address. */
static int read_section(const struct rsec *r, struct sdp_audio_params *out)
{
    const char *mid = sdp_media_mid(r->m);
    if (mid && !mid_ok(mid))
        return sdp_oa_fail(r->err, r->errlen, EBADMSG, "malformed a=mid");
    snprintf(out->mid, sizeof(out->mid), "%s", mid ? mid : "");

    for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&r->m->attrs, "extmap", a));) {
        /* "<id>[/<direction>] <uri> [<attributes>]" */
        const char *v = a->value ? a->value : "";
        unsigned long id;
        size_t n = strcspn(v, "/ ");
        if (!sdp_uint(v, n, 255, &id))
            continue;
        v += strcspn(v, " ");
        while (*v == ' ')
            v++;
        size_t un = strcspn(v, " ");
        if (un == strlen(SDP_URI_AUDIO_LEVEL) && !strncmp(v, SDP_URI_AUDIO_LEVEL, un)) {
            /* ids above 14 need two-byte header extensions, which we do not send */
            out->level_ext_id = id >= 1 && id <= 14 ? (uint8_t)id : 0;
            break;
        }
    }

    unsigned long v;
    const char *pt = sdp_attr_value(NULL, r->m, "ptime");
    if (pt && sdp_uint(pt, strcspn(pt, " "), 1000, &v))
        out->ptime = (unsigned)v;

    const struct sdp_attr *ss = sdp_attrs_get(&r->m->attrs, "ssrc");
    if (ss && ss->value && sdp_uint(ss->value, strcspn(ss->value, " "), 0xffffffffUL, &v))
        out->remote_ssrc = (uint32_t)v;

    const struct sdp_conn *c = sdp_media_conn(r->s, r->m);
    if (c) {
        size_t n = strcspn(c->addr, "/"); /* drop a multicast /ttl */
        if (n < sizeof(out->remote_addr)) {
            memcpy(out->remote_addr, c->addr, n);
            out->remote_addr[n] = '\0';
        }
    }
    out->remote_port = r->m->port;

    /* a=rtcp:<port> [IN IP4 <addr>] (RFC 3605); one we cannot read leaves the default */
    const char *rt = sdp_attr_value(NULL, r->m, "rtcp");
    if (rt && rt[0] >= '0' && rt[0] <= '9') {
        char addr[64] = "";
        unsigned port = 0;
        int n = sscanf(rt, "%5u IN IP%*1[46] %63s", &port, addr);
        if (n >= 1 && port && port <= 65535 && strspn(rt, "0123456789") <= 5) {
            out->remote_rtcp_port = (uint16_t)port;
            if (n == 2)
                snprintf(out->remote_rtcp_addr, sizeof(out->remote_rtcp_addr), "%s", addr);
        }
    }
    return 0;
}

/* The remote's opus preferences from its fmtp for the chosen payload type. */
static void read_opus(const struct sdp_media *m, struct sdp_audio_params *out)
{
    if (strcasecmp(out->codec, "opus"))
        return;
    const char *fmtp = sdp_media_fmtp(m, out->pt);
    uint32_t v;
    out->opus_fec = !sdp_fmtp_uint(fmtp, "useinbandfec", &v) && v == 1;
    out->opus_dtx = !sdp_fmtp_uint(fmtp, "usedtx", &v) && v == 1;
    out->opus_stereo = !sdp_fmtp_uint(fmtp, "stereo", &v) && v == 1;
    if (!sdp_fmtp_uint(fmtp, "maxaveragebitrate", &v) && v >= 6000 && v <= 510000)
        out->opus_maxavgbitrate = v;
}

static void set_codec(struct sdp_audio_params *out, const struct sdp_rtpmap *rm)
{
    snprintf(out->codec, sizeof(out->codec), "%s", rm->name);
    out->pt = rm->pt;
    out->clock_rate = rm->clock_rate;
    out->channels = rm->channels;
}

/* ---- reading an offer -------------------------------------------------------------------- */

/* Our preferred codec among the formats of m, with the offer's payload type. */
static bool pick_codec(const struct sdp_media *m, const struct sdp_codec *cs, size_t ncs,
                       const struct sdp_audio_params *cur, struct sdp_rtpmap *chosen)
{
    struct sdp_rtpmap rm;
    uint8_t pt;
    /* a renegotiation keeps the codec it has, as long as it is still offered */
    for (size_t f = 0; cur && f < m->nfmts; f++) {
        if (!sdp_fmt_pt(m->fmts[f], &pt) && pt == cur->pt && !sdp_media_rtpmap(m, pt, &rm) &&
            !strcasecmp(rm.name, cur->codec) && rm.clock_rate == cur->clock_rate) {
            for (size_t i = 0; i < ncs; i++) {
                if (!sdp_oa_is_dtmf(cs[i].name) && sdp_oa_codec_match(&cs[i], &rm)) {
                    *chosen = rm;
                    return true;
                }
            }
        }
    }
    for (size_t i = 0; i < ncs; i++) {
        if (sdp_oa_is_dtmf(cs[i].name))
            continue;
        for (size_t f = 0; f < m->nfmts; f++) {
            if (!sdp_fmt_pt(m->fmts[f], &pt) && !sdp_media_rtpmap(m, pt, &rm) &&
                sdp_oa_codec_match(&cs[i], &rm)) {
                *chosen = rm;
                return true;
            }
        }
    }
    return false;
}

/* The offer's telephone-event at rate, if we have one at that rate too. */
static uint8_t pick_dtmf(const struct sdp_media *m, const struct sdp_codec *cs, size_t ncs,
                         uint32_t rate)
{
    bool ours = false;
    for (size_t i = 0; i < ncs; i++)
        ours |= sdp_oa_is_dtmf(cs[i].name) && cs[i].clock_rate == rate;
    for (size_t f = 0; ours && f < m->nfmts; f++) {
        struct sdp_rtpmap rm;
        uint8_t pt;
        if (!sdp_fmt_pt(m->fmts[f], &pt) && pt && !sdp_media_rtpmap(m, pt, &rm) &&
            sdp_oa_is_dtmf(rm.name) && rm.clock_rate == rate)
            return pt;
    }
    return 0;
}

/* "opus/48000/2 G722/8000 ..." of m into buf, for the no-common-codec message. */
static void list_formats(const struct sdp_media *m, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t f = 0; f < m->nfmts && at + 1 < cap; f++) {
        struct sdp_rtpmap rm;
        uint8_t pt;
        int n;
        if (!sdp_fmt_pt(m->fmts[f], &pt) && !sdp_media_rtpmap(m, pt, &rm))
            n = rm.channels > 1 ? snprintf(buf + at, cap - at, "%s%s/%u/%u", at ? " " : "", rm.name,
                                           (unsigned)rm.clock_rate, rm.channels)
                                : snprintf(buf + at, cap - at, "%s%s/%u", at ? " " : "", rm.name,
                                           (unsigned)rm.clock_rate);
        else
            n = snprintf(buf + at, cap - at, "%s%.8s(?)", at ? " " : "", m->fmts[f]);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

static bool section_usable(const struct sdp_media *m, const struct sdp_local *l)
{
    if (strcmp(m->type, "audio") || !sdp_oa_proto_ok(l->profile, l->srtp, m->proto))
        return false;
    /* port 0 refuses the section, unless it is bundle-only (RFC 8843): then it rides the
     * transport of the BUNDLE tag */
    return m->port || sdp_attrs_get(&m->attrs, "bundle-only");
}

int sdp_oa_check_local(const struct sdp_local *l)
{
    if (!l || (l->profile != SDP_PROFILE_WEBRTC && l->profile != SDP_PROFILE_RTP_AVP))
        return EINVAL;
    if ((unsigned)l->dir > SDP_DIR_SENDRECV || (unsigned)l->srtp > SDP_SRTP_REQUIRED)
        return EINVAL;
    if (l->profile != SDP_PROFILE_RTP_AVP || l->srtp == SDP_SRTP_OFF)
        return 0;
    if (!l->crypto || !l->ncrypto || l->ncrypto > SDP_CRYPTO_MAX)
        return EINVAL;
    for (size_t i = 0; i < l->ncrypto; i++) {
        const struct sdp_crypto *c = &l->crypto[i];
        if (c->tag > SDP_CRYPTO_TAG_MAX || !c->key_len || c->key_len > sizeof(c->key) ||
            c->key_len != srtp_suite_key_len(c->suite))
            return EINVAL;
        for (size_t k = 0; k < i; k++) {
            if (l->crypto[k].tag == c->tag || l->crypto[k].suite == c->suite)
                return EINVAL;
        }
    }
    return 0;
}

int sdp_offer_read(const struct sdp_session *offer, const struct sdp_local *local,
                   struct sdp_audio_params *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!offer || !out || sdp_oa_check_local(local))
        return EINVAL;
    /* out may be local->current: keep what we need of the old result first */
    struct sdp_audio_params cur;
    const bool has_cur = local->current != NULL;
    if (has_cur)
        cur = *local->current;
    memset(out, 0, sizeof(*out));
    out->profile = local->profile;

    const struct sdp_codec *cs;
    size_t ncs;
    sdp_oa_codecs(local, &cs, &ncs);

    /* the first usable audio section with a common codec; a renegotiation tries its own first */
    const struct sdp_media *m = NULL, *first_audio = NULL, *wrong_proto = NULL;
    struct sdp_rtpmap chosen;
    if (has_cur && cur.mline < offer->nmedia && section_usable(&offer->media[cur.mline], local) &&
        pick_codec(&offer->media[cur.mline], cs, ncs, &cur, &chosen))
        m = &offer->media[cur.mline];
    for (size_t i = 0; !m && i < offer->nmedia; i++) {
        const struct sdp_media *c = &offer->media[i];
        if (!strcmp(c->type, "audio") && !sdp_oa_proto_ok(local->profile, local->srtp, c->proto))
            wrong_proto = c;
        if (!section_usable(c, local))
            continue;
        if (!first_audio)
            first_audio = c;
        if (pick_codec(c, cs, ncs, has_cur ? &cur : NULL, &chosen))
            m = c;
    }
    if (!m && first_audio) {
        char offered[160], ours[120];
        list_formats(first_audio, offered, sizeof(offered));
        size_t at = 0;
        ours[0] = '\0';
        for (size_t i = 0; i < ncs && at + 1 < sizeof(ours); i++) {
            int n = snprintf(ours + at, sizeof(ours) - at, "%s%s/%u", at ? " " : "", cs[i].name,
                             (unsigned)cs[i].clock_rate);
            if (n < 0)
                break;
            at += (size_t)n;
        }
        return sdp_oa_fail(err, errlen, ENOTSUP, "no common audio codec: offered %s; we have %s",
                           offered, ours);
    }
    if (!m && wrong_proto)
        return sdp_oa_fail(err, errlen, ENOTSUP, "audio m-section has proto %s, we need %s",
                           wrong_proto->proto, sdp_oa_offer_proto(local));
    if (!m) {
        const char *what = offer->nmedia ? offer->media[0].type : "nothing";
        return sdp_oa_fail(err, errlen, ENOTSUP,
                           "no audio m-section we can accept (the offer has %s%s)", what,
                           offer->nmedia > 1 ? " and more" : "");
    }

    out->mline = (unsigned)(m - offer->media);
    set_codec(out, &chosen);
    out->dtmf_pt = pick_dtmf(m, cs, ncs, chosen.clock_rate);
    read_opus(m, out);

    struct rsec r = {offer, m, NULL, err, errlen};
    int e = read_section(&r, out);
    if (e)
        return e;
    char tag[SDP_MID_MAX + 1] = "";
    out->bundle = local->profile == SDP_PROFILE_WEBRTC && out->mid[0] &&
                  bundle_tag(offer, out->mid, tag, sizeof(tag));
    if (out->bundle) {
        const struct sdp_media *t = media_by_mid(offer, tag);
        r.tag = t != m ? t : NULL;
    }

    enum sdp_dir rdir = sdp_media_dir(offer, m);
    out->send = (rdir & SDP_DIR_RECV) && (local->dir & SDP_DIR_SEND);
    out->recv = (rdir & SDP_DIR_SEND) && (local->dir & SDP_DIR_RECV);

    if (local->profile == SDP_PROFILE_WEBRTC) {
        e = read_transport(&r, out);
        if (e)
            return e;
        if (out->ice_lite && local->ice_lite)
            return sdp_oa_fail(err, errlen, EPROTO, "both sides are ICE lite");
        switch (out->remote_setup) {
        case SDP_SETUP_PASSIVE:
            out->dtls_role = DTLS_ROLE_CLIENT;
            break;
        case SDP_SETUP_ACTIVE:
        case SDP_SETUP_NONE: /* RFC 4145: an offer without a=setup means active */
            out->dtls_role = DTLS_ROLE_SERVER;
            break;
        case SDP_SETUP_ACTPASS:
        default:
            /* RFC 8842: an existing association keeps its roles */
            out->dtls_role = DTLS_ROLE_CLIENT;
            if (has_cur && !strcmp(cur.fingerprint, out->fingerprint))
                out->dtls_role = cur.dtls_role;
            break;
        }
        if (has_cur) {
            out->ice_restart =
                strcmp(cur.ice_ufrag, out->ice_ufrag) || strcmp(cur.ice_pwd, out->ice_pwd);
            out->dtls_restart =
                strcmp(cur.fingerprint, out->fingerprint) || cur.dtls_role != out->dtls_role;
        }
    } else {
        /* RFC 2543-style hold: c=0.0.0.0 asks us not to send */
        if (!strcmp(out->remote_addr, "0.0.0.0") || !strcmp(out->remote_addr, "::"))
            out->send = false;
        if (!out->remote_addr[0])
            return sdp_oa_fail(err, errlen, EPROTO, "no c= line for the audio m-section");
        out->rtcp_mux = sdp_attrs_get(&m->attrs, "rtcp-mux") != NULL;
        e = sdp_oa_offer_crypto(m, local, out, err, errlen);
        if (e)
            return e;
    }
    out->dir = (enum sdp_dir)((out->send ? SDP_DIR_SEND : 0) | (out->recv ? SDP_DIR_RECV : 0));
    return 0;
}

/* ---- reading an answer ------------------------------------------------------------------- */

/* Our codec the answer's payload type pt stands for. EPROTO when we did not offer it. */
static int answered_codec(const struct sdp_media *m, uint8_t pt, const struct sdp_codec *cs,
                          size_t ncs, struct sdp_rtpmap *rm, char *err, size_t errlen)
{
    const struct sdp_codec *c = NULL;
    for (size_t i = 0; i < ncs && !c; i++) {
        if (cs[i].pt == pt)
            c = &cs[i];
    }
    if (!c)
        return sdp_oa_fail(err, errlen, EPROTO, "the answer has payload type %u we did not offer",
                           pt);
    int e = sdp_media_rtpmap(m, pt, rm);
    if (e == ENOENT) { /* no rtpmap: it means what we offered */
        rm->pt = pt;
        snprintf(rm->name, sizeof(rm->name), "%s", c->name);
        rm->clock_rate = c->clock_rate;
        rm->channels = c->channels ? c->channels : 1;
        return 0;
    }
    if (e)
        return sdp_oa_fail(err, errlen, EBADMSG, "malformed a=rtpmap for payload type %u", pt);
    if (!sdp_oa_codec_match(c, rm))
        return sdp_oa_fail(err, errlen, EPROTO,
                           "the answer maps payload type %u to %s/%u, we offered %s/%u", pt,
                           rm->name, (unsigned)rm->clock_rate, c->name, (unsigned)c->clock_rate);
    return 0;
}

int sdp_answer_read(const struct sdp_session *answer, const struct sdp_local *offered,
                    struct sdp_audio_params *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!answer || !out || sdp_oa_check_local(offered))
        return EINVAL;
    struct sdp_audio_params cur;
    const bool has_cur = offered->current != NULL;
    if (has_cur)
        cur = *offered->current;
    memset(out, 0, sizeof(*out));
    out->profile = offered->profile;

    if (answer->nmedia != 1)
        return sdp_oa_fail(err, errlen, EPROTO, "the answer has %zu m-sections, our offer had 1",
                           answer->nmedia);
    const struct sdp_media *m = &answer->media[0];
    const char *proto = sdp_oa_offer_proto(offered);
    /* an RTP/SAVP answer to best-effort SRTP (RTP/AVP with a=crypto) says the same thing */
    bool savp_for_avp = offered->profile == SDP_PROFILE_RTP_AVP && offered->srtp != SDP_SRTP_OFF &&
                        !sdp_oa_proto_savp(proto) && !strcasecmp(m->proto, "RTP/SAVP");
    if (strcmp(m->type, "audio") || (strcasecmp(m->proto, proto) && !savp_for_avp))
        return sdp_oa_fail(err, errlen, EPROTO, "the answer has %s %s where we offered audio %s",
                           m->type, m->proto, proto);
    if (!m->port)
        return sdp_oa_fail(err, errlen, ENOTSUP, "the answer refused the audio m-section");

    const struct sdp_codec *cs;
    size_t ncs;
    sdp_oa_codecs(offered, &cs, &ncs);
    bool have_codec = false;
    for (size_t f = 0; f < m->nfmts; f++) {
        uint8_t pt;
        struct sdp_rtpmap rm;
        if (sdp_fmt_pt(m->fmts[f], &pt))
            return sdp_oa_fail(err, errlen, EBADMSG,
                               "the answer has a format that is no RTP "
                               "payload type");
        int e = answered_codec(m, pt, cs, ncs, &rm, err, errlen);
        if (e)
            return e;
        if (!have_codec && !sdp_oa_is_dtmf(rm.name)) { /* the answerer's first choice */
            set_codec(out, &rm);
            have_codec = true;
        }
    }
    if (!have_codec)
        return sdp_oa_fail(err, errlen, ENOTSUP, "the answer has no audio codec");
    for (size_t f = 0; f < m->nfmts && !out->dtmf_pt; f++) {
        uint8_t pt;
        struct sdp_rtpmap rm;
        if (!sdp_fmt_pt(m->fmts[f], &pt) && !answered_codec(m, pt, cs, ncs, &rm, NULL, 0) &&
            sdp_oa_is_dtmf(rm.name) && rm.clock_rate == out->clock_rate)
            out->dtmf_pt = pt;
    }
    read_opus(m, out);

    struct rsec r = {answer, m, NULL, err, errlen};
    int e = read_section(&r, out);
    if (e)
        return e;
    if (offered->profile == SDP_PROFILE_WEBRTC && out->mid[0] && strcmp(out->mid, "0"))
        return sdp_oa_fail(err, errlen, EPROTO, "the answer's a=mid is not the offer's \"0\"");
    char tag[SDP_MID_MAX + 1];
    out->bundle =
        offered->profile == SDP_PROFILE_WEBRTC && bundle_tag(answer, "0", tag, sizeof(tag));

    enum sdp_dir rdir = sdp_media_dir(answer, m);
    out->send = (rdir & SDP_DIR_RECV) && (offered->dir & SDP_DIR_SEND);
    out->recv = (rdir & SDP_DIR_SEND) && (offered->dir & SDP_DIR_RECV);

    if (offered->profile == SDP_PROFILE_WEBRTC) {
        e = read_transport(&r, out);
        if (e)
            return e;
        switch (out->remote_setup) {
        case SDP_SETUP_ACTIVE:
            out->dtls_role = DTLS_ROLE_SERVER;
            break;
        case SDP_SETUP_PASSIVE:
        case SDP_SETUP_NONE: /* RFC 4145: an answer without a=setup means passive */
            out->dtls_role = DTLS_ROLE_CLIENT;
            break;
        case SDP_SETUP_ACTPASS:
        default:
            return sdp_oa_fail(err, errlen, EPROTO, "a=setup:actpass in an answer");
        }
        if (has_cur) {
            out->ice_restart =
                strcmp(cur.ice_ufrag, out->ice_ufrag) || strcmp(cur.ice_pwd, out->ice_pwd);
            out->dtls_restart =
                strcmp(cur.fingerprint, out->fingerprint) || cur.dtls_role != out->dtls_role;
        }
    } else {
        if (!strcmp(out->remote_addr, "0.0.0.0") || !strcmp(out->remote_addr, "::"))
            out->send = false;
        if (!out->remote_addr[0])
            return sdp_oa_fail(err, errlen, EPROTO, "no c= line for the audio m-section");
        out->rtcp_mux = sdp_attrs_get(&m->attrs, "rtcp-mux") != NULL;
        e = sdp_oa_answer_crypto(m, offered, out, err, errlen);
        if (e)
            return e;
    }
    out->dir = (enum sdp_dir)((out->send ? SDP_DIR_SEND : 0) | (out->recv ? SDP_DIR_RECV : 0));
    return 0;
}
