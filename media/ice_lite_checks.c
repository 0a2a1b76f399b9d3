/*
 * What an ICE-lite agent sends over STUN: answers to the peer's checks, and on the controlling
 * side its own checks, one every Ta, retransmitted with a doubling RTO (see ice_lite.c).
 */
#include "media/ice_lite_agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "base/log.h"

/* ---- STUN out ---- */

static int finish(struct bytes_w *w, const char *key)
{
    int err = key ? stun_w_integrity(w, (const uint8_t *)key, strlen(key)) : 0;
    return err ? err : stun_w_fingerprint(w);
}

void lite_answer_error(struct lite_agent *a, const struct stun_msg *m, uint16_t code,
                       const char *key, const struct sockaddr *src, socklen_t srclen)
{
    uint8_t buf[256];
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    int err = stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_ERROR, m->tid);
    if (!err)
        err = stun_w_error(&w, code, stun_err_reason(code));
    if (!err && code == STUN_ERR_UNKNOWN_ATTRIBUTE) {
        uint8_t list[2 * STUN_MAX_UNKNOWN];
        for (size_t i = 0; i < m->nunknown; i++)
            bytes_put16(list + 2 * i, m->unknown[i]);
        err = stun_w_attr(&w, STUN_ATTR_UNKNOWN_ATTRIBUTES, list, 2 * m->nunknown);
    }
    if (!err)
        err = finish(&w, key);
    if (!err)
        (void)lite_host_send(a->host, buf, w.len, src, srclen);
}

void lite_answer_success(struct lite_agent *a, const struct stun_msg *m, const char *key,
                         const struct sockaddr *src, socklen_t srclen)
{
    uint8_t buf[128];
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    int err = stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, m->tid);
    if (!err)
        err = stun_w_xor_addr(&w, src);
    if (!err)
        err = finish(&w, key);
    if (!err)
        (void)lite_host_send(a->host, buf, w.len, src, srclen);
}

void lite_send_check(struct lite_agent *a, const struct sockaddr *to, socklen_t tolen,
                     const uint8_t tid[STUN_TID_LEN], bool nominate)
{
    uint8_t buf[STUN_MAX_LEN];
    char user[2 * ICE_CRED_MAX + 2];
    int n = snprintf(user, sizeof(user), "%s:%s", a->rufrag, a->cur.ufrag);
    struct bytes_w w = bytes_w_init(buf, sizeof(buf));
    int err = stun_w_header(&w, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, tid);
    if (!err)
        err = stun_w_attr(&w, STUN_ATTR_USERNAME, user, (size_t)n);
    if (!err)
        err = stun_w_u32(&w, STUN_ATTR_PRIORITY, PRFLX_PRIORITY);
    if (!err)
        err = stun_w_u64(&w, a->controlling ? STUN_ATTR_ICE_CONTROLLING : STUN_ATTR_ICE_CONTROLLED,
                         a->tiebreaker);
    if (!err && nominate)
        err = stun_w_attr(&w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
    if (!err)
        err = finish(&w, a->rpwd);
    if (!err)
        (void)lite_host_send(a->host, buf, w.len, to, tolen);
}

/* ---- checks (the controlling side) ---- */

static unsigned rto_ms(unsigned sends)
{
    unsigned ms = RTO_FIRST_MS;
    for (unsigned i = 1; i < sends && ms < 8000; i++)
        ms *= 2;
    return ms;
}

static struct pair *next_pair(struct lite_agent *a, int64_t now)
{
    struct pair *due = NULL, *waiting = NULL;
    for (unsigned i = 0; i < a->npairs; i++) {
        struct pair *p = &a->pairs[i];
        if (p->state == PAIR_WAITING && p->triggered)
            return p;
        if (p->state == PAIR_WAITING && !waiting)
            waiting = p;
        if (p->state == PAIR_IN_PROGRESS && p->next_us <= now && p->sends < MAX_SENDS &&
            (!due || p->next_us < due->next_us))
            due = p;
    }
    return due ? due : waiting;
}

/* One pacing step: at most one transmission. false when there is nothing left to do. */
static bool check_step(struct lite_agent *a)
{
    if (a->closed || a->failed || !a->has_remote)
        return false;
    int64_t now = g_get_monotonic_time();
    bool active = false;
    for (unsigned i = 0; i < a->npairs; i++) {
        struct pair *p = &a->pairs[i];
        if (p->state == PAIR_IN_PROGRESS && p->sends >= MAX_SENDS && p->next_us <= now)
            p->state = PAIR_FAILED;
        active |= p->state == PAIR_WAITING || p->state == PAIR_IN_PROGRESS;
    }
    if (!active) {
        if (!a->connected && a->remote_done && a->npairs)
            lite_fail(a, "connectivity checks failed on every candidate pair");
        return false;
    }
    struct pair *p = next_pair(a, now);
    if (!p)
        return true; /* waiting for a retransmission timer */
    if (p->state == PAIR_WAITING) {
        if (stun_tid_random(p->tid))
            return true;
        p->sends = 0;
        p->nominating = a->controlling;
    }
    p->state = PAIR_IN_PROGRESS;
    p->triggered = false;
    p->sends++;
    p->next_us = now + (int64_t)rto_ms(p->sends) * 1000;
    lite_send_check(a, (struct sockaddr *)&p->addr, p->len, p->tid, p->nominating);
    return true;
}

static gboolean on_check_timer(gpointer data)
{
    struct lite_agent *a = data;
    if (check_step(a))
        return G_SOURCE_CONTINUE;
    if (a->check_timer) { /* lite_fail() may have stopped it already */
        g_source_unref(a->check_timer);
        a->check_timer = NULL;
    }
    return G_SOURCE_REMOVE;
}

/* Starts pacing checks if there is something to check: the first goes out now. */
void lite_checks_kick(struct lite_agent *a)
{
    if (!a->checker || a->closed || a->failed || !a->has_remote || !a->gathered || a->check_timer ||
        a->connected)
        return;
    if (check_step(a) && !a->check_timer && !a->failed && !a->connected)
        lite_arm(a, &a->check_timer, TA_MS, on_check_timer);
}

static struct pair *pair_find(struct lite_agent *a, const struct lite_addr *k)
{
    for (unsigned i = 0; i < a->npairs; i++)
        if (lite_addr_equal(&a->pairs[i].key, k))
            return &a->pairs[i];
    return NULL;
}

struct pair *lite_pair_add(struct lite_agent *a, const struct sockaddr *sa, socklen_t len)
{
    struct lite_addr k;
    lite_addr_from(&k, sa);
    struct pair *p = pair_find(a, &k);
    if (p)
        return p;
    if (a->npairs == MAX_PAIRS)
        return NULL;
    p = &a->pairs[a->npairs++];
    memset(p, 0, sizeof(*p));
    memcpy(&p->addr, sa, len);
    p->len = len;
    p->key = k;
    p->state = PAIR_WAITING;
    return p;
}

/* A check from the peer: RFC 8445 7.3.1.4, a triggered check on that pair (new: peer-reflexive). */
void lite_triggered_check(struct lite_agent *a, const struct sockaddr *src, socklen_t srclen)
{
    struct pair *p = lite_pair_add(a, src, srclen);
    if (!p || p->state == PAIR_IN_PROGRESS)
        return; /* a succeeded one is checked again: it may not have nominated (roles switched) */
    p->state = PAIR_WAITING;
    p->triggered = true;
    lite_checks_kick(a);
}
