/*
 * Unit tests for log.c: log_escape() (client text must never inject log
 * lines), the RFC 3164 header, the queue's drop accounting, and the
 * logging thread against a socket that stops reading (issue 13, item 8).
 */

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "fixture.h"

/* Printable text passes through unchanged. */
static void
test_plain(void **state)
{
	char	 buf[64];

	(void)state;
	assert_string_equal(log_escape(buf, sizeof(buf), "joe+work", 8),
	    "joe+work");
}

/* Control characters, quotes and backslashes are escaped. */
static void
test_controls(void **state)
{
	char	 buf[128];
	const char in[] = "a\nb\rc\td\\e\"f\x01g\x7fh\xff";

	(void)state;
	log_escape(buf, sizeof(buf), in, sizeof(in) - 1);
	assert_string_equal(buf,
	    "a\\nb\\rc\\td\\\\e\\\"f\\x01g\\x7fh\\xff");
	assert_null(strchr(buf, '\n'));
}

/* A NUL byte inside the text is escaped, not a terminator. */
static void
test_nul(void **state)
{
	char	 buf[64];

	(void)state;
	assert_string_equal(log_escape(buf, sizeof(buf), "a\0b", 3),
	    "a\\x00b");
}

/* Text that does not fit ends in "..." and never splits an escape. */
static void
test_truncate(void **state)
{
	char	 buf[10];

	(void)state;
	log_escape(buf, sizeof(buf), "abcdefghijklmnop", 16);
	assert_string_equal(buf, "abcdef...");
	/* Exactly fitting text is not truncated. */
	log_escape(buf, sizeof(buf), "abcdefghi", 9);
	assert_string_equal(buf, "abcdefghi");
	/* An escape that does not fit is dropped whole. */
	log_escape(buf, sizeof(buf), "abcdefg\n\n\n", 10);
	assert_true(strlen(buf) < sizeof(buf));
	assert_non_null(strstr(buf, "..."));
	assert_null(strstr(buf, "\\..."));
}

/* A zero-sized or tiny buffer is still NUL-terminated. */
static void
test_tiny(void **state)
{
	char	 buf[2] = { 'x', 'x' };

	(void)state;
	log_escape(buf, 1, "abc", 3);
	assert_int_equal(buf[0], '\0');
	log_escape(buf, 2, "abc", 3);
	assert_true(strlen(buf) <= 1);
}

/* The timestamp is glibc's "%h %e %T": day padded with a space. */
static void
test_stamp(void **state)
{
	struct tm	 tm;
	char		 buf[16];

	(void)state;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = 0;
	tm.tm_mday = 5;
	tm.tm_hour = 3;
	tm.tm_min = 4;
	tm.tm_sec = 9;
	log_stamp(buf, &tm);
	assert_string_equal(buf, "Jan  5 03:04:09");
	tm.tm_mon = 11;
	tm.tm_mday = 31;
	tm.tm_hour = 23;
	tm.tm_min = 59;
	tm.tm_sec = 60;			/* a leap second */
	log_stamp(buf, &tm);
	assert_string_equal(buf, "Dec 31 23:59:60");
}

/* "<PRI>stamp ident[pid]: " with local0's priorities. */
static void
test_header(void **state)
{
	char	 buf[128];
	size_t	 n;

	(void)state;
	n = log_header(buf, sizeof(buf), LOG_LOCAL0 | LOG_WARNING,
	    "Jan  5 03:04:09", "popserv", 4242);
	assert_string_equal(buf, "<132>Jan  5 03:04:09 popserv[4242]: ");
	assert_int_equal(n, strlen(buf));
	n = log_header(buf, sizeof(buf), LOG_LOCAL0 | LOG_INFO,
	    "Jan  5 03:04:09", "popserv", 1);
	assert_string_equal(buf, "<134>Jan  5 03:04:09 popserv[1]: ");
	assert_int_equal(LOG_LOCAL0 | LOG_DEBUG, 135);
	/* Too small: truncated, terminated, and the length says so. */
	n = log_header(buf, 8, LOG_LOCAL0, "Jan  5 03:04:09", "popserv", 1);
	assert_int_equal(n, 7);
	assert_int_equal(strlen(buf), 7);
}

/* Lines come out whole, in order, across many wraps of the ring. */
static void
test_queue_order(void **state)
{
	struct log_queue q;
	char		 buf[256], line[64], got[64];
	size_t		 off, n;
	int		 i, taken = 0;

	(void)state;
	log_queue_init(&q, buf, sizeof(buf));
	assert_int_equal(log_queue_get(&q, got, sizeof(got), &off), 0);
	for (i = 0; i < 1000; i++) {
		n = (size_t)snprintf(line, sizeof(line), "line %d%.*s", i,
		    i % 23, "abcdefghijklmnopqrstuvw");
		assert_int_equal(log_queue_put(&q, line, n, 5), 0);
		if (i % 3 == 2) {
			/* Take two of every three: the ring keeps wrapping. */
			while (q.lq_lines > 1) {
				n = log_queue_get(&q, got, sizeof(got), &off);
				assert_int_not_equal(n, 0);
				assert_int_equal(off, 5);
				got[n] = '\0';
				snprintf(line, sizeof(line), "line %d", taken);
				assert_memory_equal(got, line, strlen(line));
				taken++;
			}
		}
	}
	while ((n = log_queue_get(&q, got, sizeof(got), &off)) > 0)
		taken++;
	assert_int_equal(taken, 1000);
	assert_int_equal(q.lq_used, 0);
	assert_int_equal(q.lq_dropped, 0);
}

/*
 * Full: the line is dropped and counted, and so is every later one (even
 * one that would fit) until the queue is half empty; then resume says
 * how many went unsaid, once.
 */
static void
test_queue_drops(void **state)
{
	struct log_queue q;
	char		 buf[1024], line[60], got[64];
	size_t		 off;
	int		 kept = 0, i;

	(void)state;
	memset(line, 'a', sizeof(line));
	log_queue_init(&q, buf, sizeof(buf));
	/* 64-byte records: 16 fit. */
	for (i = 0; i < 20; i++)
		if (log_queue_put(&q, line, sizeof(line), 0) == 0)
			kept++;
	assert_int_equal(kept, 16);
	assert_int_equal(q.lq_dropped, 4);
	assert_int_equal(q.lq_unsaid, 4);
	assert_int_equal(log_queue_resume(&q), 0);	/* still full */

	/* Room for one: still dropping, below half only. */
	assert_int_not_equal(log_queue_get(&q, got, sizeof(got), &off), 0);
	assert_int_equal(log_queue_put(&q, line, 10, 0), -1);
	assert_int_equal(q.lq_dropped, 5);
	for (i = 0; i < 6; i++)
		assert_int_not_equal(log_queue_get(&q, got, sizeof(got),
		    &off), 0);
	assert_int_equal(log_queue_resume(&q), 0);	/* 9 of 16 left */
	assert_int_not_equal(log_queue_get(&q, got, sizeof(got), &off), 0);
	assert_int_equal(log_queue_resume(&q), 5);	/* half empty */
	assert_int_equal(log_queue_resume(&q), 0);	/* said once */
	assert_int_equal(q.lq_unsaid, 0);
	assert_int_equal(q.lq_dropped, 5);
	assert_int_equal(log_queue_put(&q, line, sizeof(line), 0), 0);

	/* A line longer than the whole queue never fits. */
	log_queue_init(&q, buf, 64);
	assert_int_equal(log_queue_put(&q, buf, 100, 0), -1);
	assert_int_equal(q.lq_dropped, 1);
}

/* A wrap marker where a record does not fit before the end. */
static void
test_queue_wrap(void **state)
{
	struct log_queue q;
	char		 buf[100], got[64];
	size_t		 off;

	(void)state;
	log_queue_init(&q, buf, sizeof(buf));
	assert_int_equal(q.lq_size, 100);
	assert_int_equal(log_queue_put(&q, "0123456789012345678901234567890"
	    "123456789", 40, 0), 0);			/* 44 bytes */
	assert_int_equal(log_queue_put(&q, "abcdefghijklmnopqrstuvwxyzABCDEF"
	    "GHIJKLMN", 40, 3), 0);			/* 88 */
	assert_int_equal(log_queue_get(&q, got, sizeof(got), &off), 40);
	/* 12 bytes left at the end: the next record goes to the start. */
	assert_int_equal(log_queue_put(&q, "0123456789abcdef", 16, 2), 0);
	assert_int_equal(q.lq_tail, 20);
	assert_int_equal(log_queue_get(&q, got, sizeof(got), &off), 40);
	assert_int_equal(off, 3);
	assert_memory_equal(got, "abcdefghij", 10);
	assert_int_equal(log_queue_get(&q, got, sizeof(got), &off), 16);
	assert_int_equal(off, 2);
	assert_memory_equal(got, "0123456789abcdef", 16);
	assert_int_equal(q.lq_used, 0);
}

/* --- The logging thread against a socket of the test's. --- */

static char	 sockdir[64], sockpath[80];
static int	 sockfd = -1;

/* A datagram socket at sockpath that nobody reads yet. */
static int
bind_log(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sockpath);
	unlink(sockpath);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return -1;
	return fd;
}

/* The next datagram within ms, NUL-terminated; its length or -1. */
static ssize_t
read_log(char *buf, size_t bufsz, int ms)
{
	struct pollfd	 pfd = { .fd = sockfd, .events = POLLIN };
	ssize_t		 n;

	if (poll(&pfd, 1, ms) != 1)
		return -1;
	if ((n = recv(sockfd, buf, bufsz - 1, 0)) < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static int
setup_thread(void **state)
{
	(void)state;
	if (fixture_mkdtemp(sockdir, sizeof(sockdir), "test_log") == -1)
		return -1;
	snprintf(sockpath, sizeof(sockpath), "%s/log", sockdir);
	if ((sockfd = bind_log()) == -1)
		return -1;
	log_setpath(sockpath);
	log_init("test_log", 0);
	alarm(60);			/* a frozen caller fails, not hangs */
	return 0;
}

static int
teardown_thread(void **state)
{
	(void)state;
	alarm(0);
	close(sockfd);
	unlink(sockpath);
	return rmdir(sockdir);
}

/*
 * Nobody reads: the callers never wait, the queue drops and counts;
 * then the reader reads, every line queued arrives (framed as syslog(3)
 * frames it), followed by one notice with the count.
 */
static void
test_thread_stall(void **state)
{
	char		 buf[2048], want[64];
	const int	 lines = 20000;
	uint64_t	 dropped, said = 0;
	long		 got = 0, notices = 0, next = 0, n;
	int		 i;

	(void)state;
	for (i = 0; i < lines; i++)
		log_info("line %d of a stalled log daemon, some text to make "
		    "it the size of a real one: ip=192.0.2.1 user=\"joe\"", i);
	dropped = log_dropped();
	assert_true(dropped > 0);
	assert_true(dropped < (uint64_t)lines);

	snprintf(want, sizeof(want), "<134>");
	while (read_log(buf, sizeof(buf), 2000) > 0) {
		const char *msg = strstr(buf, "]: ");

		assert_non_null(msg);
		msg += 3;
		/* <134>Mmm dd hh:mm:ss test_log[pid]: */
		assert_int_equal(buf[0], '<');
		assert_true(buf[20] == ' ' && buf[14] == ':' && buf[17] == ':');
		assert_memory_equal(buf + 21, "test_log[", 9);
		assert_int_equal(strtol(buf + 30, NULL, 10), (long)getpid());
		if (sscanf(msg, "log: %ld lines dropped", &n) == 1) {
			assert_memory_equal(buf, "<132>", 5);
			said += (uint64_t)n;
			notices++;
			continue;
		}
		assert_memory_equal(buf, want, 5);
		assert_int_equal(sscanf(msg, "line %ld of", &n), 1);
		/* In order; a gap only where the notice is. */
		if (notices == 0)
			assert_int_equal(n, next);
		next = n + 1;
		got++;
	}
	assert_int_equal(notices, 1);
	assert_int_equal(said, dropped);
	assert_int_equal((uint64_t)got + dropped, (uint64_t)lines);
}

/* The reader keeps up: nothing is dropped, however many lines. */
static void
test_thread_keeps_up(void **state)
{
	char		 buf[2048];
	uint64_t	 before = log_dropped();
	int		 i, got = 0;

	(void)state;
	for (i = 0; i < 5000; i++) {
		log_info("kept %d", i);
		while (read_log(buf, sizeof(buf), 0) > 0)
			got++;
	}
	while (got < 5000 && read_log(buf, sizeof(buf), 2000) > 0)
		got++;
	assert_int_equal(got, 5000);
	assert_int_equal(log_dropped(), before);
}

/* The daemon restarts (a new socket at the path): lines reach it. */
static void
test_thread_reconnect(void **state)
{
	char	 buf[2048];

	(void)state;
	log_info("before the restart");
	assert_true(read_log(buf, sizeof(buf), 2000) > 0);
	assert_non_null(strstr(buf, "before the restart"));
	close(sockfd);
	assert_true((sockfd = bind_log()) != -1);
	log_info("after the restart");
	assert_true(read_log(buf, sizeof(buf), 2000) > 0);
	assert_non_null(strstr(buf, "after the restart"));
}

/*
 * fork() while the thread is blocked on a full socket: the child logs
 * and exits at once (its lock is free), and later lines of a child
 * carry its own pid.
 */
static void
test_thread_fork(void **state)
{
	char	 buf[2048], want[32];
	pid_t	 pid;
	int	 i, status, found = 0;
	double	 t0;

	(void)state;
	for (i = 0; i < 100; i++)
		log_info("filling %d", i);
	log_flush(100);			/* the thread is now stuck in send */
	t0 = fixture_now_ms();
	if ((pid = fork()) == 0) {
		log_info("child in a stall");
		log_flush(100);
		_exit(0);
	}
	assert_true(pid > 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		assert_true(fixture_now_ms() - t0 < 10000);
		usleep(10000);
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	while (read_log(buf, sizeof(buf), 1000) > 0)
		;

	if ((pid = fork()) == 0) {
		log_info("child after the stall");
		log_flush(2000);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	snprintf(want, sizeof(want), "[%ld]: child after", (long)pid);
	while (!found && read_log(buf, sizeof(buf), 2000) > 0)
		found = strstr(buf, want) != NULL;
	assert_true(found);
}

/* No log daemon at all: lines cost little and nothing waits. */
static void
test_thread_no_daemon(void **state)
{
	double	 t0;
	int	 i;

	(void)state;
	close(sockfd);
	unlink(sockpath);
	sockfd = -1;
	t0 = fixture_now_ms();
	for (i = 0; i < 1000; i++) {
		log_info("nobody listens %d", i);
		log_flush(1000);
	}
	/* Well under the 1 s each flush may wait: no line waits for one. */
	assert_true(fixture_now_ms() - t0 < 5000);
	assert_true((sockfd = bind_log()) != -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_tiny),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_queue_order),
		cmocka_unit_test(test_queue_drops),
		cmocka_unit_test(test_queue_wrap),
	};
	const struct CMUnitTest threaded[] = {
		cmocka_unit_test(test_thread_stall),
		cmocka_unit_test(test_thread_keeps_up),
		cmocka_unit_test(test_thread_reconnect),
		cmocka_unit_test(test_thread_fork),
		cmocka_unit_test(test_thread_no_daemon),
	};
	int	 rc;

	if ((rc = cmocka_run_group_tests(tests, NULL, NULL)) != 0)
		return rc;
	return cmocka_run_group_tests(threaded, setup_thread,
	    teardown_thread);
}
