#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/cli.h"
#include "core/err.h"

enum { OPT_DATA = CLI_OPT_FIRST, OPT_BATCH, OPT_FLAG, OPT_OUT = 'o' };

static const struct option options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"flag", no_argument, NULL, OPT_FLAG},
    {"out", required_argument, NULL, OPT_OUT},
    CLI_COMMON_OPTIONS,
    {0},
};

/* quiet: the mistakes these tests make on purpose are not printed */
static void start(cli_t *c) { cli_init(c, "il-test", "usage: il-test\n", options, 1); }

static void test_options(void **state)
{
    (void)state;
    char *argv[] = {"il-test", "--data=a.bin", "first", "--batch", "8", "-o", "dir", "--flag", "second", "--",
                    "--data", NULL};
    int argc = (int)(sizeof argv / sizeof *argv) - 1, batch = 0;
    cli_t c;
    start(&c);
    assert_int_equal(cli_next(&c, argc, argv), OPT_DATA);
    assert_string_equal(c.arg, "a.bin");
    assert_string_equal(c.name, "--data");
    assert_int_equal(cli_next(&c, argc, argv), OPT_BATCH);
    assert_int_equal(cli_int(&c, 1, 4096, &batch), 0);
    assert_int_equal(batch, 8);
    assert_int_equal(cli_next(&c, argc, argv), OPT_OUT);
    assert_string_equal(c.arg, "dir");
    assert_string_equal(c.name, "-o");
    assert_int_equal(cli_next(&c, argc, argv), OPT_FLAG);
    assert_null(c.arg);
    assert_int_equal(cli_next(&c, argc, argv), CLI_END);
    /* the operands, in their order, behind the options; after "--" an option's name is an operand */
    assert_int_equal(argc - c.rest, 3);
    assert_string_equal(argv[c.rest], "first");
    assert_string_equal(argv[c.rest + 1], "second");
    assert_string_equal(argv[c.rest + 2], "--data");
    assert_int_equal(cli_no_operands(&c, argc, argv), IL_EXIT_INPUT);
}

/* The one option of argv[1..] read, expecting CLI_EXIT with exit code `code` and the option named `name`. */
static void expect_exit(char **argv, int code, const char *name)
{
    int argc = 0;
    while (argv[argc]) argc++;
    cli_t c;
    start(&c);
    int o;
    while ((o = cli_next(&c, argc, argv)) != CLI_EXIT) assert_int_not_equal(o, CLI_END);
    assert_int_equal(c.exit_code, code);
    assert_string_equal(c.name, name);
}

static void test_exits(void **state)
{
    (void)state;
    expect_exit((char *[]){"il-test", "--help", NULL}, IL_EXIT_OK, "--help");
    expect_exit((char *[]){"il-test", "x", "-h", NULL}, IL_EXIT_OK, "-h");
    expect_exit((char *[]){"il-test", "--version", NULL}, IL_EXIT_OK, "--version");
    expect_exit((char *[]){"il-test", "--no-such-option", NULL}, IL_EXIT_INPUT, "--no-such-option");
    expect_exit((char *[]){"il-test", "--no-such=3", NULL}, IL_EXIT_INPUT, "--no-such");
    expect_exit((char *[]){"il-test", "--flag=3", NULL}, IL_EXIT_INPUT, "--flag");
    expect_exit((char *[]){"il-test", "--flag", "--data", NULL}, IL_EXIT_INPUT, "--data");
    expect_exit((char *[]){"il-test", "-o", NULL}, IL_EXIT_INPUT, "-o");
    expect_exit((char *[]){"il-test", "-x", NULL}, IL_EXIT_INPUT, "-x");
    /* a letter inside a group, after a long option: named by its letter */
    expect_exit((char *[]){"il-test", "--batch=3", "-ox", "-yo", "d", NULL}, IL_EXIT_INPUT, "-y");
}

static void test_values(void **state)
{
    (void)state;
    cli_t c;
    start(&c);
    snprintf(c.name, sizeof c.name, "--n");
    int i = 7;
    const char *bad_ints[] = {"", "3x", "0", "4097", "99999999999999999999", " 5"};
    for (size_t k = 0; k < sizeof bad_ints / sizeof *bad_ints; k++) {
        c.arg = bad_ints[k];
        assert_int_equal(cli_int(&c, 1, 4096, &i), -1);
        assert_int_equal(i, 7);
    }
    c.arg = "-3";
    assert_int_equal(cli_int(&c, -5, 5, &i), 0);
    assert_int_equal(i, -3);
    double d = 0;
    c.arg = "1e-8";
    assert_int_equal(cli_double(&c, 0, 1, &d), 0);
    assert_true(d == 1e-8);
    c.arg = "nan";
    assert_int_equal(cli_double(&c, 0, 1, &d), -1);
    uint64_t u = 0;
    c.arg = "18446744073709551615";
    assert_int_equal(cli_u64(&c, &u), 0);
    assert_true(u == UINT64_MAX);
    c.arg = "-1"; /* strtoull would wrap it round */
    assert_int_equal(cli_u64(&c, &u), -1);
    static const char *const words[] = {"scalapack", "gram"};
    int w = -1;
    c.arg = "gram";
    assert_int_equal(cli_choice(&c, words, 2, &w), 0);
    assert_int_equal(w, 1);
    c.arg = "Gram";
    assert_int_equal(cli_choice(&c, words, 2, &w), -1);
    assert_int_equal(c.exit_code, IL_EXIT_INPUT);
}

/* The propagating macros of err.h: a failure comes back as -1 with its message, a context before it. */
static int fails(int rc) { return rc ? err_set("value 'x' is not an integer") : 0; }
static const char *describe(int rc) { return rc == 7 ? "library says seven" : "?"; }
static int through_call(int rc)
{
    CALL(fails(rc));
    return 0;
}
static int through_ctx(int rc, const char *path)
{
    CALL_CTX(fails(rc), "%s:%d", path, 3);
    return 0;
}
static int through_rc(int rc)
{
    CALL_RC(rc, describe, "open %s", "a.nc");
    return 0;
}

static void test_err_propagation(void **state)
{
    (void)state;
    err_set("earlier");
    assert_int_equal(through_call(0), 0);
    assert_string_equal(err_msg(), "earlier"); /* success leaves the message alone */
    assert_int_equal(through_call(1), -1);
    assert_string_equal(err_msg(), "value 'x' is not an integer");
    assert_int_equal(through_ctx(0, "a.ini"), 0);
    assert_int_equal(through_ctx(1, "a.ini"), -1);
    assert_string_equal(err_msg(), "a.ini:3: value 'x' is not an integer");
    assert_int_equal(through_rc(0), 0);
    assert_int_equal(through_rc(7), -1);
    assert_string_equal(err_msg(), "open a.nc: library says seven");
    /* a context as long as the buffer keeps its beginning and ends the string */
    char longer[2000];
    memset(longer, 'p', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(through_ctx(1, longer), -1);
    assert_int_equal(strncmp(err_msg(), "pppp", 4), 0);
    assert_true(strlen(err_msg()) < 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_exits),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_err_propagation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
