/*
 * Small files in state_dir that must survive a restart (the sync token, the direct-room links):
 * written atomically (temp file, fsync, rename, fsync of the folder) so a crash leaves either
 * the old or the new content, never half of one.
 */
#ifndef SB_BASE_STATEFILE_H
#define SB_BASE_STATEFILE_H

#include <stddef.h>

/* Creates dir (and missing parents) with mode 0700. 0 or an errno. */
int statefile_mkdir(const char *dir);

/* Replaces dir/name with data. 0 or an errno. */
int statefile_write(const char *dir, const char *name, const void *data, size_t len);

/* Reads dir/name (at most max bytes) into a g_malloc'd NUL-terminated buffer. ENOENT when the
 * file does not exist, EFBIG when it is larger than max. */
int statefile_read(const char *dir, const char *name, size_t max, char **data, size_t *len);

#endif
