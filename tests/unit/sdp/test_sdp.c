/* The SDP model: parse, format, build, read helpers, and every bound of the parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/mem.h"
#include "media/sdp.h"
#include "sdp_samples.h"

/* text with every LF turned into CRLF (a malloc'd string) */
static char *crlf(const char *text)
{
    size_t n = strlen(text), lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    char *out = malloc(n + lines + 1), *p = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n')
            *p++ = '\r';
        *p++ = text[i];
    }
    *p = '\0';
    return out;
}

static struct sdp_session *parse_ok(const char *text)
{
    struct sdp_session *s = NULL;
    char err[256];
    int e = sdp_parse(&s, text, strlen(text), err, sizeof(err));
    if (e)
        fail_msg("parse failed (%d): %s", e, err);
    assert_non_null(s);
    return s;
}

/* Parses text expecting EBADMSG and a message containing want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
    struct sdp_session *s = NULL;
    char err[256];
    int e = sdp_parse(&s, text, len, err, sizeof(err));
    assert_int_equal(e, EBADMSG);
    assert_null(s);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void round_trip_is_exact(void **state)
{
    char *text = crlf(CHROMIUM_OFFER);
    struct sdp_session *s = parse_ok(text);
    char *out = NULL;
    assert_int_equal(sdp_format(s, &out), 0);
    assert_string_equal(out, text);

    /* and again from what we wrote */
    struct sdp_session *s2 = parse_ok(out);
    char *out2 = NULL;
    assert_int_equal(sdp_format(s2, &out2), 0);
    assert_string_equal(out2, out);
    mem_deref(out2);
    mem_deref(s2);
    mem_deref(out);
    mem_deref(s);
    free(text);
}

static void lf_and_crlf_give_the_same_model(void **state)
{
    char *text = crlf(CHROMIUM_OFFER);
    struct sdp_session *a = parse_ok(CHROMIUM_OFFER), *b = parse_ok(text);
    char *fa, *fb;
    assert_int_equal(sdp_format(a, &fa), 0);
    assert_int_equal(sdp_format(b, &fb), 0);
    assert_string_equal(fa, fb);
    assert_string_equal(fa, text); /* LF input comes out as CRLF */
    mem_deref(fa);
    mem_deref(fb);
    mem_deref(a);
    mem_deref(b);
    free(text);
}

static void model_holds_the_lines(void **state)
{
    struct sdp_session *s = parse_ok(CHROMIUM_OFFER);
    assert_string_equal(s->origin.username, "-");
    assert_string_equal(s->origin.sess_id, "4611731400430051336");
    assert_string_equal(s->origin.sess_version, "2");
    assert_string_equal(s->origin.addr, "127.0.0.1");
    assert_string_equal(s->name, "-");
    assert_null(s->conn.addr);
    assert_int_equal(s->nmedia, 2);

    const struct sdp_media *a = &s->media[0], *v = &s->media[1];
    assert_string_equal(a->type, "audio");
    assert_int_equal(a->port, 9);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_int_equal(a->nfmts, 8);
    assert_string_equal(a->fmts[0], "111");
    assert_string_equal(a->fmts[7], "126");
    assert_string_equal(a->conn.addr, "0.0.0.0");
    assert_string_equal(v->type, "video");
    assert_string_equal(sdp_media_mid(a), "0");
    assert_string_equal(sdp_media_mid(v), "1");

    /* flags and values */
    const struct sdp_attr *mux = sdp_attrs_get(&a->attrs, "rtcp-mux");
    assert_non_null(mux);
    assert_null(mux->value);
    assert_string_equal(mux->line, "rtcp-mux");
    const struct sdp_attr *ms = sdp_attrs_get(&s->attrs, "msid-semantic");
    assert_non_null(ms);
    assert_string_equal(ms->value, " WMS 9Zk3LzjR");

    /* iteration over repeated attributes */
    size_t n = 0;
    for (const struct sdp_attr *x = NULL; (x = sdp_attrs_next(&a->attrs, "rtpmap", x));)
        n++;
    assert_int_equal(n, 8);
    n = 0;
    for (const struct sdp_attr *x = NULL; (x = sdp_attrs_next(&a->attrs, "extmap", x));)
        n++;
    assert_int_equal(n, 4);
    n = 0;
    for (const struct sdp_attr *x = NULL; (x = sdp_attrs_next(&v->attrs, "rtcp-fb", x));)
        n++;
    assert_int_equal(n, 3);
    n = 0;
    for (const struct sdp_attr *x = NULL; (x = sdp_attrs_next(&s->attrs, "group", x));)
        n++;
    assert_int_equal(n, 1);
    assert_null(sdp_attrs_get(&a->attrs, "candidate"));

    assert_int_equal(sdp_media_dir(s, a), SDP_DIR_SENDRECV);
    mem_deref(s);
}

static void attributes_fall_back_to_the_session(void **state)
{
    struct sdp_session *s = parse_ok(AIORTC_OFFER);
    const struct sdp_media *m = &s->media[0];
    /* the fingerprint sits at the session level, the ufrag in the m-section */
    assert_null(sdp_attrs_get(&m->attrs, "fingerprint"));
    const char *fp = sdp_attr_value(s, m, "fingerprint");
    assert_non_null(fp);
    assert_string_equal(fp, "sha-256 " CHROMIUM_FP);
    assert_string_equal(sdp_attr_value(s, m, "ice-ufrag"), "Kx7q");
    assert_null(sdp_attr_value(s, m, "ice-lite"));
    assert_null(sdp_attr_find(s, m, "ice-lite"));
    assert_non_null(sdp_attr_find(s, m, "end-of-candidates"));
    assert_null(sdp_attr_value(s, m, "end-of-candidates")); /* a flag */

    size_t n = 0;
    for (const struct sdp_attr *x = NULL; (x = sdp_attrs_next(&m->attrs, "candidate", x));) {
        assert_memory_equal(x->line, "candidate:", 10);
        n++;
    }
    assert_int_equal(n, 3);

    const struct sdp_conn *c = sdp_media_conn(s, m);
    assert_non_null(c);
    assert_string_equal(c->addr, "192.0.2.77");
    mem_deref(s);
}

static void rtpmap_and_fmtp_lookup(void **state)
{
    struct sdp_session *s = parse_ok(CHROMIUM_OFFER);
    const struct sdp_media *a = &s->media[0];
    struct sdp_rtpmap rm;
    assert_int_equal(sdp_media_rtpmap(a, 111, &rm), 0);
    assert_string_equal(rm.name, "opus");
    assert_int_equal(rm.clock_rate, 48000);
    assert_int_equal(rm.channels, 2);
    assert_int_equal(sdp_media_rtpmap(a, 110, &rm), 0);
    assert_string_equal(rm.name, "telephone-event");
    assert_int_equal(rm.clock_rate, 48000);
    assert_int_equal(rm.channels, 1);
    assert_int_equal(sdp_media_rtpmap(a, 100, &rm), ENOENT);

    const char *fmtp = sdp_media_fmtp(a, 111);
    assert_string_equal(fmtp, "minptime=10;usedtx=1;useinbandfec=1");
    assert_null(sdp_media_fmtp(a, 0));
    uint32_t v = 0;
    assert_int_equal(sdp_fmtp_uint(fmtp, "useinbandfec", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sdp_fmtp_uint(fmtp, "MINPTIME", &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(sdp_fmtp_uint(fmtp, "stereo", &v), ENOENT);
    assert_int_equal(sdp_fmtp_uint("a=1; b = x ;c=3", "b", &v), EBADMSG);
    const char *p;
    size_t n;
    assert_int_equal(sdp_fmtp_param("a=1; b = x ;c=3", "b", &p, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(p, "x", 1);
    assert_int_equal(sdp_fmtp_uint("a=1; b = x ;c=3", "c", &v), 0);
    assert_int_equal(v, 3);

    uint8_t pt;
    assert_int_equal(sdp_fmt_pt("111", &pt), 0);
    assert_int_equal(pt, 111);
    assert_int_equal(sdp_fmt_pt("128", &pt), EBADMSG);
    assert_int_equal(sdp_fmt_pt("-1", &pt), EBADMSG);
    assert_int_equal(sdp_fmt_pt("webrtc-datachannel", &pt), EBADMSG);
    mem_deref(s);

    /* static payload types without rtpmap */
    s = parse_ok(SIP_OFFER);
    a = &s->media[0];
    assert_int_equal(sdp_media_rtpmap(a, 0, &rm), 0);
    assert_string_equal(rm.name, "PCMU");
    assert_int_equal(rm.clock_rate, 8000);
    assert_int_equal(sdp_media_rtpmap(a, 8, &rm), 0);
    assert_string_equal(rm.name, "PCMA");
    assert_string_equal(sdp_media_fmtp(a, 101), "0-16");
    assert_string_equal(s->name, "SIP Call");
    assert_string_equal(sdp_media_conn(s, a)->addr, "192.0.2.50");
    mem_deref(s);

    /* a malformed rtpmap is reported, not guessed */
    s = parse_ok("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=audio 9 RTP/AVP 96 97\n"
                 "a=rtpmap:96 opus\na=rtpmap:97 opus/x/2\n");
    assert_int_equal(sdp_media_rtpmap(&s->media[0], 96, &rm), EBADMSG);
    assert_int_equal(sdp_media_rtpmap(&s->media[0], 97, &rm), EBADMSG);
    mem_deref(s);
}

static void direction_helpers(void **state)
{
    struct sdp_session *s = parse_ok("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=recvonly\n"
                                     "m=audio 9 RTP/AVP 0\nm=audio 9 RTP/AVP 0\na=inactive\n");
    assert_int_equal(sdp_media_dir(s, &s->media[0]), SDP_DIR_RECVONLY);
    assert_int_equal(sdp_media_dir(s, &s->media[1]), SDP_DIR_INACTIVE);
    assert_int_equal(sdp_dir_reverse(SDP_DIR_SENDONLY), SDP_DIR_RECVONLY);
    assert_int_equal(sdp_dir_reverse(SDP_DIR_RECVONLY), SDP_DIR_SENDONLY);
    assert_int_equal(sdp_dir_reverse(SDP_DIR_SENDRECV), SDP_DIR_SENDRECV);
    assert_int_equal(sdp_dir_reverse(SDP_DIR_INACTIVE), SDP_DIR_INACTIVE);
    assert_string_equal(sdp_dir_name(SDP_DIR_SENDONLY), "sendonly");
    mem_deref(s);
}

static void other_lines_keep_their_place(void **state)
{
    const char *in = "v=0\r\n"
                     "o=alice 1 2 IN IP6 2001:db8::1\r\n"
                     "s= \r\n"
                     "i=a session\r\n"
                     "u=http://example.com/x\r\n"
                     "e=nobody@example.com\r\n"
                     "c=IN IP6 2001:db8::1\r\n"
                     "b=AS:64\r\n"
                     "t=0 0\r\n"
                     "r=7d 1h 0 25h\r\n"
                     "a=tool:x\r\n"
                     "m=audio 49170/2 RTP/AVP 0\r\n"
                     "i=voice\r\n"
                     "c=IN IP6 2001:db8::2\r\n"
                     "b=TIAS:64000\r\n"
                     "a=foo:\r\n"
                     "a=rtpmap:0 PCMU/8000\r\n";
    struct sdp_session *s = parse_ok(in);
    assert_string_equal(s->name, " ");
    assert_int_equal(s->media[0].nports, 2);
    assert_int_equal(s->media[0].port, 49170);
    const struct sdp_attr *foo = sdp_attrs_get(&s->media[0].attrs, "foo");
    assert_non_null(foo);
    assert_string_equal(foo->value, ""); /* "a=foo:" is an empty value, not a flag */
    char *out;
    assert_int_equal(sdp_format(s, &out), 0);
    assert_string_equal(out, in);
    mem_deref(out);
    mem_deref(s);

    /* out of order lines are put in RFC order; a missing s= and t= are supplied */
    s = parse_ok("v=0\na=x\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\na=y\nc=IN IP4 0.0.0.0\n");
    assert_int_equal(sdp_format(s, &out), 0);
    assert_string_equal(out, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x\r\n"
                             "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=y\r\n");
    mem_deref(out);
    mem_deref(s);
}

static void tolerated_sloppiness(void **state)
{
    /* blank lines, no final line ending, spaces after a flag, several spaces between fields */
    struct sdp_session *s = parse_ok("v=0\r\n\r\no=-  1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n"
                                     "m=audio  9 RTP/AVP  0  8\na=sendonly  \na=rtcp-mux");
    assert_int_equal(s->media[0].nfmts, 2);
    assert_int_equal(sdp_media_dir(s, &s->media[0]), SDP_DIR_SENDONLY);
    assert_non_null(sdp_attrs_get(&s->media[0].attrs, "rtcp-mux"));
    assert_string_equal(s->origin.sess_id, "1");
    mem_deref(s);
}

static void structure_errors_name_the_line(void **state)
{
    const char *no_fmt = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=group:BUNDLE 0\n"
                         "a=msid-semantic: WMS\nm=audio 9 UDP/TLS/RTP/SAVPF\n";
    parse_bad(no_fmt, strlen(no_fmt), "sdp line 7: m= line has no formats");

    parse_bad("", 0, "no v= line");
    parse_bad("o=- 1 1 IN IP4 0.0.0.0\n", 23, "sdp line 1: the description does not start with v=");
    const char *no_o = "v=0\ns=-\nt=0 0\nm=audio 9 RTP/AVP 0\n";
    parse_bad(no_o, strlen(no_o), "sdp line 4: m= line before the o= line");
    const char *no_o2 = "v=0\ns=-\nt=0 0\n";
    parse_bad(no_o2, strlen(no_o2), "no o= line");
    const char *no_m = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=x\n";
    parse_bad(no_m, strlen(no_m), "no m= line");
    const char *v1 = "v=1\no=- 1 1 IN IP4 0.0.0.0\n";
    parse_bad(v1, strlen(v1), "sdp line 1: unsupported version");
    const char *o5 = "v=0\no=- 1 IN IP4 0.0.0.0\n";
    parse_bad(o5, strlen(o5), "sdp line 2: o= line needs 6 fields");
    const char *two_o = "v=0\no=- 1 1 IN IP4 0.0.0.0\no=- 1 1 IN IP4 0.0.0.0\n";
    parse_bad(two_o, strlen(two_o), "sdp line 3: second o= line");
    const char *bad_type = "v=0\no=- 1 1 IN IP4 0.0.0.0\ny=1\n";
    parse_bad(bad_type, strlen(bad_type), "sdp line 3: unknown line type y=");
    const char *upper = "v=0\no=- 1 1 IN IP4 0.0.0.0\nA=1\n";
    parse_bad(upper, strlen(upper), "sdp line 3: not a <type>=<value> line");
    const char *junk = "v=0\no=- 1 1 IN IP4 0.0.0.0\nhello\n";
    parse_bad(junk, strlen(junk), "sdp line 3: not a <type>=<value> line");
    const char *t_in_m = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\nt=0 0\n";
    parse_bad(t_in_m, strlen(t_in_m), "sdp line 4: t= line inside an m-section");
    const char *port = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 65536 RTP/AVP 0\n";
    parse_bad(port, strlen(port), "sdp line 3: m= line: bad port");
    const char *port2 = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9/0 RTP/AVP 0\n";
    parse_bad(port2, strlen(port2), "bad port");
    const char *proto = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP//AVP 0\n";
    parse_bad(proto, strlen(proto), "bad proto");
    const char *conn = "v=0\no=- 1 1 IN IP4 0.0.0.0\nc=IN IP4\n";
    parse_bad(conn, strlen(conn), "sdp line 3: c= line needs 3 fields");
    const char *conn2 = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\nc=IN IP4 1.2.3.4\n"
                        "c=IN IP4 1.2.3.4\n";
    parse_bad(conn2, strlen(conn2), "sdp line 5: second c= line in the m-section");
    const char *attr = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\na=:x\n";
    parse_bad(attr, strlen(attr), "sdp line 4: a= line: bad attribute name");
    const char *attr2 = "v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio 9 RTP/AVP 0\na=foo bar\n";
    parse_bad(attr2, strlen(attr2), "bad attribute name");
}

static void bad_bytes_are_rejected(void **state)
{
    const char nul[] = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=a\0b\n";
    parse_bad(nul, sizeof(nul) - 1, "sdp line 3: control byte 0x00 at column 4");
    const char cr[] = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=a\rb\n";
    parse_bad(cr, sizeof(cr) - 1, "sdp line 3: control byte 0x0d");
    const char esc[] = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=\x1b[2J\n";
    parse_bad(esc, sizeof(esc) - 1, "control byte 0x1b");
    const char del[] = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=\x7f\n";
    parse_bad(del, sizeof(del) - 1, "control byte 0x7f");
    const char tab[] = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=a\tb\n";
    parse_bad(tab, sizeof(tab) - 1, "control byte 0x09");

    /* UTF-8 in free text is fine */
    struct sdp_session *s = parse_ok("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=Caf\xc3\xa9\n"
                                     "m=audio 9 RTP/AVP 0\n");
    assert_string_equal(s->name, "Caf\xc3\xa9");
    mem_deref(s);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void size_bounds(void **state)
{
    /* a 1 MB description is refused before it is looked at */
    size_t big = 1024 * 1024;
    char *buf = malloc(big + 1);
    assert_non_null(buf);
    memcpy(buf, CHROMIUM_OFFER, strlen(CHROMIUM_OFFER));
    for (size_t i = strlen(CHROMIUM_OFFER); i < big; i += 12)
        memcpy(buf + i, "a=x:0123456\n", i + 12 <= big ? 12 : big - i);
    buf[big] = '\0';
    double t0 = now_ms();
    parse_bad(buf, big, "sdp: 1048576 bytes, more than the 65536 allowed");
    assert_true(now_ms() - t0 < 100.0);

    /* exactly at the limit is fine, one byte over is not */
    const char *head = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\nm=audio 9 RTP/AVP 0\n";
    size_t len = 0;
    unsigned in_section = 400; /* spread over m-sections so none passes its attribute bound */
    memcpy(buf, head, strlen(head) - 20);
    len = strlen(head) - 20;
    while (SDP_MAX_LEN - len > 40) {
        const char *line = in_section >= 400 ? "m=audio 9 RTP/AVP 0\n" : "a=x:0123456\n";
        in_section = in_section >= 400 ? 0 : in_section + 1;
        memcpy(buf + len, line, strlen(line));
        len += strlen(line);
    }
    size_t r = SDP_MAX_LEN - len; /* the last line takes exactly what is left */
    memcpy(buf + len, "a=", 2);
    memset(buf + len + 2, 'y', r - 3);
    buf[SDP_MAX_LEN - 1] = '\n';
    struct sdp_session *s = NULL;
    char err[200];
    assert_int_equal(sdp_parse(&s, buf, SDP_MAX_LEN, err, sizeof(err)), 0);
    assert_true(s->nmedia > 10);
    mem_deref(s);
    s = NULL;
    buf[SDP_MAX_LEN - 1] = 'y';
    buf[SDP_MAX_LEN] = '\n';
    parse_bad(buf, SDP_MAX_LEN + 1, "sdp: 65537 bytes, more than the 65536 allowed");

    /* a line at the limit passes, one byte longer does not */
    len = strlen(head);
    memcpy(buf, head, len);
    memcpy(buf + len, "a=x:", 4);
    memset(buf + len + 4, 'y', SDP_MAX_LINE - 4);
    len += SDP_MAX_LINE;
    buf[len++] = '\n';
    assert_int_equal(sdp_parse(&s, buf, len, err, sizeof(err)), 0);
    mem_deref(s);
    s = NULL;
    len = strlen(head);
    memcpy(buf + len, "a=x:", 4);
    memset(buf + len + 4, 'y', SDP_MAX_LINE - 3);
    len += SDP_MAX_LINE + 1;
    buf[len++] = '\r';
    buf[len++] = '\n';
    parse_bad(buf, len, "sdp line 6: line of 4097 bytes, more than the 4096 allowed");

    /* a CRLF line ending does not count against the line */
    len = strlen(head);
    memcpy(buf + len, "a=x:", 4);
    memset(buf + len + 4, 'y', SDP_MAX_LINE - 4);
    len += SDP_MAX_LINE;
    buf[len++] = '\r';
    buf[len++] = '\n';
    assert_int_equal(sdp_parse(&s, buf, len, err, sizeof(err)), 0);
    mem_deref(s);
    free(buf);
}

/* Appends to a growing text. */
__attribute__((format(printf, 4, 5))) static void cat(char **buf, size_t *len, size_t *cap,
                                                      const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*cap + (size_t)n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, line, (size_t)n + 1);
    *len += (size_t)n;
}

static void count_bounds(void **state)
{
    const char *head = "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\n";
    char *b = NULL;
    size_t len = 0, cap = 0;
    struct sdp_session *s;
    char err[200];

    /* 32 m-sections pass, 33 do not */
    cat(&b, &len, &cap, "%s", head);
    for (int i = 0; i < 32; i++)
        cat(&b, &len, &cap, "m=audio 9 RTP/AVP 0\n");
    assert_int_equal(sdp_parse(&s, b, len, err, sizeof(err)), 0);
    assert_int_equal(s->nmedia, 32);
    mem_deref(s);
    cat(&b, &len, &cap, "m=audio 9 RTP/AVP 0\n");
    parse_bad(b, len, "sdp line 37: more than 32 m= sections");

    /* 512 attributes in a section pass, 513 do not; the same at the session level */
    len = 0;
    cat(&b, &len, &cap, "%s", head);
    for (int i = 0; i < 512; i++)
        cat(&b, &len, &cap, "a=s%d\n", i);
    cat(&b, &len, &cap, "m=audio 9 RTP/AVP 0\n");
    for (int i = 0; i < 512; i++)
        cat(&b, &len, &cap, "a=m%d\n", i);
    assert_int_equal(sdp_parse(&s, b, len, err, sizeof(err)), 0);
    assert_int_equal(s->attrs.n, 512);
    assert_int_equal(s->media[0].attrs.n, 512);
    assert_string_equal(s->media[0].attrs.v[511].name, "m511");
    mem_deref(s);
    cat(&b, &len, &cap, "a=one-more\n");
    parse_bad(b, len, "sdp line 1030: more than 512 attributes in the m-section");
    len = 0;
    cat(&b, &len, &cap, "%s", head);
    for (int i = 0; i < 513; i++)
        cat(&b, &len, &cap, "a=s%d\n", i);
    parse_bad(b, len, "sdp line 517: more than 512 attributes in the session part");

    /* 128 formats pass, 129 do not */
    len = 0;
    cat(&b, &len, &cap, "%sm=audio 9 RTP/AVP", head);
    for (int i = 0; i < 128; i++)
        cat(&b, &len, &cap, " %d", i);
    cat(&b, &len, &cap, "\n");
    assert_int_equal(sdp_parse(&s, b, len, err, sizeof(err)), 0);
    assert_int_equal(s->media[0].nfmts, 128);
    mem_deref(s);
    len = 0;
    cat(&b, &len, &cap, "%sm=audio 9 RTP/AVP", head);
    for (int i = 0; i < 129; i++)
        cat(&b, &len, &cap, " %d", i);
    cat(&b, &len, &cap, "\n");
    parse_bad(b, len, "sdp line 5: m= line has more than 128 formats");

    /* other lines are bounded too */
    len = 0;
    cat(&b, &len, &cap, "%s", head);
    for (int i = 0; i < 64; i++)
        cat(&b, &len, &cap, "b=AS:%d\n", i);
    parse_bad(b, len, "more than 64 i=/b=/t=/k=... lines in the session part");
    free(b);
}

static void builder_makes_what_parses(void **state)
{
    struct sdp_session *s;
    assert_int_equal(sdp_session_alloc(&s, 42, 7), 0);
    struct sdp_media *m;
    assert_int_equal(sdp_attr_add(s, NULL, "group", "BUNDLE 0"), 0);
    assert_int_equal(sdp_media_add(s, &m, "audio", 5004, "RTP/AVP"), 0);
    assert_int_equal(sdp_media_add_format(s, m, "0"), 0);
    assert_int_equal(sdp_media_add_format(s, m, "101"), 0);
    assert_int_equal(sdp_conn_set(s, m, "2001:db8::7"), 0);
    assert_int_equal(sdp_attr_addf(s, m, "rtpmap", "%d %s/%d", 101, "telephone-event", 8000), 0);
    assert_int_equal(sdp_attr_add(s, m, "sendrecv", NULL), 0);
    assert_int_equal(sdp_origin_set_addr(s, "192.0.2.1"), 0);
    char *out;
    assert_int_equal(sdp_format(s, &out), 0);
    assert_string_equal(out, "v=0\r\n"
                             "o=- 42 7 IN IP4 192.0.2.1\r\n"
                             "s=-\r\n"
                             "t=0 0\r\n"
                             "a=group:BUNDLE 0\r\n"
                             "m=audio 5004 RTP/AVP 0 101\r\n"
                             "c=IN IP6 2001:db8::7\r\n"
                             "a=rtpmap:101 telephone-event/8000\r\n"
                             "a=sendrecv\r\n");
    struct sdp_session *back = parse_ok(out);
    struct sdp_rtpmap rm;
    assert_int_equal(sdp_media_rtpmap(&back->media[0], 101, &rm), 0);
    assert_string_equal(rm.name, "telephone-event");
    mem_deref(back);
    mem_deref(out);

    /* nothing can smuggle a line break or a bad name in */
    assert_int_equal(sdp_attr_add(s, m, "x", "1\r\na=evil"), EINVAL);
    assert_int_equal(sdp_attr_add(s, m, "bad name", "1"), EINVAL);
    assert_int_equal(sdp_attr_add(s, m, "x:y", NULL), EINVAL);
    assert_int_equal(sdp_attr_add(s, m, "", NULL), EINVAL);
    assert_int_equal(sdp_media_add_format(s, m, "1 2"), EINVAL);
    assert_int_equal(sdp_conn_set(s, m, "1.2.3.4\n"), EINVAL);
    assert_int_equal(sdp_conn_set(s, m, "1.2.3.4 5"), EINVAL);
    assert_int_equal(sdp_media_add(s, NULL, "aud io", 9, "RTP/AVP"), EINVAL);
    assert_int_equal(sdp_media_add(s, NULL, "audio", 9, "RTP/"), EINVAL);
    char longv[SDP_MAX_LINE];
    memset(longv, 'v', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = '\0';
    assert_int_equal(sdp_attr_add(s, m, "x", longv), EINVAL);

    /* the bounds */
    for (size_t i = m->attrs.n; i < SDP_MAX_ATTRS; i++)
        assert_int_equal(sdp_attr_add(s, m, "x", NULL), 0);
    assert_int_equal(sdp_attr_add(s, m, "x", NULL), EOVERFLOW);
    while (s->nmedia < SDP_MAX_MEDIA)
        assert_int_equal(sdp_media_add(s, NULL, "audio", 9, "RTP/AVP"), 0);
    assert_int_equal(sdp_media_add(s, NULL, "audio", 9, "RTP/AVP"), EOVERFLOW);
    /* an m-section without formats would not parse again: refuse to write it */
    assert_int_equal(sdp_format(s, &out), EINVAL);
    mem_deref(s);
}

static void misuse_is_einval(void **state)
{
    struct sdp_session *s = NULL;
    assert_int_equal(sdp_parse(NULL, "v=0", 3, NULL, 0), EINVAL);
    assert_int_equal(sdp_parse(&s, NULL, 3, NULL, 0), EINVAL);
    assert_int_equal(sdp_format(NULL, NULL), EINVAL);
    assert_int_equal(sdp_session_alloc(NULL, 1, 1), EINVAL);
    /* errors without a buffer for the message */
    assert_int_equal(sdp_parse(&s, "x", 1, NULL, 0), EBADMSG);
    char tiny[4];
    assert_int_equal(sdp_parse(&s, "x", 1, tiny, sizeof(tiny)), EBADMSG);
    assert_int_equal(strlen(tiny), 3);
    assert_null(s);
    assert_null(sdp_attrs_next(NULL, "x", NULL));
    assert_null(sdp_attr_find(NULL, NULL, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_is_exact),
        cmocka_unit_test(lf_and_crlf_give_the_same_model),
        cmocka_unit_test(model_holds_the_lines),
        cmocka_unit_test(attributes_fall_back_to_the_session),
        cmocka_unit_test(rtpmap_and_fmtp_lookup),
        cmocka_unit_test(direction_helpers),
        cmocka_unit_test(other_lines_keep_their_place),
        cmocka_unit_test(tolerated_sloppiness),
        cmocka_unit_test(structure_errors_name_the_line),
        cmocka_unit_test(bad_bytes_are_rejected),
        cmocka_unit_test(size_bounds),
        cmocka_unit_test(count_bounds),
        cmocka_unit_test(builder_makes_what_parses),
        cmocka_unit_test(misuse_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
