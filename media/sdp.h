/*
 * The SDP model (RFC 8866, formerly 4566): a parser for descriptions that come from outside, a
 * formatter, a small builder for the descriptions we make, and read helpers for the attributes
 * the offer/answer code (media/sdp_offer_answer.h) looks at.
 *
 * The model keeps what was written, not an interpretation of it: the session and each media
 * section hold their fixed lines (o=, s=, c=, m=), their other lines (i=, b=, t=, k=, ...) and an
 * ordered list of attributes, each as name, value and the whole "name:value" text. Formatting a
 * parsed session gives back the same lines in RFC order with CRLF endings, so what we did not
 * understand is neither lost nor reinterpreted. Meaning (codecs, directions, candidates) is read
 * on demand through the helpers below.
 *
 * Everything is bounded, because an SDP arrives from whoever calls us: the whole text, a line,
 * the m-sections, the attributes and other lines of a section, the formats of an m= line. Bad
 * input is EBADMSG with a message naming the line ("sdp line 7: m= line has no formats"); the
 * parser does not log, since only its caller knows which call the text came from.
 *
 * Memory: a session is one mem object (mem_deref frees it); its strings live in an arena owned by
 * it, so pointers into a session stay valid as long as a reference to it is held. The structures
 * below are for reading; change a session only through the sdp_*_add / sdp_*_set functions, which
 * validate what they are given (no line breaks or control characters, tokens where tokens belong)
 * so that a session we format always parses again.
 */
#ifndef SB_MEDIA_SDP_H
#define SB_MEDIA_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_LEN     (64 * 1024) /* whole description, bytes */
#define SDP_MAX_LINE    4096        /* one line, without its line ending */
#define SDP_MAX_MEDIA   32          /* m-sections */
#define SDP_MAX_ATTRS   512         /* a= lines in the session part or in one m-section */
#define SDP_MAX_OTHER   64          /* other lines (i= b= t= r= z= k= ...) at one level */
#define SDP_MAX_FORMATS 128         /* formats on one m= line */

struct sdp_attr {
    const char *name;  /* "rtpmap" */
    const char *value; /* "111 opus/48000/2"; "" for "a=name:"; NULL for a flag ("a=rtcp-mux") */
    const char *line;  /* "rtpmap:111 opus/48000/2": the attribute as written after "a=" */
};

/* An ordered attribute list (one level: the session part or one m-section). */
struct sdp_attrs {
    struct sdp_attr *v;
    size_t n;
    size_t cap; /* private */
};

/* A line this model does not interpret: i= u= e= p= b= t= r= z= k=. */
struct sdp_line {
    char type;
    const char *value;
};

struct sdp_lines {
    struct sdp_line *v;
    size_t n;
    size_t cap; /* private */
};

/* c= ("IN IP4 192.0.2.1"); addr is NULL when the level has no c= line. addr may carry a multicast
 * "/ttl/count" suffix, kept as written. */
struct sdp_conn {
    const char *nettype;
    const char *addrtype;
    const char *addr;
};

struct sdp_origin {
    const char *username;
    const char *sess_id; /* digits as written: they may exceed 64 bits */
    const char *sess_version;
    const char *nettype;
    const char *addrtype;
    const char *addr;
};

struct sdp_media {
    const char *type;  /* "audio", "video", "application", ... */
    uint16_t port;     /* 0: a rejected or disabled section (or bundle-only) */
    uint16_t nports;   /* the "/2" of "9/2"; 0 when absent */
    const char *proto; /* "UDP/TLS/RTP/SAVPF", "RTP/AVP", "UDP/DTLS/SCTP", ... */
    const char **fmts; /* payload types as written ("111") or other formats */
    size_t nfmts;
    size_t fmts_cap; /* private */
    struct sdp_conn conn;
    struct sdp_lines other;
    struct sdp_attrs attrs;
};

struct sdp_session {
    struct sdp_origin origin;
    const char *name; /* s=; NULL when absent (formatted as "s=-") */
    struct sdp_conn conn;
    struct sdp_lines other; /* formatted in RFC order; no t= line is formatted as "t=0 0" */
    struct sdp_attrs attrs;
    struct sdp_media media[SDP_MAX_MEDIA];
    size_t nmedia;
    struct sdp_arena *arena; /* private */
};

/* Parses text[0..len) (CRLF or LF line endings; need not be NUL-terminated). On success *sp is a
 * new session. EBADMSG with a message in err for bad input, ENOMEM, EINVAL for NULL arguments.
 * err may be NULL. */
int sdp_parse(struct sdp_session **sp, const char *text, size_t len, char *err, size_t errlen);

/* The session as text with CRLF line endings, a NUL-terminated mem string. ENOMEM, EINVAL. */
int sdp_format(const struct sdp_session *s, char **textp);

/* --- building ---------------------------------------------------------------------------- */

/* An empty session: "v=0", "o=- <sess_id> <sess_version> IN IP4 127.0.0.1", "s=-", "t=0 0". */
int sdp_session_alloc(struct sdp_session **sp, uint64_t sess_id, uint64_t sess_version);

/* Replaces the o= line's address (IN IP4 or IN IP6 by the address's form). */
int sdp_origin_set_addr(struct sdp_session *s, const char *addr);

/* Sets c= ("IN IP4 addr" or "IN IP6 addr") at the session level (m NULL) or in m. */
int sdp_conn_set(struct sdp_session *s, struct sdp_media *m, const char *addr);

/* Appends an m-section; *mp (optional) points at it, stable for the session's life. */
int sdp_media_add(struct sdp_session *s, struct sdp_media **mp, const char *type, uint16_t port,
                  const char *proto);
int sdp_media_add_format(struct sdp_session *s, struct sdp_media *m, const char *fmt);

/* Appends an attribute at the session level (m NULL) or to m; value NULL makes a flag. */
int sdp_attr_add(struct sdp_session *s, struct sdp_media *m, const char *name, const char *value);
int sdp_attr_addf(struct sdp_session *s, struct sdp_media *m, const char *name, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));

/* Builder errors: EINVAL for a value that could not be written safely (line breaks, control
 * bytes, a name that is not a token), EOVERFLOW past one of the bounds above, ENOMEM. */

/* --- reading ------------------------------------------------------------------------------ */

/* The attribute named name after prev (NULL: the first), or NULL. Names compare exactly (they
 * are case-sensitive in practice: every stack writes them in lower case). Iterate with
 *   for (const struct sdp_attr *a = NULL; (a = sdp_attrs_next(&m->attrs, "candidate", a));)
 */
const struct sdp_attr *sdp_attrs_next(const struct sdp_attrs *attrs, const char *name,
                                      const struct sdp_attr *prev);
const struct sdp_attr *sdp_attrs_get(const struct sdp_attrs *attrs, const char *name);

/* The first attribute named name in m, else at the session level (for ice-ufrag, ice-pwd,
 * fingerprint, setup, ice-lite, ice-options, which may sit at either). m may be NULL. */
const struct sdp_attr *sdp_attr_find(const struct sdp_session *s, const struct sdp_media *m,
                                     const char *name);
/* Its value, NULL when absent or a flag. */
const char *sdp_attr_value(const struct sdp_session *s, const struct sdp_media *m,
                           const char *name);

/* The m-section's a=mid, or NULL. */
const char *sdp_media_mid(const struct sdp_media *m);

/* c= of m, else of the session; NULL when neither has one. */
const struct sdp_conn *sdp_media_conn(const struct sdp_session *s, const struct sdp_media *m);

/* Direction attributes. The bits say what the writer of the SDP does. */
enum sdp_dir {
    SDP_DIR_INACTIVE = 0,
    SDP_DIR_SENDONLY = 1,
    SDP_DIR_RECVONLY = 2,
    SDP_DIR_SENDRECV = 3,
};
#define SDP_DIR_SEND 1u
#define SDP_DIR_RECV 2u

/* m's direction attribute, else the session's, else sendrecv (RFC 3264 default). */
enum sdp_dir sdp_media_dir(const struct sdp_session *s, const struct sdp_media *m);
/* sendonly <-> recvonly: what the other side of a direction does. */
enum sdp_dir sdp_dir_reverse(enum sdp_dir d);
const char *sdp_dir_name(enum sdp_dir d); /* "sendrecv", ... */

/* An RTP payload format: from a=rtpmap, or RFC 3551's static table for PTs below 96 that have
 * none (PCMU 0, GSM 3, G723 4, PCMA 8, G722 9, CN 13, G729 18). */
struct sdp_rtpmap {
    uint8_t pt;
    char name[32];       /* encoding name as written ("opus", "PCMU", "telephone-event") */
    uint32_t clock_rate; /* RTP clock */
    uint8_t channels;    /* 1 when the rtpmap does not say */
};

/* "111" -> 111. EBADMSG unless a decimal 0..127 without sign or leading junk. */
int sdp_fmt_pt(const char *fmt, uint8_t *pt);

/* The rtpmap of pt in m. ENOENT when m has none and pt is not static; EBADMSG for an rtpmap
 * that does not parse (name/rate[/channels]). */
int sdp_media_rtpmap(const struct sdp_media *m, uint8_t pt, struct sdp_rtpmap *rm);

/* The parameters of "a=fmtp:<pt> <params>" in m ("minptime=10;useinbandfec=1"), or NULL. */
const char *sdp_media_fmtp(const struct sdp_media *m, uint8_t pt);

/* One "key=value" parameter of an fmtp string (keys case-insensitive; ';' separated, spaces
 * around them ignored): *val points into fmtp and *vlen is its length. 0 or ENOENT. */
int sdp_fmtp_param(const char *fmtp, const char *key, const char **val, size_t *vlen);
/* The same parameter as a decimal number. ENOENT, or EBADMSG when it is not one. */
int sdp_fmtp_uint(const char *fmtp, const char *key, uint32_t *v);

#endif
