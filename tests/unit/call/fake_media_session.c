/*
 * The fake media session (see fake_media_session.h): media/session.h's whole interface over a
 * few flags and lists, with the offer/answer rules the call relies on (who may offer, a
 * re-offer waits for its answer, a remote offer rolls ours back), so call.c is tested alone.
 */
#include "tests/unit/call/fake_media_session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/mem.h"
#include "media/worker.h"

struct media_session {
    const struct media_session_handlers *h;
    void *arg;
    bool offerer;
    bool closed;
    bool gathering_done;
    GPtrArray *local;  /* char *, g_free */
    GPtrArray *remote; /* char *, g_free */
    bool remote_ended;
    unsigned remote_sdps;

    bool negotiated;
    bool offer_pending;   /* a remote offer awaits our answer */
    bool reoffer_pending; /* our re-offer awaits its answer */
    bool want_send, want_recv;
    bool send, recv;
    uint64_t last_rx_us;
};

struct media_session *fake_media_last;
int fake_media_alloc_error;

static const char *const failure_names[] = {"ice", "dtls", "fingerprint", "consent", "closed"};

const char *media_failure_name(enum media_failure f)
{
    return (unsigned)f < G_N_ELEMENTS(failure_names) ? failure_names[f] : "?";
}

GMainContext *media_workers_pick(struct media_workers *w)
{
    return NULL;
}

static void session_destroy(void *data)
{
    struct media_session *s = data;
    g_ptr_array_free(s->local, TRUE);
    g_ptr_array_free(s->remote, TRUE);
    if (fake_media_last == s)
        fake_media_last = NULL;
}

int media_session_alloc(struct media_session **sp, const struct media_session_cfg *cfg,
                        bool offerer, const struct media_session_handlers *h, void *arg)
{
    if (fake_media_alloc_error) {
        int e = fake_media_alloc_error;
        fake_media_alloc_error = 0;
        return e;
    }
    struct media_session *s = mem_zalloc(sizeof(*s), session_destroy);
    if (!s)
        return ENOMEM;
    s->h = h;
    s->arg = arg;
    s->offerer = offerer;
    s->local = g_ptr_array_new_with_free_func(g_free);
    s->remote = g_ptr_array_new_with_free_func(g_free);
    s->want_send = s->want_recv = true;
    fake_media_last = s;
    *sp = s;
    return 0;
}

/* ---- what the test plays ---- */

void fake_media_local_candidate(struct media_session *s, const char *candidate)
{
    g_ptr_array_add(s->local, g_strdup(candidate));
    if (!s->closed && s->h->local_candidate)
        s->h->local_candidate(candidate, s->arg);
}

void fake_media_gathering_done(struct media_session *s)
{
    s->gathering_done = true;
    if (!s->closed && s->h->gathering_done)
        s->h->gathering_done(s->arg);
}

void fake_media_connected(struct media_session *s)
{
    if (!s->closed && s->h->connected)
        s->h->connected(s->arg);
}

void fake_media_fail(struct media_session *s, enum media_failure why)
{
    if (!s->closed && s->h->failed)
        s->h->failed(why, "fake failure", s->arg);
}

void fake_media_set_last_rx(struct media_session *s, uint64_t us)
{
    s->last_rx_us = us;
}

bool fake_media_offerer(const struct media_session *s)
{
    return s->offerer;
}

bool fake_media_closed(const struct media_session *s)
{
    return s->closed;
}

unsigned fake_media_remote_count(const struct media_session *s)
{
    return s->remote->len;
}

const char *fake_media_remote(const struct media_session *s, unsigned i)
{
    return i < s->remote->len ? g_ptr_array_index(s->remote, i) : NULL;
}

bool fake_media_remote_ended(const struct media_session *s)
{
    return s->remote_ended;
}

unsigned fake_media_remote_sdps(const struct media_session *s)
{
    return s->remote_sdps;
}

/* ---- offer / answer ---- */

static const char *dir_name(bool send, bool recv)
{
    return send && recv ? "sendrecv" : send ? "sendonly" : recv ? "recvonly" : "inactive";
}

static char *write_sdp(struct media_session *s, const char *kind)
{
    GString *g = g_string_new("v=0\r\n");
    g_string_append_printf(g, "s=%s\r\n", kind);
    for (guint i = 0; i < s->local->len; i++)
        g_string_append_printf(g, "a=%s\r\n", (char *)g_ptr_array_index(s->local, i));
    if (s->gathering_done)
        g_string_append(g, "a=end-of-candidates\r\n");
    g_string_append_printf(g, "a=%s\r\n", dir_name(s->want_send, s->want_recv));
    char *out = mem_strdup(g->str);
    g_string_free(g, TRUE);
    return out;
}

/* Their direction line, turned round to ours and met with what we want. */
static int read_sdp(struct media_session *s, const char *sdp, char *err, size_t errlen)
{
    if (strstr(sdp, "bogus")) {
        snprintf(err, errlen, "fake: bogus SDP");
        return EBADMSG;
    }
    bool they_send = true, they_recv = true;
    if (strstr(sdp, "a=sendonly"))
        they_recv = false;
    else if (strstr(sdp, "a=recvonly"))
        they_send = false;
    else if (strstr(sdp, "a=inactive"))
        they_send = they_recv = false;
    s->send = they_recv && s->want_send;
    s->recv = they_send && s->want_recv;
    s->negotiated = true;
    s->remote_sdps++;
    return 0;
}

int media_session_create_offer(struct media_session *s, char **sdp)
{
    if (!s->offerer)
        return EINVAL;
    *sdp = write_sdp(s, "fake-offer");
    return 0;
}

int media_session_set_remote_answer(struct media_session *s, const char *sdp, char *err,
                                    size_t errlen)
{
    if (!s->offerer && !s->reoffer_pending) {
        snprintf(err, errlen, "fake: an answer, but we made no offer");
        return EPROTO;
    }
    s->reoffer_pending = false;
    return read_sdp(s, sdp, err, errlen);
}

int media_session_set_remote_offer(struct media_session *s, const char *sdp, char *err,
                                   size_t errlen)
{
    if (s->offerer && !s->negotiated) {
        snprintf(err, errlen, "fake: glare");
        return EPROTO;
    }
    int e = read_sdp(s, sdp, err, errlen);
    if (!e) {
        s->offer_pending = true;
        s->reoffer_pending = false;
    }
    return e;
}

int media_session_create_answer(struct media_session *s, char **sdp)
{
    if (!s->offer_pending)
        return EINVAL;
    s->offer_pending = false;
    *sdp = write_sdp(s, "fake-answer");
    return 0;
}

int media_session_create_reoffer(struct media_session *s, bool send, bool recv, char **sdp)
{
    if (!s->negotiated || s->offer_pending)
        return EINVAL;
    if (s->reoffer_pending)
        return EALREADY;
    s->want_send = send;
    s->want_recv = recv;
    s->reoffer_pending = true;
    *sdp = write_sdp(s, "fake-reoffer");
    return 0;
}

int media_session_add_remote_candidate(struct media_session *s, const char *candidate)
{
    if (!candidate[0]) {
        s->remote_ended = true;
        return 0;
    }
    if (strncmp(candidate, "candidate:", 10) != 0)
        return EBADMSG;
    g_ptr_array_add(s->remote, g_strdup(candidate));
    return 0;
}

bool media_session_gathering_done(const struct media_session *s)
{
    return s->gathering_done;
}

struct audio_stream *media_session_audio(struct media_session *s)
{
    return NULL;
}

void media_session_direction(const struct media_session *s, bool *send, bool *recv)
{
    *send = s->negotiated && s->send;
    *recv = s->negotiated && s->recv;
}

const char *media_session_stream_id(const struct media_session *s)
{
    return "fakestream";
}

uint64_t media_session_last_rx_us(const struct media_session *s)
{
    return s->last_rx_us;
}

void media_session_get_info(struct media_session *s, struct media_session_info *info)
{
    memset(info, 0, sizeof(*info));
    info->connected = !s->closed;
    snprintf(info->codec, sizeof(info->codec), "opus/48000");
    snprintf(info->local_addr, sizeof(info->local_addr), "127.0.0.1:1");
    snprintf(info->remote_addr, sizeof(info->remote_addr), "127.0.0.1:2");
}

void media_session_close(struct media_session *s)
{
    s->closed = true;
}
