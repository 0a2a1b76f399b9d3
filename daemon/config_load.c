/*
 * Entry points of the config module: read the file (bounded, regular files only), parse it
 * into a node tree, apply the schema, and hand back either a config or the list of problems.
 * Also the --check-config front end and the state folder's creation.
 *
 * The file is read whole into memory rather than streamed into libyaml so that its size can
 * be checked first, reader errors can be mapped back to a line, and the buffer (which may
 * hold the access token) can be wiped afterwards.
 */
#include "daemon/config.h"
#include "daemon/config_schema.h"

#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int config_read_file(const char *path, size_t limit, char **bufp, size_t *lenp)
{
    *bufp = NULL;
    *lenp = 0;
    /* O_NONBLOCK: opening a FIFO must not hang the daemon; regular files ignore it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno;

    int err = 0;
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
        goto out;
    }
    if ((unsigned long long)st.st_size > limit) {
        err = EFBIG;
        goto out;
    }
    /* The size may change under us (or be 0 for pseudo-files): read to EOF, bounded. */
    buf = malloc(limit + 2);
    if (!buf) {
        err = ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + len, limit + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > limit) {
            err = EFBIG;
            break;
        }
    }
out:
    close(fd);
    if (err) {
        config_free_file(buf, len);
        return err;
    }
    buf[len] = '\0';
    *bufp = buf;
    *lenp = len;
    return 0;
}

void config_free_file(char *buf, size_t len)
{
    if (!buf)
        return;
    explicit_bzero(buf, len);
    free(buf);
}

const char *config_read_strerror(int err, size_t limit)
{
    switch (err) {
    case EFBIG:
        return limit >= 1024 * 1024 ? "file is larger than 1 MiB" : "file is too large";
    case EISDIR:
        return "is a folder, not a file";
    case EINVAL:
        return "not a regular file";
    default:
        return strerror(err);
    }
}

static void config_destroy(void *data)
{
    struct config *cfg = data;
    config_schema_free(config_schema, cfg);
    mem_deref(cfg->path);
    mem_deref(cfg->dir);
}

static int set_file(struct config_diag *diag, const char *name)
{
    if (!diag)
        return 0;
    free(diag->file);
    diag->file = strdup(name);
    return diag->file ? 0 : ENOMEM;
}

static int parse(struct config **cfgp, const char *buf, size_t len, const char *name,
                 const char *dir, struct config_diag *diag)
{
    struct config_node *root = NULL;
    int err = config_yaml_parse(&root, buf, len, diag);
    if (err) {
        if (err == ENOMEM)
            config_diag_add(diag, 0, "out of memory");
        return err;
    }
    if (!root || (root->kind == CONFIG_NODE_SCALAR && root->type == CONFIG_SCALAR_NULL)) {
        config_diag_add(diag, 1, "no settings in the file; expected a mapping (key: value)");
        mem_deref(root);
        return EBADMSG;
    }
    if (root->kind != CONFIG_NODE_MAP) {
        config_diag_add(diag, root->line, "the top level must be a mapping (key: value), got %s",
                        config_node_describe(root));
        mem_deref(root);
        return EBADMSG;
    }

    struct config *cfg = mem_zalloc(sizeof(*cfg), config_destroy);
    if (!cfg) {
        mem_deref(root);
        config_diag_add(diag, 0, "out of memory");
        return ENOMEM;
    }
    cfg->path = mem_strdup(name);
    cfg->dir = dir ? mem_strdup(dir) : NULL;

    struct config_ctx ctx = {.diag = diag, .dir = dir};
    config_schema_apply(&ctx, config_schema, root, "", 1, cfg);
    mem_deref(root);

    if (!cfg->path || (dir && !cfg->dir)) {
        config_error(&ctx, 0, "out of memory");
    }
    if (ctx.problems) {
        mem_deref(cfg);
        return EBADMSG;
    }
    *cfgp = cfg;
    return 0;
}

int config_parse_buffer(struct config **cfgp, const char *buf, size_t len, const char *name,
                        const char *dir, struct config_diag *diag)
{
    if (!cfgp || (!buf && len))
        return EINVAL;
    *cfgp = NULL;
    if (!name)
        name = "config";
    config_diag_reset(diag);
    if (set_file(diag, name))
        return ENOMEM;
    if (len > CONFIG_MAX_FILE_SIZE) {
        config_diag_add(diag, 0, "cannot read: %s", config_read_strerror(EFBIG, len));
        return EFBIG;
    }
    int err = parse(cfgp, buf, len, name, dir, diag);
    config_diag_sort(diag);
    return err;
}

/* The config file's folder as an absolute path, so resolved paths survive a chdir(). */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = mem_strdup(".");
    else if (slash == path)
        dir = mem_strdup("/");
    else {
        size_t n = (size_t)(slash - path);
        dir = mem_alloc(n + 1, NULL);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return NULL;
    char *real = realpath(dir, NULL);
    if (!real)
        return dir; /* the file was just read from there; keep the name we have */
    mem_deref(dir);
    dir = mem_strdup(real);
    free(real);
    return dir;
}

int config_load(struct config **cfgp, const char *path, struct config_diag *diag)
{
    if (!cfgp || !path)
        return EINVAL;
    *cfgp = NULL;
    config_diag_reset(diag);
    if (set_file(diag, path))
        return ENOMEM;

    char *buf;
    size_t len;
    int err = config_read_file(path, CONFIG_MAX_FILE_SIZE, &buf, &len);
    if (err) {
        config_diag_add(diag, 0, "cannot read: %s",
                        config_read_strerror(err, CONFIG_MAX_FILE_SIZE));
        return err;
    }
    char *dir = folder_of(path);
    if (!dir) {
        config_free_file(buf, len);
        config_diag_add(diag, 0, "out of memory");
        return ENOMEM;
    }
    err = parse(cfgp, buf, len, path, dir, diag);
    config_free_file(buf, len);
    mem_deref(dir);
    config_diag_sort(diag);
    return err;
}

int config_check_run(const char *path, FILE *out, FILE *err)
{
    struct config_diag diag = {0};
    struct config *cfg = NULL;
    int rc = config_load(&cfg, path, &diag);
    if (rc == 0) {
        fprintf(out, "%s: ok\n", path);
        fflush(out);
    } else {
        config_diag_print(&diag, err);
        if (diag.n == 0 && diag.dropped == 0)
            fprintf(err, "%s: %s\n", path ? path : "(null)", strerror(rc));
        fflush(err);
    }
    mem_deref(cfg);
    config_diag_reset(&diag);
    return rc == 0 ? 0 : 1;
}

int config_check_main(const char *path)
{
    return config_check_run(path, stdout, stderr);
}

int config_state_dir_create(const struct config *cfg)
{
    if (!cfg || !cfg->state_dir)
        return EINVAL;
    if (mkdir(cfg->state_dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return errno;
    struct stat st;
    if (stat(cfg->state_dir, &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}
