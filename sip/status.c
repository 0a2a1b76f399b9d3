/*
 * !sip status: one line per trunk (its registration state, as the log says it) and one per
 * call (number, direction, state, conference, hold). Plain text for an m.notice.
 */
#include "sip/sip_int.h"

#include "base/mem.h"

char *sip_gw_status(struct sip_gw *gw)
{
    if (!gw)
        return g_strdup("SIP is not configured.");
    GString *s = g_string_new(NULL);
    g_string_append(s, "SIP trunks:");
    for (size_t i = 0; i < gw->ntrunks; i++) {
        g_string_append(s, "\n  ");
        sip_trunk_status(gw->trunks[i], s);
    }
    unsigned n = g_list_length(gw->calls);
    g_string_append_printf(s, "\nSIP calls: %u", n);
    int64_t now = g_get_monotonic_time();
    /* Oldest first: the list is newest first. */
    for (GList *l = g_list_last(gw->calls); l; l = l->prev) {
        const struct sip_call *c = l->data;
        g_string_append_printf(s, "\n  %s %s %s, %s", c->inbound ? "from" : "to",
                               c->inbound ? (c->caller ? c->caller : "?") : c->number,
                               c->inbound ? "(inbound)" : "(outbound)",
                               sip_call_state_name(c->state));
        if (c->t_answer_us)
            g_string_append_printf(s, " for %lld s", (long long)((now - c->t_answer_us) / 1000000));
        if (c->held)
            g_string_append(s, ", on hold");
        if (c->hold_agreed)
            g_string_append(s, ", held from Matrix");
        if (c->conference)
            g_string_append_printf(s, ", conference %s", c->conference);
    }
    return g_string_free(s, FALSE);
}
