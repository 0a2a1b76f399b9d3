/*
 * RTCP of an audio stream (RFC 3550), its RTP times at the codec's clock: what the peer reports
 * (its SR, whose time we echo as LSR; report blocks about our SSRC, from which the round-trip time
 * and the loss our encoder's FEC should expect; BYE) on the worker thread, and our own compound
 * report (SR while we send, else RR, with one report block about the remote source, and SDES CNAME)
 * about once a second from the mixer clock, on hold too.
 */
#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "media/audio_stream_int.h"

#define RTCP_INTERVAL_US 1000000
#define RTCP_BUF         (512 + MEDIA_TRANSPORT_TRAILER)

static void handle_block(struct audio_stream *as, const struct rtcp_report_block *rb,
                         uint64_t ntp_now)
{
    if (rb->ssrc != as->ssrc)
        return;
    uint32_t q16;
    if (!rtcp_rtt_q16(rb, ntp_now, &q16))
        atomic_store(&as->rtt_ms, (unsigned)(((uint64_t)q16 * 1000 + 32768) >> 16));
    atomic_store(&as->remote_loss_pct, (unsigned)rb->fraction_lost * 100u / 256u);
}

void audio_rtcp_recv(struct audio_stream *as, const uint8_t *buf, size_t len, uint64_t now)
{
    struct rtcp_iter it;
    struct rtcp_pkt p;
    struct rtcp_report_block rb[RTCP_MAX_REPORTS];
    uint64_t ntp_now = ntp_at(as, now);
    unsigned good = 0;
    int err;

    rtcp_iter_init(&it, buf, len);
    while ((err = rtcp_iter_next(&it, &p)) == 0) {
        size_t nrb = 0;
        uint32_t ssrc;
        if (p.type == RTCP_SR) {
            struct rtcp_sr sr;
            if ((err = rtcp_sr_decode(&p, &sr, rb, RTCP_MAX_REPORTS, &nrb)) != 0)
                break;
            pthread_mutex_lock(&as->lock);
            if (!as->latched || sr.ssrc == as->remote_ssrc) {
                as->lsr = rtcp_ntp_mid32(sr.ntp);
                as->lsr_arrival_us = now;
                as->lsr_ssrc = sr.ssrc;
            }
            pthread_mutex_unlock(&as->lock);
        } else if (p.type == RTCP_RR) {
            if ((err = rtcp_rr_decode(&p, &ssrc, rb, RTCP_MAX_REPORTS, &nrb)) != 0)
                break;
        } else if (p.type == RTCP_BYE) {
            uint32_t ssrcs[RTCP_MAX_REPORTS];
            size_t n = 0;
            if ((err = rtcp_bye_decode(&p, ssrcs, RTCP_MAX_REPORTS, &n)) != 0)
                break;
            pthread_mutex_lock(&as->lock);
            bool ours = false;
            for (size_t i = 0; i < n; i++)
                ours |= as->latched && ssrcs[i] == as->remote_ssrc;
            if (ours && !as->bye) {
                as->bye = true;
                logc_info(as->log_ctx, "audio: remote SSRC %08x said BYE",
                          (unsigned)as->remote_ssrc);
            }
            pthread_mutex_unlock(&as->lock);
        }
        for (size_t i = 0; i < nrb; i++)
            handle_block(as, &rb[i], ntp_now);
        good++;
    }
    if (err != ENOENT || !good) {
        ctr_add(&as->rx_malformed, 1);
        audio_stream_warn_limited(as, &as->rl_rtcp, now, "malformed RTCP",
                                  err == ENOENT ? EBADMSG : err);
    }
    if (good) {
        ctr_add(&as->rtcp_rx, 1);
        atomic_store(&as->last_rx_us, now);
    }
}

static uint64_t rtcp_interval(struct audio_stream *as, uint64_t base)
{
    /* RFC 3550 6.3.1: randomised over 0.5 .. 1.5 of the interval so reports do not synchronise */
    return base / 2 + xorshift(&as->rng) % (base + 1);
}

void audio_stream_tick(struct audio_stream *as, uint64_t now)
{
    if (!as)
        return;
    if (!as->next_rtcp_us) {
        as->next_rtcp_us = now + rtcp_interval(as, RTCP_INTERVAL_US / 2);
        return;
    }
    if (now < as->next_rtcp_us)
        return;
    as->next_rtcp_us = now + rtcp_interval(as, RTCP_INTERVAL_US);

    struct rtcp_report_block rb = {0};
    size_t nrb = 0;
    pthread_mutex_lock(&as->lock);
    if (as->latched && as->seq.started && !as->seq.probation) {
        rb.ssrc = as->remote_ssrc;
        rb.fraction_lost = rtp_seq_fraction_lost(&as->seq);
        rb.cumulative_lost = rtp_seq_lost(&as->seq);
        rb.ext_highest_seq = rtp_seq_ext_max(&as->seq);
        rb.jitter = rtp_jitter_get(&as->jit);
        rb.lsr = as->lsr;
        if (as->lsr && now > as->lsr_arrival_us)
            rb.dlsr = (uint32_t)((now - as->lsr_arrival_us) * 65536u / 1000000u);
        nrb = 1;
    }
    pthread_mutex_unlock(&as->lock);

    uint8_t buf[RTCP_BUF];
    size_t len = 0;
    int err;
    uint64_t sent = ctr_get(&as->tx_packets);
    if (sent != as->tx_packets_at_report) {
        struct rtcp_sr sr = {
            .ssrc = as->ssrc,
            .ntp = ntp_at(as, now),
            .packet_count = (uint32_t)sent,
            .octet_count = (uint32_t)ctr_get(&as->tx_bytes),
        };
        /* the RTP time of this instant, extrapolated from the last frame sent */
        sr.rtp_ts = as->wrote ? as->last_write_ts + (uint32_t)((now - as->last_write_us) *
                                                               (as->clock_rate / 1000) / 1000)
                              : as->tx_ts;
        err = rtcp_sr_encode(buf, RTCP_BUF - MEDIA_TRANSPORT_TRAILER, &len, &sr, &rb, nrb);
    } else {
        err = rtcp_rr_encode(buf, RTCP_BUF - MEDIA_TRANSPORT_TRAILER, &len, as->ssrc, &rb, nrb);
    }
    as->tx_packets_at_report = sent;
    if (!err)
        err = rtcp_sdes_cname_encode(buf, RTCP_BUF - MEDIA_TRANSPORT_TRAILER, &len, as->ssrc,
                                     as->cname);
    if (err) {
        logc_error(as->log_ctx, "audio: cannot build RTCP: %s", strerror(err));
        return;
    }
    if (!media_transport_send(as->t, buf, len, sizeof(buf), true))
        ctr_add(&as->rtcp_tx, 1);
}
