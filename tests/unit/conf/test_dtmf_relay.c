/*
 * DTMF relay in a conference on a real mixer clock: a digit one member sends reaches every
 * other member exactly once (never the sender, never a member whose leg cannot carry digits),
 * in order, logged with the room and the member; the queue is bounded; join and leave wire the
 * port's hook. Then the whole path with real audio streams: RFC 4733 from a phone's stream into
 * its leg, through the room, out of the other legs at their own payload types and clocks (PCMU
 * and G.722 at 8000 Hz, Opus at 48000 Hz), into the other phones. Waits are polls with a
 * deadline.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "media/audio_stream.h"
#include "tests/unit/conf/fake_port.h"

/* ---- log capture ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_lines[32][200];
static unsigned log_n;

static void capture(enum log_level level, const char *line, void *arg)
{
    (void)level;
    (void)arg;
    if (!strstr(line, "dtmf"))
        return;
    pthread_mutex_lock(&log_lock);
    if (log_n < 32)
        snprintf(log_lines[log_n++], sizeof(log_lines[0]), "%s", line);
    pthread_mutex_unlock(&log_lock);
}

static bool logged(const char *text)
{
    bool found = false;
    pthread_mutex_lock(&log_lock);
    for (unsigned i = 0; i < log_n; i++)
        found |= strstr(log_lines[i], text) != NULL;
    pthread_mutex_unlock(&log_lock);
    return found;
}

static void capture_start(void)
{
    log_n = 0;
    log_set_level(LOG_LVL_INFO);
    log_set_sink(capture, NULL);
}

static void capture_stop(void)
{
    log_set_sink(NULL, NULL);
    log_set_level(LOG_LVL_WARN);
}

/* ---- fake members ---- */

struct sender {
    struct conf_member *mb;
    const char *digits;
    int errors;
};

/* A media worker's thread, sending its participant's digits into the room. */
static void *send_digits(void *arg)
{
    struct sender *s = arg;
    for (const char *d = s->digits; *d; d++)
        s->errors += conf_member_dtmf(s->mb, *d, 120) != 0;
    return NULL;
}

static void test_relay_fake_members(void **state)
{
    capture_start();
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!abc"), 0);

    /* a, b, c carry digits; d's leg negotiated none */
    struct fport *p[4];
    struct conf_member *mb[4];
    const char *labels[4] = {"+15550100", "@bob:test", "@carol:test", "+15550199"};
    for (int i = 0; i < 4; i++) {
        p[i] = fport_new(0, NULL, 0, -1);
        p[i]->no_dtmf = i == 3;
        struct conf_port cp = port_of(p[i]);
        assert_int_equal(conf_room_join(room, &cp, labels[i], &mb[i]), 0);
        assert_ptr_equal(atomic_load(&p[i]->attached), mb[i]); /* told its member */
        assert_int_equal(atomic_load(&p[i]->attaches), 1);
    }

    struct sender s = {mb[0], "5#", 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_digits, &s), 0);
    pthread_join(th, NULL);
    assert_int_equal(s.errors, 0);
    assert_true(wait_dtmf(p[1], 2));
    assert_true(wait_dtmf(p[2], 2));
    /* let a few more ticks go by: nothing is relayed twice */
    assert_true(wait_writes(p[0], atomic_load(&p[0]->writes) + 5));
    for (int i = 1; i <= 2; i++) {
        assert_int_equal(atomic_load(&p[i]->ndtmf), 2);
        assert_memory_equal(p[i]->dtmf, "5#", 2);
        assert_int_equal(p[i]->dtmf_ms[0], 120);
    }
    assert_int_equal(atomic_load(&p[0]->ndtmf), 0); /* not the sender */
    assert_int_equal(atomic_load(&p[3]->ndtmf), 0); /* nor a member without telephone-event */
    struct conf_member_stats st;
    conf_member_get_stats(mb[0], &st);
    assert_int_equal(st.dtmf_in, 2);
    assert_int_equal(st.dtmf_out, 0);
    conf_member_get_stats(mb[2], &st);
    assert_int_equal(st.dtmf_in, 0);
    assert_int_equal(st.dtmf_out, 2);
    assert_true(logged("dtmf '5' (120 ms) from +15550100 in conf=!abc"));
    assert_true(logged("dtmf '#' (120 ms) from +15550100 in conf=!abc"));

    /* a digit from b goes to a and c */
    assert_int_equal(conf_member_dtmf(mb[1], 'A', 80), 0);
    assert_true(wait_dtmf(p[0], 1));
    assert_true(wait_dtmf(p[2], 3));
    assert_int_equal(p[0]->dtmf[0], 'A');
    assert_int_equal(p[2]->dtmf[2], 'A');
    assert_int_equal(atomic_load(&p[1]->ndtmf), 2);

    /* a muted (held) member is not heard: its digits are not relayed either */
    conf_member_set_muted(mb[2], true);
    assert_int_equal(conf_member_dtmf(mb[2], '1', 100), 0);
    assert_true(wait_writes(p[0], atomic_load(&p[0]->writes) + 5));
    assert_int_equal(atomic_load(&p[0]->ndtmf), 1);
    assert_int_equal(atomic_load(&p[1]->ndtmf), 2);
    conf_member_get_stats(mb[2], &st);
    assert_int_equal(st.dtmf_in, 0);
    assert_true(logged("muted"));
    conf_member_set_muted(mb[2], false);

    assert_int_equal(conf_member_dtmf(mb[0], 'x', 100), EINVAL);
    assert_int_equal(conf_member_dtmf(NULL, '1', 100), EINVAL);

    for (int i = 0; i < 4; i++) {
        conf_member_leave(mb[i]);
        assert_null(atomic_load(&p[i]->attached)); /* told it is no member any more */
        assert_int_equal(atomic_load(&p[i]->detaches), 1);
        fport_free(p[i]);
    }
    capture_stop();
    mem_deref(room);
    mem_deref(m);
    assert_int_equal(atomic_load(&violations), 0);
}

/* While the room is held (as a tick holds it), the queue fills: the 17th digit is refused,
 * and the 16 waiting go out once the room ticks again, in order. */
struct fill {
    struct conf_member *mb;
    int results[CONF_DTMF_QUEUE + 1];
};

static bool fill_queue(struct conf_member *mb, void *arg)
{
    struct fill *f = arg;
    if (mb != f->mb)
        return true;
    for (int i = 0; i <= CONF_DTMF_QUEUE; i++)
        f->results[i] = conf_member_dtmf(mb, "0123456789*#ABCD9"[i], 60);
    return false;
}

static void test_queue_bound(void **state)
{
    capture_start();
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!queue"), 0);
    struct fport *a = fport_new(0, NULL, 0, -1), *b = fport_new(0, NULL, 0, -1);
    struct conf_member *ma, *mbb;
    struct conf_port ca = port_of(a), cb = port_of(b);
    assert_int_equal(conf_room_join(room, &ca, "a", &ma), 0);
    assert_int_equal(conf_room_join(room, &cb, "b", &mbb), 0);

    struct fill f = {.mb = ma};
    conf_room_foreach(room, fill_queue, &f);
    for (int i = 0; i < CONF_DTMF_QUEUE; i++)
        assert_int_equal(f.results[i], 0);
    assert_int_equal(f.results[CONF_DTMF_QUEUE], ENOBUFS);
    assert_true(wait_dtmf(b, CONF_DTMF_QUEUE));
    assert_memory_equal(b->dtmf, "0123456789*#ABCD", CONF_DTMF_QUEUE);
    assert_true(logged("dtmf '9' from a in conf=!queue dropped"));
    capture_stop();

    conf_member_leave(ma);
    conf_member_leave(mbb);
    fport_free(a);
    fport_free(b);
    mem_deref(room);
    mem_deref(m);
    assert_int_equal(atomic_load(&violations), 0);
}

/* ---- real streams ---- */

/*
 * A phone and its leg: two audio streams whose transports hand each packet straight to the
 * other's receive handler, on the sending thread. The leg is the room's member (its mixer clock
 * writes it, so what it sends reaches the phone on the clock thread); the test thread plays the
 * phone.
 */
struct wire {
    struct media_transport mt;
    struct wire *peer;
};

static int wire_send(struct media_transport *t, uint8_t *pkt, size_t len, size_t cap, bool rtcp)
{
    struct wire *w = (struct wire *)t;
    if (w->peer->mt.recvh)
        w->peer->mt.recvh(pkt, len, rtcp, w->peer->mt.recv_arg);
    return 0;
}

struct heard {
    pthread_mutex_t lock;
    char digits[16];
    uint16_t ms[16];
    unsigned n;
};

static void phone_dtmf(char digit, uint16_t duration_ms, void *arg)
{
    struct heard *h = arg;
    pthread_mutex_lock(&h->lock);
    if (h->n < 16) {
        h->digits[h->n] = digit;
        h->ms[h->n++] = duration_ms;
    }
    pthread_mutex_unlock(&h->lock);
}

static unsigned heard_count(struct heard *h)
{
    pthread_mutex_lock(&h->lock);
    unsigned n = h->n;
    pthread_mutex_unlock(&h->lock);
    return n;
}

struct line {
    struct wire leg_w, phone_w;
    struct audio_stream *leg, *phone;
    struct conf_member *mb;
    struct heard heard;
};

static void line_open(struct line *l, enum audio_codec codec, uint8_t pt, uint8_t dtmf_pt,
                      uint32_t ssrc)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->heard.lock, NULL);
    l->leg_w.mt.send = wire_send;
    l->phone_w.mt.send = wire_send;
    l->leg_w.peer = &l->phone_w;
    l->phone_w.peer = &l->leg_w;
    struct audio_stream_cfg c = {.codec = codec, .pt = pt, .dtmf_pt = dtmf_pt, .local_ssrc = ssrc};
    assert_int_equal(audio_stream_alloc(&l->leg, &l->leg_w.mt, &c), 0);
    c.local_ssrc = ssrc + 1;
    assert_int_equal(audio_stream_alloc(&l->phone, &l->phone_w.mt, &c), 0);
    audio_stream_set_dtmf_handler(l->phone, phone_dtmf, &l->heard);
}

static void line_close(struct line *l)
{
    l->leg = mem_deref(l->leg);
    l->phone = mem_deref(l->phone);
    pthread_mutex_destroy(&l->heard.lock);
}

static bool wait_heard(struct line *l, unsigned n)
{
    uint64_t end = now_ms() + TIMEOUT_MS;
    while (heard_count(&l->heard) < n) {
        if (now_ms() > end)
            return false;
        sleep_us(1000);
    }
    return true;
}

/* The phone keys a digit: its stream sends the events over the next frames (audio with them). */
static void phone_key(struct line *l, char digit, uint16_t ms)
{
    static const int16_t silence[AUDIO_FRAME_SAMPLES];
    assert_int_equal(audio_stream_send_dtmf(l->phone, digit, ms), 0);
    for (unsigned f = 0; f < ms / 20u + 6; f++)
        assert_int_equal(audio_stream_write(l->phone, silence), 0);
}

static void test_relay_real_streams(void **state)
{
    capture_start();
    struct conf_mixer *m = NULL;
    struct conf_room *room = NULL;
    assert_int_equal(conf_mixer_alloc(&m, 1), 0);
    assert_int_equal(conf_room_alloc(&room, m, "!sip"), 0);

    enum { NLINES = 4 };
    static struct line lines[NLINES];
    line_open(&lines[0], AUDIO_CODEC_PCMU, 0, 101, 0x1000);
    line_open(&lines[1], AUDIO_CODEC_OPUS, 111, 126, 0x2000);
    line_open(&lines[2], AUDIO_CODEC_G722, 9, 101, 0x3000);
    line_open(&lines[3], AUDIO_CODEC_PCMA, 8, 0, 0x4000); /* no telephone-event */
    const char *labels[NLINES] = {"+15550100", "@web:test", "+15550102", "+15550103"};
    for (int i = 0; i < NLINES; i++) {
        struct conf_port cp;
        conf_port_from_audio_stream(&cp, lines[i].leg);
        assert_int_equal(conf_room_join(room, &cp, labels[i], &lines[i].mb), 0);
    }

    /* the PCMU phone keys 7 then 3 */
    phone_key(&lines[0], '7', 100);
    phone_key(&lines[0], '3', 160);
    assert_true(wait_heard(&lines[1], 2));
    assert_true(wait_heard(&lines[2], 2));
    /* the Opus phone keys * */
    phone_key(&lines[1], '*', 80);
    assert_true(wait_heard(&lines[0], 1));
    assert_true(wait_heard(&lines[2], 3));
    /* the events' last end packets go out over the following ticks: let them pass */
    struct conf_member_stats st;
    conf_member_get_stats(lines[3].mb, &st);
    uint64_t ticks = st.ticks;
    for (uint64_t end = now_ms() + TIMEOUT_MS; st.ticks < ticks + 15 && now_ms() < end;) {
        sleep_us(2000);
        conf_member_get_stats(lines[3].mb, &st);
    }

    struct heard *h1 = &lines[1].heard, *h2 = &lines[2].heard, *h0 = &lines[0].heard;
    /* each digit exactly once, in order, with its duration, whatever the clock */
    assert_int_equal(heard_count(h1), 2);
    assert_memory_equal(h1->digits, "73", 2);
    assert_int_equal(h1->ms[0], 100); /* relayed at Opus's 48 kHz */
    assert_int_equal(h1->ms[1], 160);
    assert_int_equal(heard_count(h2), 3);
    assert_memory_equal(h2->digits, "73*", 3);
    assert_int_equal(h2->ms[2], 80); /* and at G.722's 8 kHz */
    assert_int_equal(heard_count(h0), 1);
    assert_int_equal(h0->digits[0], '*');
    assert_int_equal(heard_count(&lines[3].heard), 0);

    struct audio_stream_stats ss;
    audio_stream_get_stats(lines[0].leg, &ss);
    assert_int_equal(ss.dtmf_events, 2);
    conf_member_get_stats(lines[0].mb, &st);
    assert_int_equal(st.dtmf_in, 2);
    assert_int_equal(st.dtmf_out, 1);
    conf_member_get_stats(lines[3].mb, &st);
    assert_int_equal(st.dtmf_out, 0); /* offered, refused: no telephone-event */
    assert_true(logged("dtmf '7' (100 ms) from +15550100 in conf=!sip"));
    assert_true(logged("dtmf '*' (80 ms) from @web:test in conf=!sip"));

    /* after leaving, a leg's digits go nowhere (its handler is gone) */
    conf_member_leave(lines[2].mb);
    phone_key(&lines[2], '9', 60);
    audio_stream_get_stats(lines[2].leg, &ss);
    assert_int_equal(ss.dtmf_events, 1);
    for (int i = 0; i < NLINES; i++) {
        if (i != 2)
            conf_member_leave(lines[i].mb);
    }
    assert_int_equal(heard_count(h0), 1);
    for (int i = 0; i < NLINES; i++)
        line_close(&lines[i]);
    capture_stop();
    mem_deref(room);
    mem_deref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_relay_fake_members, fake_setup),
        cmocka_unit_test_setup(test_queue_bound, fake_setup),
        cmocka_unit_test_setup(test_relay_real_streams, fake_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
