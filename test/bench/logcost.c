/*
 * logcost: what a log line costs (docs/performance.md, issue 13 item 8).
 *
 * Runs as root in a mount namespace of its own, with a tmpfs over /dev
 * there and a datagram socket of its own as /dev/log (the host's /dev is
 * not touched), read by a thread as fast as it can. It times, in the
 * same run:
 *
 *   syslog(3)          the old way: the caller sends each line itself,
 *                      as fast as it can, one line a millisecond, and
 *                      the first line after a second of silence
 *   log_info, caller   popserv now: format and queue (the loop's cost),
 *                      as fast as it can (the writer busy), one line a
 *                      millisecond (the writer naps) and the first line
 *                      after a second of silence (it wakes the writer)
 *   log_info, writer   the logging thread: one line off the queue and
 *                      into the socket (wall time per line, queue full)
 *   log_info, stalled  the caller when nobody reads and the queue is
 *                      full (the line is dropped and counted)
 *
 * and checks that glibc and log.c frame a line the same way.
 *
 *	logcost [lines]		(default 200000)
 */

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define BATCH		2000		/* lines: well below the queue */
#define PACED		5000		/* lines one millisecond apart */
#define WAKES		5		/* lines after a second of silence */
#define LINEFMT		"session=%llx ip=%s user=\"%s\" result=failed " \
			"reason=\"%s\" delay=%d"

static int		 lc_fd = -1;
static atomic_long	 lc_received;
static atomic_int	 lc_reading;
static char		 lc_first[2048];	/* the last frame seen */

static double	 lc_now(void);
static void	*lc_reader(void *);
static int	 lc_setup(void);
static void	 lc_line(int, long);
static double	 lc_spaced(int, long, useconds_t);
static void	 lc_wait(long);
static void	 lc_mask(char *);
static int	 lc_qlen(void);

/* Nanoseconds on the monotonic clock. */
static double
lc_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The log daemon: read every datagram while lc_reading is set. */
static void *
lc_reader(void *arg)
{
	char	 buf[2048];
	ssize_t	 n;

	(void)arg;
	for (;;) {
		if (!atomic_load(&lc_reading)) {
			usleep(1000);
			continue;
		}
		if ((n = recv(lc_fd, buf, sizeof(buf) - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		memcpy(lc_first, buf, (size_t)n + 1);
		atomic_fetch_add(&lc_received, 1);
	}
	return NULL;
}

/* A private mount namespace, a tmpfs over /dev, our socket at /dev/log. */
static int
lc_setup(void)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 0, 100000 };

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("logcost", "/dev", "tmpfs", 0, "size=64k,mode=755") == -1) {
		fprintf(stderr, "logcost: a private /dev needs root: %s\n",
		    strerror(errno));
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/dev/log");
	if ((lc_fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(lc_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(lc_fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1) {
		perror("logcost: /dev/log");
		return -1;
	}
	return 0;
}

/* One typical failure line, through syslog(3) or log.c. */
static void
lc_line(int old, long i)
{
	if (old)
		syslog(LOG_INFO, LINEFMT, (unsigned long long)i,
		    "192.0.2.17", "joe", "password", 2);
	else
		log_info(LINEFMT, (unsigned long long)i, "192.0.2.17",
		    "joe", "password", 2);
}

/* Wait until the reader has seen n datagrams (or 30 s went by). */
static void
lc_wait(long n)
{
	double	 limit = lc_now() + 30e9;

	while (atomic_load(&lc_received) < n && lc_now() < limit)
		usleep(1000);
}

/* Blank the timestamp and pid of a frame, to compare two. */
static void
lc_mask(char *f)
{
	char	*p;

	if ((p = strchr(f, '>')) != NULL && strlen(p) > 16)
		memset(p + 1, 'T', 15);
	if ((p = strchr(f, '[')) != NULL)
		for (p++; *p >= '0' && *p <= '9'; p++)
			*p = 'P';
}

/* How many datagrams a Unix socket queues before send() blocks. */
static int
lc_qlen(void)
{
	FILE	*fp;
	int	 n = -1;

	if ((fp = fopen("/proc/sys/net/unix/max_dgram_qlen", "r")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1)
			n = -1;
		fclose(fp);
	}
	return n;
}

/* The mean cost of n lines (syslog(3) if old), each after gap us idle. */
static double
lc_spaced(int old, long n, useconds_t gap)
{
	double	 t0, sum = 0;
	long	 i;

	for (i = 0; i < n; i++) {
		usleep(gap);
		t0 = lc_now();
		lc_line(old, i);
		sum += lc_now() - t0;
	}
	return sum / n;
}

int
main(int argc, char *argv[])
{
	pthread_t	 t;
	char		 glibc[2048], ours[2048];
	long		 lines = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	long		 i, j, want, got;
	double		 t0, old_ns, caller = 0, writer_ns, stalled_ns;
	double		 paced, old_paced, woken, old_woken;

	if (lines < BATCH)
		lines = BATCH;
	if (lc_setup() == -1)
		return 1;
	pthread_create(&t, NULL, lc_reader, NULL);
	atomic_store(&lc_reading, 1);

	/* syslog(3), the reader keeping up. */
	openlog("popserv", LOG_PID | LOG_NDELAY, LOG_LOCAL0);
	t0 = lc_now();
	for (i = 0; i < lines; i++)
		lc_line(1, i);
	old_ns = (lc_now() - t0) / lines;
	lc_wait(lines);
	snprintf(glibc, sizeof(glibc), "%s", lc_first);
	old_paced = lc_spaced(1, PACED, 1000);
	old_woken = lc_spaced(1, WAKES, 1200000);
	lc_wait(lines + PACED + WAKES);
	closelog();

	/* log.c: the caller's part, in batches the queue holds. */
	log_init("popserv", 0);
	want = lines + PACED + WAKES;
	for (i = 0; i < lines; i += BATCH) {
		t0 = lc_now();
		for (j = 0; j < BATCH; j++)
			lc_line(0, i + j);
		caller += lc_now() - t0;
		log_flush(30000);
	}
	want += lines;
	lc_wait(want);
	caller /= lines;
	snprintf(ours, sizeof(ours), "%s", lc_first);

	/* One line a millisecond: the writer naps, nobody wakes it. */
	paced = lc_spaced(0, PACED, 1000);
	/* After a second of silence the writer sleeps: a line wakes it. */
	woken = lc_spaced(0, WAKES, 1200000);
	want += PACED + WAKES;
	lc_wait(want);

	/* The writer's part: a full batch queued, then drained. */
	writer_ns = 0;
	for (i = 0; i < lines; i += BATCH) {
		for (j = 0; j < BATCH; j++)
			lc_line(0, i + j);
		t0 = lc_now();
		log_flush(30000);
		writer_ns += lc_now() - t0;
	}
	want += lines;
	lc_wait(want);
	writer_ns /= lines;

	/* Nobody reads: the queue fills, then lines are dropped. */
	got = atomic_load(&lc_received);
	atomic_store(&lc_reading, 0);
	usleep(200000);
	for (i = 0; i < 20000; i++)
		lc_line(0, i);		/* fill it */
	t0 = lc_now();
	for (i = 0; i < lines; i++)
		lc_line(0, i);
	stalled_ns = (lc_now() - t0) / lines;
	atomic_store(&lc_reading, 1);
	log_flush(30000);

	printf("lines per measurement: %ld (received %ld of %ld before the "
	    "stall)\n", lines, got, want);
	printf("syslog(3), caller:            %6.0f ns/line\n", old_ns);
	printf("syslog(3), caller, 1 line/ms: %6.0f ns/line\n", old_paced);
	printf("syslog(3), after 1 s idle:    %6.0f ns/line\n", old_woken);
	printf("log.c, caller (loop thread):  %6.0f ns/line\n", caller);
	printf("log.c, caller, 1 line/ms:     %6.0f ns/line\n", paced);
	printf("log.c, caller, after 1 s idle:%6.0f ns/line\n", woken);
	printf("log.c, writer thread:         %6.0f ns/line\n", writer_ns);
	printf("log.c, caller, daemon stalled:%6.0f ns/line (dropped: %llu)\n",
	    stalled_ns, (unsigned long long)log_dropped());
	printf("syslog(3), daemon stalled:    blocks once %d datagrams wait "
	    "(net.unix.max_dgram_qlen)\n", lc_qlen());
	lc_mask(glibc);
	lc_mask(ours);
	printf("glibc frame: %s\nlog.c frame: %s\nsame framing: %s\n", glibc,
	    ours, strcmp(glibc, ours) == 0 ? "yes" : "NO");
	return strcmp(glibc, ours) == 0 ? 0 : 1;
}
