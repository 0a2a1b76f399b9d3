/*
 * Config files on disk: missing and unreadable files, size limit, access_token_file,
 * relative path resolution, the state folder, and the --check-config output.
 */
#include "config_test_util.h"

#include <errno.h>
#include <sys/types.h>

#define TOKEN_PART                                                                                 \
    "matrix:\n"                                 /* 1 */                                            \
    "  homeserver: http://127.0.0.1:8008\n"     /* 2 */                                            \
    "  user_id: \"@switchboard:example.org\"\n" /* 3 */                                            \
    "  allowed_users: [\"@*:example.org\"]\n"   /* 4 */

static char *print_to_string(const struct config_diag *d)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    config_diag_print(d, f);
    fclose(f);
    return out;
}

static void missing_file(void **state)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/nope.yaml", tdir);
    struct config *cfg = (struct config *)0x1;
    struct config_diag d = {0};
    assert_int_equal(config_load(&cfg, path, &d), ENOENT);
    assert_null(cfg);
    expect_problem(&d, 0, "cannot read: No such file or directory");
    expect_count(&d, 1);

    /* Problems about the file as a whole print without a line number. */
    char *out = print_to_string(&d);
    char want[600];
    snprintf(want, sizeof(want), "%s: cannot read: No such file or directory\n", path);
    assert_string_equal(out, want);
    free(out);
    config_diag_reset(&d);
}

static void unreadable_files(void **state)
{
    struct config *cfg = NULL;
    struct config_diag d = {0};

    /* A folder. */
    assert_int_equal(config_load(&cfg, tdir, &d), EISDIR);
    expect_problem(&d, 0, "cannot read: is a folder, not a file");

    /* A FIFO nobody writes to: refused at once instead of blocking. */
    char fifo[512];
    snprintf(fifo, sizeof(fifo), "%s/fifo.yaml", tdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(config_load(&cfg, fifo, &d), EINVAL);
    expect_problem(&d, 0, "cannot read: not a regular file");

    /* No read permission. Root reads anything, so this part only runs unprivileged. */
    char path[512];
    write_file(path, sizeof(path), "locked.yaml", BASE);
    assert_int_equal(chmod(path, 0), 0);
    if (geteuid() != 0) {
        assert_int_equal(config_load(&cfg, path, &d), EACCES);
        expect_problem(&d, 0, "cannot read: Permission denied");
    }
    assert_null(cfg);
    config_diag_reset(&d);
}

static void files_over_one_mib_are_refused(void **state)
{
    size_t n = CONFIG_MAX_FILE_SIZE + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    big[n - 1] = '\n';
    char path[512];
    write_file_n(path, sizeof(path), "big.yaml", big, n);
    free(big);

    struct config *cfg = NULL;
    struct config_diag d = {0};
    assert_int_equal(config_load(&cfg, path, &d), EFBIG);
    expect_problem(&d, 0, "cannot read: file is larger than 1 MiB");
    expect_count(&d, 1);
    config_diag_reset(&d);

    /* Exactly 1 MiB of comments is fine as far as size goes (and holds no settings). */
    big = malloc(CONFIG_MAX_FILE_SIZE);
    assert_non_null(big);
    memset(big, '#', CONFIG_MAX_FILE_SIZE);
    big[CONFIG_MAX_FILE_SIZE - 1] = '\n';
    write_file_n(path, sizeof(path), "big.yaml", big, CONFIG_MAX_FILE_SIZE);
    free(big);
    assert_int_equal(config_load(&cfg, path, &d), EBADMSG);
    expect_problem(&d, 1, "no settings in the file; expected a mapping (key: value)");
    config_diag_reset(&d);
}

static void token_file_is_read_and_trimmed(void **state)
{
    char path[512];
    write_file(path, sizeof(path), "token", "syt_from_file_123 \t\r\n\n  \n");

    struct config *cfg = NULL;
    struct config_diag d = {0};
    /* Relative to the config file's folder, not the working directory. */
    assert_int_equal(load_text(TOKEN_PART "  access_token_file: token\n" BASE_REST, &cfg, &d), 0);
    assert_string_equal(cfg->matrix.access_token, "syt_from_file_123");
    assert_string_equal(cfg->matrix.access_token_file, path);
    mem_deref(cfg);

    /* Absolute paths are taken as they are. */
    char text[1024];
    snprintf(text, sizeof(text), TOKEN_PART "  access_token_file: %s\n" BASE_REST, path);
    assert_int_equal(load_text(text, &cfg, &d), 0);
    assert_string_equal(cfg->matrix.access_token, "syt_from_file_123");
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void token_file_problems(void **state)
{
    char path[512];
    char msg[1024];
    struct config *cfg = NULL;
    struct config_diag d = {0};

    snprintf(path, sizeof(path), "%s/absent-token", tdir);
    assert_int_equal(
        load_text(TOKEN_PART "  access_token_file: ./absent-token\n" BASE_REST, &cfg, &d), EBADMSG);
    snprintf(msg, sizeof(msg),
             "matrix.access_token_file: cannot read '%s': No such file or directory", path);
    expect_problem(&d, 5, msg);
    expect_count(&d, 1);

    write_file(path, sizeof(path), "empty-token", " \n\n");
    assert_int_equal(load_text(TOKEN_PART "  access_token_file: empty-token\n" BASE_REST, &cfg, &d),
                     EBADMSG);
    snprintf(msg, sizeof(msg), "matrix.access_token_file: '%s' is empty", path);
    expect_problem(&d, 5, msg);
    expect_count(&d, 1);

    /* Inner whitespace is not trimmed away, and the token is not echoed. */
    write_file(path, sizeof(path), "two-tokens", "hunter2 hunter3\n");
    assert_int_equal(load_text(TOKEN_PART "  access_token_file: two-tokens\n" BASE_REST, &cfg, &d),
                     EBADMSG);
    snprintf(msg, sizeof(msg),
             "matrix.access_token_file: the token in '%s' may only contain printable ASCII "
             "characters without spaces",
             path);
    expect_problem(&d, 5, msg);
    char *out = print_to_string(&d);
    assert_null(strstr(out, "hunter"));
    free(out);

    /* A folder where the file should be. */
    snprintf(path, sizeof(path), "%s/tokdir", tdir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(load_text(TOKEN_PART "  access_token_file: tokdir\n" BASE_REST, &cfg, &d),
                     EBADMSG);
    snprintf(msg, sizeof(msg),
             "matrix.access_token_file: cannot read '%s': is a folder, not a file", path);
    expect_problem(&d, 5, msg);
    config_diag_reset(&d);
}

static void exactly_one_token_source(void **state)
{
    char path[512];
    write_file(path, sizeof(path), "token", "abc\n");
    /* Both: reported at the second of the two. */
    expect_only(TOKEN_PART "  access_token: abc\n"
                           "  access_token_file: token\n" BASE_REST,
                6, "matrix: set only one of access_token and access_token_file");
    expect_only(TOKEN_PART "  access_token_file: token\n"
                           "  access_token: abc\n" BASE_REST,
                6, "matrix: set only one of access_token and access_token_file");
    /* Neither: at the matrix line. */
    expect_only(TOKEN_PART BASE_REST, 1,
                "missing required key 'access_token' or 'access_token_file' in matrix");
}

static void relative_paths_resolve_against_the_config_folder(void **state)
{
    char sub[512], path[600], want[600];
    snprintf(sub, sizeof(sub), "%s/etc", tdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/etc/sb.yaml", tdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE_MATRIX "state_dir: ./../state\nmedia:\n  ip: 127.0.0.1\n", f);
    fclose(f);

    /* Load through a relative path from another working directory. */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tdir), 0);
    struct config *cfg = NULL;
    struct config_diag d = {0};
    int err = config_load(&cfg, "etc/sb.yaml", &d);
    assert_int_equal(chdir(cwd), 0);
    dump_diag(&d);
    assert_int_equal(err, 0);

    snprintf(want, sizeof(want), "%s/etc/../state", tdir);
    assert_string_equal(cfg->state_dir, want);
    snprintf(want, sizeof(want), "%s/etc", tdir);
    assert_string_equal(cfg->dir, want);
    assert_string_equal(cfg->path, "etc/sb.yaml");
    mem_deref(cfg);
    config_diag_reset(&d);
}

static void state_dir_rules_messages(void **state)
{
    char msg[1024];
    struct config *cfg = NULL;
    struct config_diag d = {0};

    assert_int_equal(
        load_text(BASE_MATRIX "state_dir: no/such/state\nmedia:\n  ip: 127.0.0.1\n", &cfg, &d),
        EBADMSG);
    snprintf(msg, sizeof(msg),
             "state_dir: the folder that would hold '%s/no/such/state' does not exist", tdir);
    expect_problem(&d, 6, msg);
    expect_count(&d, 1);

    char path[512];
    write_file(path, sizeof(path), "afile", "x");
    assert_int_equal(load_text(BASE_MATRIX "state_dir: afile\nmedia:\n  ip: 127.0.0.1\n", &cfg, &d),
                     EBADMSG);
    snprintf(msg, sizeof(msg), "state_dir: '%s' exists and is not a folder", path);
    expect_problem(&d, 6, msg);
    expect_count(&d, 1);

    /* An existing folder, and creating a missing one. */
    assert_int_equal(load_text(BASE, &cfg, &d), 0);
    struct stat st;
    assert_int_not_equal(stat(cfg->state_dir, &st), 0);
    assert_int_equal(config_state_dir_create(cfg), 0);
    assert_int_equal(stat(cfg->state_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(config_state_dir_create(cfg), 0); /* already there */
    mem_deref(cfg);

    assert_int_equal(load_text(BASE, &cfg, &d), 0);
    mem_deref(cfg);

    /* Something in the way appearing after the check. */
    assert_int_equal(load_text(BASE_MATRIX "state_dir: later\nmedia:\n  ip: 127.0.0.1\n", &cfg, &d),
                     0);
    write_file(path, sizeof(path), "later", "x");
    assert_int_equal(config_state_dir_create(cfg), ENOTDIR);
    mem_deref(cfg);
    config_diag_reset(&d);
}

static char *read_stream(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    assert_true(n >= 0);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void check_config_output(void **state)
{
    char path[512];
    write_file(path, sizeof(path), "good.yaml", BASE);
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    assert_int_equal(config_check_run(path, out, err), 0);
    char *o = read_stream(out), *e = read_stream(err);
    char want[2048];
    snprintf(want, sizeof(want), "%s: ok\n", path);
    assert_string_equal(o, want);
    assert_string_equal(e, "");
    free(o);
    free(e);
    fclose(out);
    fclose(err);

    write_file(path, sizeof(path), "bad.yaml",
               BASE "  port_min: \"20000\"\n"
                    "log_level: loud\n");
    out = tmpfile();
    err = tmpfile();
    assert_int_not_equal(config_check_run(path, out, err), 0);
    o = read_stream(out);
    e = read_stream(err);
    assert_string_equal(o, "");
    snprintf(want, sizeof(want),
             "%s:9: media.port_min: expected an integer, got a string\n"
             "%s:10: log_level: 'loud' is not one of error, warn, info, debug\n",
             path, path);
    assert_string_equal(e, want);
    free(o);
    free(e);
    fclose(out);
    fclose(err);

    snprintf(path, sizeof(path), "%s/absent.yaml", tdir);
    out = tmpfile();
    err = tmpfile();
    assert_int_not_equal(config_check_run(path, out, err), 0);
    e = read_stream(err);
    snprintf(want, sizeof(want), "%s: cannot read: No such file or directory\n", path);
    assert_string_equal(e, want);
    free(e);
    fclose(out);
    fclose(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(missing_file, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(unreadable_files, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(files_over_one_mib_are_refused, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(token_file_is_read_and_trimmed, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(token_file_problems, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(exactly_one_token_source, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(relative_paths_resolve_against_the_config_folder,
                                        scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(state_dir_rules_messages, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(check_config_output, scratch_setup, scratch_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
