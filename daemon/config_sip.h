/*
 * The sip: section of the config schema (config_sip.c) and the validators it shares with the
 * rest of the schema (config.c). Internal to the config module and its tests.
 */
#ifndef SB_DAEMON_CONFIG_SIP_H
#define SB_DAEMON_CONFIG_SIP_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config_schema.h"

extern const struct config_section config_sip_section;

/* "host", "host:port", "[v6]:port" as in URLs and Matrix server names. */
bool config_valid_host_port(const char *s, size_t len);

/* Validators (config_check_str_h) from config.c. */
bool config_check_user_id(struct config_ctx *ctx, const struct config_field *f, const char *name,
                          unsigned line, char **value);
bool config_check_user_glob(struct config_ctx *ctx, const struct config_field *f, const char *name,
                            unsigned line, char **value);
bool config_check_ip(struct config_ctx *ctx, const struct config_field *f, const char *name,
                     unsigned line, char **value);

/* The sip section's cross-section work once the whole file is in (sets sip->enabled). */
void config_sip_finish(struct config_ctx *ctx, struct config_sip *sip, bool present);

#endif
