/*
 * Fuzzes the config reader end to end: YAML parsing, the node tree, the schema engine and
 * every validator, through config_parse_buffer() (no temp files, so it runs at full speed).
 * Beyond "no crash, no leak", it checks the contract callers rely on: success means a config
 * with every required value set, failure means at least one problem was reported.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/mem.h"
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *cfg = NULL;
    struct config_diag diag = {0};
    /* No folder: relative paths stay relative, nothing is resolved against a real config. */
    int err = config_parse_buffer(&cfg, (const char *)data, size, "fuzz.yaml", NULL, &diag);
    if (err == 0) {
        if (!cfg || diag.n || !cfg->matrix.homeserver || !cfg->matrix.user_id ||
            !cfg->matrix.access_token || !cfg->matrix.allowed_users.n || !cfg->state_dir ||
            !cfg->media.ip || cfg->media.port_min > cfg->media.port_max)
            abort();
    } else if (cfg || (diag.n == 0 && diag.dropped == 0 && err != ENOMEM)) {
        abort();
    }
    for (size_t i = 0; i < diag.n; i++) {
        if (!diag.v[i].msg)
            abort();
    }
    mem_deref(cfg);
    config_diag_reset(&diag);
    return 0;
}
