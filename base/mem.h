/*
 * Reference-counted memory with the destructor attached to the object.
 *
 * Objects that more than one thread may hold (a leg is touched by the main loop, a media
 * worker and a mixer clock) need a lifetime nobody has to negotiate: each holder takes a
 * reference with mem_ref() and drops it with mem_deref(); the destructor runs once, on the
 * last drop, in whichever thread that happens to be. Constructors follow one shape:
 *
 *     int x_alloc(struct x **xp, ...);   // 0, or an errno value; *xp owns one reference
 *
 * so ownership is visible at every call site: whoever receives *xp must mem_deref() it.
 */
#ifndef SB_BASE_MEM_H
#define SB_BASE_MEM_H

#include <stddef.h>

typedef void(mem_destroy_h)(void *data);

/* Uninitialised / zeroed block with refcount 1. NULL only when the system is out of memory. */
void *mem_alloc(size_t size, mem_destroy_h *dh);
void *mem_zalloc(size_t size, mem_destroy_h *dh);

/* Takes one more reference; returns data (NULL passes through). Thread-safe. */
void *mem_ref(void *data);

/* Drops one reference, running the destructor and freeing on the last; always returns NULL so
 * callers can write `x = mem_deref(x);`. NULL is accepted. Thread-safe. */
void *mem_deref(void *data);

/* Current count, for tests and assertions only. */
unsigned mem_nrefs(const void *data);

/* A refcounted copy of a NUL-terminated string (or NULL for NULL). */
char *mem_strdup(const char *s);

#endif
