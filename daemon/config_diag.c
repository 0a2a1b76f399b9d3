/*
 * The list of problems a config load found, printed compiler-style ("FILE:LINE: message").
 *
 * Bounded (CONFIG_DIAG_MAX kept, the rest counted) because a fuzzed or badly broken file can
 * produce a problem per line, and the operator needs the first screenful, not a million.
 */
#include "daemon/config.h"
#include "daemon/config_schema.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void config_diag_add(struct config_diag *diag, unsigned line, const char *fmt, ...)
{
    if (!diag)
        return;
    if (diag->n >= CONFIG_DIAG_MAX) {
        diag->dropped++;
        return;
    }
    if (!diag->v) {
        diag->v = calloc(CONFIG_DIAG_MAX, sizeof(*diag->v));
        if (!diag->v) {
            diag->dropped++;
            return;
        }
    }

    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char *copy = strdup(msg);
    if (!copy) {
        diag->dropped++;
        return;
    }
    diag->v[diag->n].line = line;
    diag->v[diag->n].msg = copy;
    diag->n++;
}

void config_diag_sort(struct config_diag *diag)
{
    if (!diag)
        return;
    /* Insertion sort: stable (problems on one line keep their order) and n is small. */
    for (size_t i = 1; i < diag->n; i++) {
        struct config_problem p = diag->v[i];
        size_t j = i;
        while (j > 0 && diag->v[j - 1].line > p.line) {
            diag->v[j] = diag->v[j - 1];
            j--;
        }
        diag->v[j] = p;
    }
}

void config_diag_print(const struct config_diag *diag, FILE *f)
{
    if (!diag || !f)
        return;
    const char *file = diag->file ? diag->file : "config";
    for (size_t i = 0; i < diag->n; i++) {
        if (diag->v[i].line)
            fprintf(f, "%s:%u: %s\n", file, diag->v[i].line, diag->v[i].msg);
        else
            fprintf(f, "%s: %s\n", file, diag->v[i].msg);
    }
    if (diag->dropped)
        fprintf(f, "%s: %zu more problem%s not shown\n", file, diag->dropped,
                diag->dropped == 1 ? "" : "s");
}

void config_diag_reset(struct config_diag *diag)
{
    if (!diag)
        return;
    for (size_t i = 0; i < diag->n; i++)
        free(diag->v[i].msg);
    free(diag->v);
    free(diag->file);
    memset(diag, 0, sizeof(*diag));
}
