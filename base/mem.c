/*
 * A small header in front of every block holds the reference count and the destructor.
 * The count is atomic because legs cross threads; nothing else is shared.
 */
#include "base/mem.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mem_hdr {
    atomic_uint nrefs;
    mem_destroy_h *dh;
    alignas(max_align_t) unsigned char data[];
};

static struct mem_hdr *hdr_of(const void *data)
{
    return (struct mem_hdr *)((const unsigned char *)data - offsetof(struct mem_hdr, data));
}

void *mem_alloc(size_t size, mem_destroy_h *dh)
{
    if (size > SIZE_MAX - sizeof(struct mem_hdr))
        return NULL;
    struct mem_hdr *h = malloc(sizeof(*h) + size);
    if (!h)
        return NULL;
    atomic_init(&h->nrefs, 1);
    h->dh = dh;
    return h->data;
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
    void *p = mem_alloc(size, dh);
    if (p)
        memset(p, 0, size);
    return p;
}

void *mem_ref(void *data)
{
    if (data)
        atomic_fetch_add_explicit(&hdr_of(data)->nrefs, 1, memory_order_relaxed);
    return data;
}

void *mem_deref(void *data)
{
    if (!data)
        return NULL;
    struct mem_hdr *h = hdr_of(data);
    /* acq_rel: the last holder must see every write the others made before dropping. */
    if (atomic_fetch_sub_explicit(&h->nrefs, 1, memory_order_acq_rel) != 1)
        return NULL;
    if (h->dh)
        h->dh(data);
    free(h);
    return NULL;
}

unsigned mem_nrefs(const void *data)
{
    return data ? atomic_load(&hdr_of(data)->nrefs) : 0;
}

char *mem_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = mem_alloc(n, NULL);
    if (d)
        memcpy(d, s, n);
    return d;
}
