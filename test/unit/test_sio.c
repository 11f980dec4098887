/*
 * The session transport (sio.c) through a transport of this file: what
 * it reads (exactly a line, never past it), what it queues, and which
 * event it reports when its wait ends.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config.h"
#include "pop3.h"
#include "sio.h"
#include "state.h"

/* The client: what it sent, what the transport took, what it may write. */
struct fake {
	char		 in[4096];
	size_t		 inlen;
	size_t		 pos;
	int		 eof;
	int		 full;		/* writes take nothing (EAGAIN) */
	char		 out[4096];
	size_t		 outlen;
};

/* What the owner heard. */
struct heard {
	enum sio_event	 ev[16];
	char		 line[16][POP3_SASL_LINE_MAX + 1];
	size_t		 n;
	int		 close_on;	/* close the transport at this event */
};

static struct heard	 heard;
static struct config	*cf;

static ssize_t
fake_peek(void *arg, int fd, void *buf, size_t len)
{
	struct fake	*f = arg;
	size_t		 n = f->inlen - f->pos;

	(void)fd;
	if (n == 0) {
		if (f->eof)
			return 0;
		errno = EAGAIN;
		return -1;
	}
	if (n > len)
		n = len;
	memcpy(buf, f->in + f->pos, n);
	return (ssize_t)n;
}

static ssize_t
fake_read(void *arg, int fd, void *buf, size_t len)
{
	struct fake	*f = arg;
	ssize_t		 n = fake_peek(arg, fd, buf, len);

	if (n > 0)
		f->pos += (size_t)n;
	return n;
}

static ssize_t
fake_write(void *arg, int fd, const void *buf, size_t len)
{
	struct fake	*f = arg;

	(void)fd;
	if (f->full) {
		errno = EAGAIN;
		return -1;
	}
	memcpy(f->out + f->outlen, buf, len);
	f->outlen += len;
	return (ssize_t)len;
}

static const struct session_io fake_io = {
	"fake", fake_peek, fake_read, fake_write, NULL, NULL, NULL
};

/* The owner's callback: note the event (and a line's text). */
static void
owner(struct sio *sio, enum sio_event ev, const char *data, size_t len)
{
	assert_true(heard.n < 16);
	heard.ev[heard.n] = ev;
	if (ev == SIO_LINE) {
		memcpy(heard.line[heard.n], data, len);
		heard.line[heard.n][len] = '\0';
	}
	heard.n++;
	if (heard.close_on == (int)ev + 1)
		sio_close(sio);
}

static void
feed(struct fake *f, const char *s)
{
	memcpy(f->in + f->inlen, s, strlen(s));
	f->inlen += strlen(s);
}

static int
setup(void **state)
{
	(void)state;
	memset(&heard, 0, sizeof(heard));
	if ((env->ps_base = event_base_new()) == NULL ||
	    (cf = config_default()) == NULL)
		return -1;
	cf->cf_timelimit = 600;
	env->ps_conf = cf;
	env->ps_idle_tv = NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	config_free(cf);
	event_base_free(env->ps_base);
	return 0;
}

/* Whole lines, each consumed exactly; the rest stays with the client. */
static void
test_lines_exactly(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;

	(void)state;
	feed(&f, "USER joe\r\nPASS x\r\nRETR 1");
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	heard.close_on = 0;
	sio_wait_lines(&sio);
	sio_read_lines(&sio);
	assert_int_equal(heard.n, 2);
	assert_string_equal(heard.line[0], "USER joe\r\n");
	assert_string_equal(heard.line[1], "PASS x\r\n");
	/* The start of the third line is read into the buffer... */
	assert_int_equal(f.pos, f.inlen);
	assert_int_equal(sio.sio_partlen, 6);
	/* ...and completed by what comes next. */
	feed(&f, "\r\nNOOP\r\n");
	sio_ready(&sio, EV_READ);
	assert_int_equal(heard.n, 4);
	assert_string_equal(heard.line[2], "RETR 1\r\n");
	assert_string_equal(heard.line[3], "NOOP\r\n");
	sio_close(&sio);
}

/* An owner that stops reading after a line (a login) leaves the rest. */
static void
test_nothing_past_the_last_line(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;

	(void)state;
	feed(&f, "PASS x\r\nSTAT\r\n");
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	heard.close_on = SIO_LINE + 1;
	sio_wait_lines(&sio);
	sio_read_lines(&sio);
	assert_int_equal(heard.n, 1);
	assert_int_equal(f.pos, strlen("PASS x\r\n"));
}

/* Longer than the limit: SIO_TOOLONG; the SASL limit is larger. */
static void
test_too_long_and_linemax(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;
	char		 big[600];

	(void)state;
	memset(big, 'A', sizeof(big) - 3);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	feed(&f, big);
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	sio_wait_lines(&sio);
	sio_read_lines(&sio);
	assert_int_equal(heard.n, 1);
	assert_int_equal(heard.ev[0], SIO_TOOLONG);
	sio_close(&sio);

	memset(&f, 0, sizeof(f));
	memset(&heard, 0, sizeof(heard));
	feed(&f, big);
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	sio_linemax(&sio, POP3_SASL_LINE_MAX);
	sio_wait_lines(&sio);
	sio_read_lines(&sio);
	assert_int_equal(heard.n, 1);
	assert_int_equal(heard.ev[0], SIO_LINE);
	assert_int_equal(strlen(heard.line[0]), sizeof(big) - 1);
	sio_close(&sio);
}

/* The end of the input, and output that waits, then drains. */
static void
test_eof_and_drained(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;

	(void)state;
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	f.full = 1;
	assert_int_equal(sio_send(&sio, "+OK\r\n", 5), 0);
	assert_true(sio_pending(&sio));
	assert_int_equal(heard.n, 0);
	f.full = 0;
	sio_ready(&sio, EV_WRITE);
	assert_false(sio_pending(&sio));
	assert_int_equal(heard.n, 1);
	assert_int_equal(heard.ev[0], SIO_DRAINED);
	assert_int_equal(f.outlen, 5);
	f.eof = 1;
	sio_wait_lines(&sio);
	sio_read_lines(&sio);
	assert_int_equal(heard.ev[1], SIO_EOF);
	sio_close(&sio);
}

/*
 * A reply that waits for room after a timer (the answer after faildelay
 * to a client that does not read) is under the idle limit: its timeout
 * is SIO_TIMEOUT, not the timer's event again.
 */
static void
test_write_after_timer_times_out(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;

	(void)state;
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	sio_timer(&sio, 2);
	sio_ready(&sio, EV_TIMEOUT);
	assert_int_equal(heard.ev[0], SIO_TIMER);
	f.full = 1;
	assert_int_equal(sio_send(&sio, "-ERR\r\n", 6), 0);
	sio_ready(&sio, EV_TIMEOUT);
	assert_int_equal(heard.n, 2);
	assert_int_equal(heard.ev[1], SIO_TIMEOUT);
	sio_close(&sio);
}

/* A deadline that is over already reports at once; else it waits. */
static void
test_deadline(void **state)
{
	struct fake	 f = { 0 };
	struct sio	 sio;

	(void)state;
	sio_init(&sio, -1, &fake_io, &f, owner, POP3_LINE_MAX);
	sio_wait_input(&sio);
	assert_int_equal(sio_deadline(&sio, EV_READ | EV_ET, 5), 0);
	assert_int_equal(heard.n, 0);
	sio_ready(&sio, EV_READ);
	assert_int_equal(heard.ev[0], SIO_INPUT);
	sio_ready(&sio, EV_TIMEOUT);
	assert_int_equal(heard.ev[1], SIO_DEADLINE);
	sio.sio_since.tv_sec -= 10;
	assert_int_equal(sio_deadline(&sio, EV_READ | EV_ET, 5), -1);
	assert_int_equal(heard.ev[2], SIO_DEADLINE);
	/* Lines again: a timeout is the idle limit's. */
	sio_wait_lines(&sio);
	sio_ready(&sio, EV_TIMEOUT);
	assert_int_equal(heard.ev[3], SIO_TIMEOUT);
	sio_close(&sio);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_exactly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nothing_past_the_last_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long_and_linemax,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_and_drained, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_write_after_timer_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
