/*
 * Unit tests for popit's command table (popit_proto.c) on a temporary
 * Maildir, with the output buffer's writer replaced by a capture.
 */

#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "popit_proto.h"
#include "fixture.h"

static char	 out[1 << 16];	/* everything "sent" to the client */
static size_t	 outlen;

static void	 capture(void *, const char *, size_t);
static void	 capture_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* The outbuf's writer: collect the output instead of sending it. */
static void
capture(void *arg, const char *buf, size_t len)
{
	(void)arg;
	assert_true(outlen + len < sizeof(out));
	memcpy(out + outlen, buf, len);
	outlen += len;
	out[outlen] = '\0';
}

/* popit's log, on stderr. */
static void
capture_log(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A session on a temporary Maildir holding three small messages. */
struct fixture {
	char		 path[64];
	int		 fd;
	struct popit	*pi;
};

static void
put(int dirfd, const char *rel, const char *data)
{
	int	 fd;

	fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)),
	    (ssize_t)strlen(data));
	close(fd);
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->path, "/tmp/test_popit_proto.XXXXXX");
	assert_non_null(mkdtemp(f->path));
	f->fd = open(f->path, O_RDONLY | O_DIRECTORY);
	assert_true(f->fd >= 0);
	assert_int_equal(mkdirat(f->fd, "new", 0700), 0);
	assert_int_equal(mkdirat(f->fd, "cur", 0700), 0);
	assert_int_equal(mkdirat(f->fd, "tmp", 0700), 0);
	put(f->fd, "new/1700000001.M1P1.h", "Subject: one\n\n.body\n");
	put(f->fd, "new/1700000002.M1P1.h,W=99", "Subject: two\n\nx");
	put(f->fd, "cur/1700000000.M1P1.h:2,F", "Subject: zero\r\n\r\n");
	f->pi = calloc(1, sizeof(*f->pi));
	assert_non_null(f->pi);
	f->pi->pi_log = capture_log;
	outbuf_init(&f->pi->pi_ob, capture, NULL);
	maildir_init(&f->pi->pi_md, f->fd);
	assert_int_equal(maildir_scan(&f->pi->pi_md, capture_log), 0);
	outlen = 0;
	out[0] = '\0';
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	maildir_free(&f->pi->pi_md);
	free(f->pi);
	close(f->fd);
	fixture_rmtree(f->path);
	free(f);
	return 0;
}

/* Run one command line and return everything it answered. */
static const char *
cmd(struct fixture *f, const char *line, enum popit_next want)
{
	outlen = 0;
	out[0] = '\0';
	assert_int_equal(popit_dispatch(f->pi, line, strlen(line)), want);
	outbuf_flush(&f->pi->pi_ob);
	/* No answer was too long for outbuf_printf()'s 512 octets. */
	assert_int_equal(f->pi->pi_ob.ob_cut, 0);
	return out;
}

static void
test_parse_num(void **state)
{
	uint64_t	 v;

	(void)state;
	assert_int_equal(popit_parse_num("0", 1, &v), 0);
	assert_true(v == 0);
	assert_int_equal(popit_parse_num("4294967297", 10, &v), 0);
	assert_true(v == 4294967297ULL);
	assert_int_equal(popit_parse_num("18446744073709551615", 20, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(popit_parse_num("18446744073709551616", 20, &v), -1);
	assert_int_equal(popit_parse_num("", 0, &v), -1);
	assert_int_equal(popit_parse_num("-1", 2, &v), -1);
	assert_int_equal(popit_parse_num("+1", 2, &v), -1);
	assert_int_equal(popit_parse_num("1x", 2, &v), -1);
	assert_int_equal(popit_parse_num(" 1", 2, &v), -1);
	/* Only len octets count. */
	assert_int_equal(popit_parse_num("12x", 2, &v), 0);
	assert_true(v == 12);
}

static void
test_greet(void **state)
{
	struct fixture	*f = *state;

	popit_greet(f->pi);
	outbuf_flush(&f->pi->pi_ob);
	assert_string_equal(out, "+OK maildrop has 3 messages\r\n");
}

static void
test_stat_list(void **state)
{
	struct fixture	*f = *state;

	/* Delivery order: cur/1700000000 is message 1. */
	assert_string_equal(cmd(f, "STAT", POPIT_CONTINUE), "+OK 3 139\r\n");
	assert_string_equal(cmd(f, "list", POPIT_CONTINUE),
	    "+OK 3 messages (139 octets)\r\n1 17\r\n2 23\r\n3 99\r\n.\r\n");
	assert_string_equal(cmd(f, "LIST 3", POPIT_CONTINUE), "+OK 3 99\r\n");
	assert_string_equal(cmd(f, "UIDL 1", POPIT_CONTINUE),
	    "+OK 1 1700000000.M1P1.h\r\n");
	assert_string_equal(cmd(f, "UIDL", POPIT_CONTINUE),
	    "+OK unique-id listing follows\r\n1 1700000000.M1P1.h\r\n"
	    "2 1700000001.M1P1.h\r\n3 1700000002.M1P1.h,W=99\r\n.\r\n");
}

static void
test_retr_top(void **state)
{
	struct fixture	*f = *state;

	assert_string_equal(cmd(f, "RETR 2", POPIT_CONTINUE),
	    "+OK message follows\r\nSubject: one\r\n\r\n..body\r\n.\r\n");
	assert_string_equal(cmd(f, "RETR 3", POPIT_CONTINUE),
	    "+OK 99 octets\r\nSubject: two\r\n\r\nx\r\n.\r\n");
	assert_string_equal(cmd(f, "TOP 2 0", POPIT_CONTINUE),
	    "+OK message follows\r\nSubject: one\r\n\r\n.\r\n");
	assert_true(f->pi->pi_md.md_msgs[1].mm_flags & MD_RETRIEVED);
	assert_false(f->pi->pi_md.md_msgs[0].mm_flags & MD_RETRIEVED);
	assert_string_equal(cmd(f, "LAST", POPIT_CONTINUE), "+OK 3\r\n");
}

static void
test_errors(void **state)
{
	struct fixture	*f = *state;
	const char	*bad[] = {
		"RETR", "RETR 0", "RETR 4", "RETR -1", "RETR 4294967297",
		"RETR 1x", "RETR 1 2", "RETR x", "DELE", "TOP 1", "TOP 1 x",
		"TOP 1 -1", "TOP 0 1", "LIST 0", "UIDL 9", "STAT 1",
		"NOOP x", "USER a", "PASS a b c", "APOP a b", "AUTH", "STLS",
		"WHAT", "", " NOOP", "QUIT now", "RETRIEVE 1",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd(f, bad[i], POPIT_CONTINUE);
		if (strncmp(out, "-ERR ", 5) != 0 ||
		    strchr(out, '\n') != out + outlen - 1)
			fail_msg("%s: %s", bad[i], out);
	}
	outlen = 0;
	assert_int_equal(popit_dispatch(f->pi, "NO\0OP", 5), POPIT_CONTINUE);
	outbuf_flush(&f->pi->pi_ob);
	assert_string_equal(out, "-ERR syntax error\r\n");
}

static void
test_dele_rset_quit(void **state)
{
	struct fixture	*f = *state;

	assert_string_equal(cmd(f, "DELE 1", POPIT_CONTINUE),
	    "+OK message 1 deleted\r\n");
	assert_string_equal(cmd(f, "DELE 1", POPIT_CONTINUE),
	    "-ERR message 1 already deleted\r\n");
	assert_string_equal(cmd(f, "RETR 1", POPIT_CONTINUE),
	    "-ERR message 1 already deleted\r\n");
	assert_string_equal(cmd(f, "STAT", POPIT_CONTINUE), "+OK 2 122\r\n");
	assert_string_equal(cmd(f, "RSET", POPIT_CONTINUE),
	    "+OK maildrop has 3 messages\r\n");
	assert_string_equal(cmd(f, "LAST", POPIT_CONTINUE), "+OK 0\r\n");
	assert_string_equal(cmd(f, "DELE 3", POPIT_CONTINUE),
	    "+OK message 3 deleted\r\n");
	cmd(f, "RETR 2", POPIT_CONTINUE);
	assert_string_equal(cmd(f, "QUIT", POPIT_QUIT),
	    "+OK bye (1 deleted)\r\n");
	assert_int_equal(f->pi->pi_status, 0);
	assert_int_equal(faccessat(f->fd, "cur/1700000001.M1P1.h:2,S", F_OK,
	    0), 0);
	assert_int_equal(faccessat(f->fd, "cur/1700000000.M1P1.h:2,F", F_OK,
	    0), 0);
	assert_int_equal(faccessat(f->fd, "new/1700000002.M1P1.h,W=99", F_OK,
	    0), -1);
}

static void
test_capa(void **state)
{
	struct fixture	*f = *state;

	cmd(f, "CAPA", POPIT_CONTINUE);
	assert_non_null(strstr(out, "\r\nPIPELINING\r\n"));
	assert_non_null(strstr(out, "\r\nIMPLEMENTATION popserv\r\n"));
	/* RFC 2449 §5: AUTHORIZATION capabilities in both states; not STLS. */
	assert_null(strstr(out, "STLS"));
	assert_non_null(strstr(out, "\r\nSASL PLAIN\r\n"));
	assert_true(outlen > 3 && strcmp(out + outlen - 3, ".\r\n") == 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_num),
		cmocka_unit_test_setup_teardown(test_greet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retr_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dele_rset_quit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_capa, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
