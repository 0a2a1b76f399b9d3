/*
 * One sipload call: our offer (one codec and telephone-event, plain RTP), the INVITE, the answer,
 * then a two-member room on the mixer: the call's audio stream and the call's device, which
 * sends the call's tone and, for the first few calls, analyses what it hears. The call hangs up
 * after its duration (BYE), gives up on a missing answer (CANCEL), and reports exactly once:
 * answered, then ended (with its stream's counters and what it heard), or failed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/session.h"
#include "tools/sipload/sipload.h"

enum call_state { CALL_CALLING, CALL_UP, CALL_ENDING, CALL_DONE };

/* The call's voice and ears, on the mixer clock. */
struct device {
    struct tone_gen gen;
    struct tone_analyser *an; /* NULL: not analysed */
    uint64_t from_frame;      /* frames heard before the analysis starts */
    uint64_t frames;
    GMutex lock; /* the analyser, read by the main loop at the end */
};

struct sl_call {
    struct sl *sl;
    unsigned idx;
    enum call_state state;
    bool was_up, reported, by_remote;
    nua_handle_t *nh;
    struct media_session *media;
    struct conf_room *room;
    struct conf_member *m_remote, *m_device;
    struct device dev;
    gint64 t_invite;
    guint timer;
    char log_ctx[32];
};

/* ---- the device ---- */

static void dev_read(void *obj, int16_t *pcm, struct audio_frame_info *info)
{
    struct device *d = obj;
    tone_gen_fill(&d->gen, pcm, AUDIO_FRAME_SAMPLES);
    info->kind = AUDIO_FRAME_DECODED;
    info->level = 127;
    info->voice = false;
}

static int dev_write(void *obj, const int16_t *pcm)
{
    struct device *d = obj;
    if (!d->an)
        return 0;
    g_mutex_lock(&d->lock);
    if (d->frames++ >= d->from_frame)
        tone_analyser_feed(d->an, pcm, AUDIO_FRAME_SAMPLES);
    g_mutex_unlock(&d->lock);
    return 0;
}

/* ---- lifetime ---- */

static void call_destroy(void *arg)
{
    struct sl_call *c = arg;
    if (c->timer)
        g_source_remove(c->timer);
    conf_member_leave(c->m_remote);
    conf_member_leave(c->m_device);
    mem_deref(c->room);
    if (c->media) {
        media_session_close(c->media);
        mem_deref(c->media);
    }
    if (c->nh)
        nua_handle_destroy(c->nh);
    mem_deref(c->dev.an);
    g_mutex_clear(&c->dev.lock);
}

void sl_call_free(struct sl_call *c)
{
    mem_deref(c);
}

bool sl_call_is_up(const struct sl_call *c)
{
    return c && c->state == CALL_UP;
}

/* The URI with "{i}" or "{i:0W}" replaced by the call's number. */
static char *target_uri(const char *tmpl, unsigned n)
{
    GString *s = g_string_new(NULL);
    for (const char *p = tmpl; *p;) {
        unsigned width = 0;
        const char *end = NULL;
        if (g_str_has_prefix(p, "{i}")) {
            end = p + 3;
        } else if (g_str_has_prefix(p, "{i:0") && g_ascii_isdigit(p[4]) && p[5] == '}') {
            width = (unsigned)(p[4] - '0');
            end = p + 6;
        }
        if (end) {
            g_string_append_printf(s, "%0*u", (int)width, n);
            p = end;
        } else {
            g_string_append_c(s, *p++);
        }
    }
    return g_string_free(s, FALSE);
}

static void report_failed(struct sl_call *c, int status, const char *why)
{
    if (c->reported)
        return;
    c->reported = true;
    sl_call_failed(c->sl, c, status, why);
}

/* Once sofia is done with the call: its figures, then the media and the room go. */
static void call_finish(struct sl_call *c)
{
    if (c->state == CALL_DONE)
        return;
    c->state = CALL_DONE;
    if (c->timer) {
        g_source_remove(c->timer);
        c->timer = 0;
    }
    struct sl_totals t = {0};
    struct sl_heard heard = {.call = c->idx}, *hp = NULL;
    struct audio_stream *as = c->media ? media_session_audio(c->media) : NULL;
    if (as) {
        struct audio_stream_stats st;
        audio_stream_get_stats(as, &st);
        t.packets_sent = st.packets_sent;
        t.packets_received = st.packets_received;
        t.packets_lost = st.packets_lost;
        t.frames_concealed = st.frames_concealed;
        t.late_dropped = st.late_dropped;
    }
    conf_member_leave(c->m_remote);
    conf_member_leave(c->m_device);
    c->m_remote = c->m_device = NULL;
    if (c->dev.an) {
        const struct sl_cfg *cfg = sl_cfg(c->sl);
        g_mutex_lock(&c->dev.lock);
        heard.blocks = tone_analyser_blocks(c->dev.an);
        for (unsigned i = 0; i < cfg->nprobes; i++)
            heard.probe_db[i] = tone_analyser_level(c->dev.an, i);
        heard.residual_db = tone_analyser_floor(c->dev.an);
        g_mutex_unlock(&c->dev.lock);
        hp = &heard;
    }
    if (c->media) {
        media_session_close(c->media);
        c->media = mem_deref(c->media);
    }
    if (c->was_up && !c->reported) {
        c->reported = true;
        sl_call_ended(c->sl, c, c->by_remote, &t, hp);
    } else {
        report_failed(c, 0, "ended before it was answered");
    }
}

static gboolean on_duration(gpointer arg)
{
    struct sl_call *c = arg;
    c->timer = 0;
    sl_call_hangup(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_setup_timeout(gpointer arg)
{
    struct sl_call *c = arg;
    c->timer = 0;
    if (c->state == CALL_CALLING) {
        report_failed(c, 0, "no answer in time");
        sl_call_hangup(c);
    }
    return G_SOURCE_REMOVE;
}

void sl_call_hangup(struct sl_call *c)
{
    if (!c || !c->nh)
        return;
    if (c->state == CALL_CALLING) {
        nua_cancel(c->nh, TAG_END());
        c->state = CALL_ENDING;
    } else if (c->state == CALL_UP) {
        nua_bye(c->nh, TAG_END());
        c->state = CALL_ENDING;
    }
}

/* Plain RTP: connected comes with the answer, and nothing fails later on its own. */
static const struct media_session_handlers no_handlers = {0};

int sl_call_start(struct sl_call **cp, struct sl *sl, unsigned idx)
{
    const struct sl_cfg *cfg = sl_cfg(sl);
    struct sl_call *c = mem_zalloc(sizeof(*c), call_destroy);
    if (!c)
        return ENOMEM;
    g_mutex_init(&c->dev.lock);
    c->sl = sl;
    c->idx = idx;
    snprintf(c->log_ctx, sizeof(c->log_ctx), "call=%u", idx);
    int err =
        tone_gen_init(&c->dev.gen, AUDIO_RATE, cfg->tone_hz + cfg->tone_step * idx, cfg->tone_dbfs);
    if (!err && idx < cfg->analyse && cfg->nprobes)
        err = tone_analyser_alloc(&c->dev.an, AUDIO_RATE, cfg->probes, cfg->nprobes,
                                  AUDIO_FRAME_SAMPLES);
    c->dev.from_frame = (uint64_t)(cfg->analyse_from_s * 1000.0 / AUDIO_FRAME_MS);

    const char *name = cfg->codec == AUDIO_CODEC_OPUS ? "opus" : audio_codec_name(cfg->codec);
    struct sdp_codec codecs[SDP_MAX_FORMATS];
    size_t ncodecs = 0;
    if (!err)
        err = sdp_codecs_select(SDP_PROFILE_RTP_AVP, &name, 1, codecs, SDP_MAX_FORMATS, &ncodecs,
                                NULL);
    struct media_session_cfg mcfg = {
        .worker = sl_worker(sl),
        .local_ip = cfg->local_ip,
        .opus_complexity = -1,
        .log_ctx = c->log_ctx,
        .profile = SDP_PROFILE_RTP_AVP,
        .srtp = SDP_SRTP_OFF,
        .codecs = codecs,
        .ncodecs = ncodecs,
    };
    char *sdp = NULL;
    if (!err)
        err = media_session_alloc(&c->media, &mcfg, true, &no_handlers, c);
    if (!err)
        err = media_session_create_offer(c->media, &sdp);
    if (err) {
        log_error("%s: cannot set up its media: %s", c->log_ctx, strerror(err));
        mem_deref(c);
        return err;
    }
    char *uri = target_uri(cfg->uri, cfg->first_index + idx);
    char *from = g_strdup_printf("<sip:%s@%s>", cfg->from_user, cfg->local_ip);
    c->nh = nua_handle(sl_nua(sl), (nua_hmagic_t *)c, NUTAG_URL(uri), SIPTAG_TO_STR(uri),
                       SIPTAG_FROM_STR(from), TAG_END());
    if (c->nh) {
        c->t_invite = g_get_monotonic_time();
        nua_invite(c->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
                   TAG_END());
        log_debug("%s: calling %s", c->log_ctx, uri);
        if (cfg->setup_timeout_s > 0)
            c->timer = g_timeout_add((guint)(cfg->setup_timeout_s * 1000), on_setup_timeout, c);
    }
    g_free(uri);
    g_free(from);
    mem_deref(sdp);
    if (!c->nh) {
        mem_deref(c);
        return ENOMEM;
    }
    *cp = c;
    return 0;
}

/* 200 to our INVITE: the answer, then the room. */
static void answered(struct sl_call *c, sip_t const *sip)
{
    char why[160] = "";
    int err = EPROTO;
    if (sip && sip->sip_payload && sip->sip_payload->pl_data) {
        char *sdp = g_strndup(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
        err = media_session_set_remote_answer(c->media, sdp, why, sizeof(why));
        g_free(sdp);
    } else {
        snprintf(why, sizeof(why), "the 200 has no SDP");
    }
    struct audio_stream *as = err ? NULL : media_session_audio(c->media);
    if (!err && !as)
        err = EPROTO;
    if (!err) {
        char rname[32];
        snprintf(rname, sizeof(rname), "sipload-%u", c->idx);
        err = conf_room_alloc(&c->room, sl_mixer(c->sl), rname);
    }
    if (!err) {
        struct conf_port remote, dev = {
                                     .read = dev_read,
                                     .write = dev_write,
                                     .obj = &c->dev,
                                 };
        conf_port_from_audio_stream(&remote, as);
        err = conf_room_join(c->room, &remote, "remote", &c->m_remote);
        if (!err)
            err = conf_room_join(c->room, &dev, "device", &c->m_device);
    }
    if (c->timer) {
        g_source_remove(c->timer);
        c->timer = 0;
    }
    if (err) {
        log_warn("%s: answered, but %s", c->log_ctx, why[0] ? why : strerror(err));
        report_failed(c, 0, why[0] ? why : strerror(err));
        c->state = CALL_UP; /* so that hangup sends BYE */
        sl_call_hangup(c);
        return;
    }
    c->state = CALL_UP;
    c->was_up = true;
    sl_call_answered(c->sl, c, (double)(g_get_monotonic_time() - c->t_invite) / 1000.0);
    double d = sl_cfg(c->sl)->duration;
    if (d > 0)
        c->timer = g_timeout_add((guint)(d * 1000), on_duration, c);
}

/* A re-INVITE (session refresh, hold): answered from the running session. */
static void reinvite(struct sl_call *c, sip_t const *sip)
{
    char *answer = NULL, why[160] = "";
    int err = EPROTO;
    if (c->media && sip && sip->sip_payload && sip->sip_payload->pl_data) {
        char *sdp = g_strndup(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
        err = media_session_set_remote_offer(c->media, sdp, why, sizeof(why));
        g_free(sdp);
        if (!err)
            err = media_session_create_answer(c->media, &answer);
    }
    if (err) {
        nua_respond(c->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
    } else {
        nua_respond(c->nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                    SIPTAG_PAYLOAD_STR(answer), TAG_END());
    }
    mem_deref(answer);
}

void sl_call_event(struct sl_call *c, nua_event_t event, int status, const char *phrase,
                   sip_t const *sip, tagi_t tags[])
{
    switch (event) {
    case nua_r_invite:
        if (status < 200)
            break;
        if (status < 300) {
            if (c->state == CALL_CALLING)
                answered(c, sip);
            else if (c->state == CALL_ENDING) /* answered as we cancelled */
                nua_bye(c->nh, TAG_END());
        } else if (c->state != CALL_DONE) {
            char why[96];
            snprintf(why, sizeof(why), "%d %s", status, phrase ? phrase : "");
            report_failed(c, status, why);
        }
        break;
    case nua_i_invite:
        reinvite(c, sip);
        break;
    case nua_i_bye:
        c->by_remote = true;
        break;
    case nua_i_state: {
        int cs = nua_callstate_init;
        tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
        if (cs == nua_callstate_terminated) {
            call_finish(c);
            nua_handle_destroy(c->nh);
            c->nh = NULL;
        }
        break;
    }
    default:
        break;
    }
}
