/*
 * The dial plan: which room or Matrix user a dialled number reaches (inbound), and who may dial
 * what (outbound). Outbound is the toll-fraud boundary, so it is one function every outbound
 * path goes through, it fails closed (an empty allow-list allows nobody), and numbers are
 * checked in the exact form that will go into the Request-URI: a dial string of digits with an
 * optional leading '+' (and * #), nothing that could carry URI parameters or another host.
 *
 * Pure: no I/O, no SIP stack; unit-tested on its own.
 */
#ifndef SB_SIP_PLAN_H
#define SB_SIP_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "sip/sip.h"

#define SIP_NUMBER_MAX 64

struct sip_plan;

/* Copies the routes and allow-lists of cfg. */
int sip_plan_alloc(struct sip_plan **pp, const struct sip_cfg *cfg);

/* The inbound route of a dialled number (exact match), or NULL. */
const struct sip_route_in *sip_plan_route(const struct sip_plan *p, const char *number);

/* May user_id dial number (already normalised)? 0, or EPERM with why saying which list refused
 * it (the user or the number). */
int sip_plan_may_dial(const struct sip_plan *p, const char *user_id, const char *number, char *why,
                      size_t whylen);

/* A number as a user typed it ("+1 (555) 123-4567") into dial-string form ("+15551234567"):
 * spaces, '-', '.', '(' and ')' are dropped; what remains must be digits, '*' and '#' with an
 * optional leading '+', 1 to 32 of them. EINVAL otherwise (why says so). */
int sip_number_normalise(const char *in, char *out, size_t outlen, char *why, size_t whylen);

/* The number in a SIP URI's user part as it arrived: %-escapes decoded, user parameters
 * (";npdi", ";rn=...") cut off. EBADMSG for a bad escape, anything but letters, digits and
 * + * # . _ ~ ! ( ) - once decoded, or one longer than SIP_NUMBER_MAX. */
int sip_uri_user_number(const char *user, char *out, size_t outlen);

#endif
