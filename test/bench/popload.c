/* popload: a bounded POP3 load generator for popserv's benchmarks. */

/*
 * One epoll loop per process drives many non-blocking connections to a
 * loopback POP3 server; -P forks several such processes (each may hold
 * about 18,000 connections under a 20,000 descriptor limit) and merges
 * their latencies. Modes:
 *
 *	idle	open -c sessions, read each greeting, hold them until
 *		standard input ends or -H seconds pass ("ready" line first)
 *	greet	connect, read the greeting, close; -c at a time
 *	login	connect, greeting, USER, PASS, popit's +OK, QUIT, +OK, close
 *	reject	connect, expect an -ERR line (sameaddrmax), close
 *	hash	no network: make a default-cost crypt(3) hash of -w and
 *		time -n checks of it
 *
 * Every run is bounded: -d seconds and -n operations, whichever comes
 * first, and in-flight operations get a grace period. Only loopback
 * addresses are accepted as targets and sources.
 */

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOAD_MAXEVENTS	256
#define LOAD_GRACE_NS	(10ULL * 1000000000ULL)	/* for in-flight ops */
#define LOAD_OPTIMEOUT_NS (30ULL * 1000000000ULL)	/* one operation */
#define LOAD_LINE	256
#define LOAD_IDLE_PENDING 512	/* idle: connections not yet greeted */

enum load_mode {
	M_IDLE,
	M_GREET,
	M_LOGIN,
	M_REJECT,
	M_HASH
};

enum conn_state {
	C_FREE,
	C_GREET,		/* connected, waiting for the greeting */
	C_USER,			/* USER sent */
	C_PASS,			/* PASS sent, waiting for popit's +OK */
	C_QUIT,			/* QUIT sent */
	C_HOLD			/* idle: greeted, held open */
};

struct conn {
	int		 c_fd;
	enum conn_state	 c_state;
	uint64_t	 c_t0;		/* connect started, ns */
	unsigned short	 c_ilen;
	char		 c_ibuf[LOAD_LINE];
};

/* Latencies in microseconds, growing as needed. */
struct lat {
	uint32_t	*l_v;
	size_t		 l_n;
	size_t		 l_cap;
};

/* What one process reports to the parent. */
struct report {
	uint32_t	 r_kind;	/* 'R'eady or 'D'one */
	uint32_t	 r_pad;
	uint64_t	 r_ops;		/* operations completed */
	uint64_t	 r_errors;
	uint64_t	 r_err_connect;
	uint64_t	 r_err_eof;	/* closed by the server early */
	uint64_t	 r_err_reply;	/* unexpected reply */
	uint64_t	 r_err_timeout;
	uint64_t	 r_held;	/* idle: sessions greeted and held */
	uint64_t	 r_dropped;	/* idle: closed by the server */
	uint64_t	 r_t_first;	/* first connect, ns (CLOCK_MONOTONIC) */
	uint64_t	 r_t_last;	/* last completion, ns */
	uint64_t	 r_nop;		/* op latencies that follow */
	uint64_t	 r_ngreet;	/* greeting latencies that follow */
};

struct load {
	enum load_mode		 ld_mode;
	struct sockaddr_in	 ld_dst;
	uint32_t		 ld_src;	/* first source, host order */
	unsigned int		 ld_nsrc;	/* 0: let the kernel choose */
	unsigned int		 ld_srcidx;
	unsigned int		 ld_srcstep;
	unsigned int		 ld_conc;	/* connections at a time */
	uint64_t		 ld_maxops;	/* started, at most */
	double			 ld_rate;	/* starts per second, 0: closed loop */
	uint64_t		 ld_dur_ns;
	uint64_t		 ld_hold_ns;
	const char		*ld_user;
	const char		*ld_pass;
	int			 ld_ep;
	int			 ld_stdin_open;
	struct conn		*ld_conns;
	unsigned int		*ld_free;	/* free slots, a stack */
	unsigned int		 ld_nfree;
	unsigned int		 ld_active;
	uint64_t		 ld_started;
	struct report		 ld_rep;
	struct lat		 ld_oplat;
	struct lat		 ld_greetlat;
};

static void	 usage(void) __attribute__((noreturn));
static uint64_t	 now_ns(void);
static void	 lat_add(struct lat *, uint64_t);
static int	 lat_cmp(const void *, const void *);
static double	 lat_pct(const struct lat *, double);
static void	 raise_nofile(void);
static int	 load_start(struct load *, struct conn *);
static void	 load_close(struct load *, struct conn *);
static void	 load_fail(struct load *, struct conn *, uint64_t *);
static void	 load_done(struct load *, struct conn *, uint64_t);
static void	 load_input(struct load *, struct conn *, uint64_t);
static int	 load_line(struct load *, struct conn *, const char *,
		    uint64_t);
static int	 load_send(struct conn *, const char *, const char *);
static void	 load_run(struct load *, int);
static void	 load_hold(struct load *);
static void	 report_send(int, struct load *, uint32_t);
static int	 report_recv(int, struct report *, struct lat *,
		    struct lat *);
static void	 report_merge(struct report *, const struct report *);
static void	 report_print(enum load_mode, const struct report *,
		    struct lat *, struct lat *, unsigned int, unsigned int);
static int	 read_full(int, void *, size_t);
static int	 write_full(int, const void *, size_t);
static int	 hash_mode(const char *, unsigned long, const char *);
static const char *mode_name(enum load_mode);

/* The command line. */
static void
usage(void)
{
	fprintf(stderr, "usage: popload -m idle|greet|login|reject "
	    "[-P procs] [-c conns] [-d seconds]\n"
	    "\t[-n ops] [-r rate] [-H hold-seconds] [-s source -S nsources]\n"
	    "\t[-u user] [-w password] host port\n"
	    "       popload -m hash -w password [-n checks] [-p prefix]\n");
	exit(64);
}

/* Monotonic time in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Record one latency (ns) in microseconds. */
static void
lat_add(struct lat *l, uint64_t ns)
{
	uint32_t	*v;
	size_t		 cap;

	if (l->l_n == l->l_cap) {
		cap = l->l_cap ? l->l_cap * 2 : 4096;
		if ((v = realloc(l->l_v, cap * sizeof(*v))) == NULL)
			return;		/* keep the count exact, drop the sample */
		l->l_v = v;
		l->l_cap = cap;
	}
	ns /= 1000;
	l->l_v[l->l_n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* qsort comparison of two latencies. */
static int
lat_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) in milliseconds; the array is sorted. */
static double
lat_pct(const struct lat *l, double p)
{
	size_t	 i;

	if (l->l_n == 0)
		return 0.0;
	i = (size_t)(p / 100.0 * (double)l->l_n);
	if (i >= l->l_n)
		i = l->l_n - 1;
	return l->l_v[i] / 1000.0;
}

/* Raise the soft descriptor limit to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Open one connection; -1 when no socket could be had. */
static int
load_start(struct load *ld, struct conn *c)
{
	struct sockaddr_in	 src;
	struct epoll_event	 ev;
	int			 fd, on = 1;

	c->c_t0 = now_ns();
	if (ld->ld_rep.r_t_first == 0)
		ld->ld_rep.r_t_first = c->c_t0;
	ld->ld_started++;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		ld->ld_rep.r_errors++;
		ld->ld_rep.r_err_connect++;
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (ld->ld_nsrc > 0) {
		/* The port is picked at connect(): one range per 4-tuple. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
		    sizeof(on));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(ld->ld_src +
		    ld->ld_srcidx % ld->ld_nsrc);
		ld->ld_srcidx += ld->ld_srcstep;
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&ld->ld_dst,
	    sizeof(ld->ld_dst)) == -1 && errno != EINPROGRESS)
		goto fail;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(ld->ld_ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	c->c_fd = fd;
	c->c_state = C_GREET;
	c->c_ilen = 0;
	ld->ld_active++;
	return 0;
fail:
	close(fd);
	ld->ld_rep.r_errors++;
	ld->ld_rep.r_err_connect++;
	return 0;
}

/* Close a connection and free its slot. */
static void
load_close(struct load *ld, struct conn *c)
{
	if (c->c_state == C_FREE)
		return;
	close(c->c_fd);		/* also leaves the epoll set */
	c->c_fd = -1;
	c->c_state = C_FREE;
	ld->ld_active--;
	ld->ld_free[ld->ld_nfree++] = (unsigned int)(c - ld->ld_conns);
}

/* An operation failed: count it under counter and close. */
static void
load_fail(struct load *ld, struct conn *c, uint64_t *counter)
{
	ld->ld_rep.r_errors++;
	(*counter)++;
	load_close(ld, c);
}

/* An operation completed at now. */
static void
load_done(struct load *ld, struct conn *c, uint64_t now)
{
	ld->ld_rep.r_ops++;
	ld->ld_rep.r_t_last = now;
	lat_add(&ld->ld_oplat, now - c->c_t0);
	load_close(ld, c);
}

/* Send one command line; -1 if the socket did not take it whole. */
static int
load_send(struct conn *c, const char *verb, const char *arg)
{
	char	 buf[LOAD_LINE];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s %s\r\n", verb, arg);
	if (arg[0] == '\0')
		n = snprintf(buf, sizeof(buf), "%s\r\n", verb);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return send(c->c_fd, buf, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* One reply line; returns -1 once the connection is gone. */
static int
load_line(struct load *ld, struct conn *c, const char *line, uint64_t now)
{
	int	 ok = strncmp(line, "+OK", 3) == 0;

	switch (c->c_state) {
	case C_GREET:
		if (ld->ld_mode == M_REJECT) {
			if (strncmp(line, "-ERR", 4) == 0)
				load_done(ld, c, now);
			else
				load_fail(ld, c, &ld->ld_rep.r_err_reply);
			return -1;
		}
		if (!ok) {
			load_fail(ld, c, &ld->ld_rep.r_err_reply);
			return -1;
		}
		lat_add(&ld->ld_greetlat, now - c->c_t0);
		if (ld->ld_mode == M_IDLE) {
			c->c_state = C_HOLD;
			ld->ld_rep.r_held++;
			ld->ld_rep.r_ops++;
			ld->ld_rep.r_t_last = now;
			return 0;
		}
		if (ld->ld_mode == M_GREET) {
			load_done(ld, c, now);
			return -1;
		}
		c->c_state = C_USER;
		if (load_send(c, "USER", ld->ld_user) == -1)
			goto eof;
		return 0;
	case C_USER:
		if (!ok)
			break;
		c->c_state = C_PASS;
		if (load_send(c, "PASS", ld->ld_pass) == -1)
			goto eof;
		return 0;
	case C_PASS:
		if (!ok)
			break;
		c->c_state = C_QUIT;
		if (load_send(c, "QUIT", "") == -1)
			goto eof;
		return 0;
	case C_QUIT:
		if (!ok)
			break;
		load_done(ld, c, now);
		return -1;
	case C_HOLD:
		/* Anything the server says to a held session ends it. */
		ld->ld_rep.r_dropped++;
		ld->ld_rep.r_held--;
		load_close(ld, c);
		return -1;
	case C_FREE:
		return -1;
	}
	load_fail(ld, c, &ld->ld_rep.r_err_reply);
	return -1;
eof:
	load_fail(ld, c, &ld->ld_rep.r_err_eof);
	return -1;
}

/* Read what arrived and act on each complete line. */
static void
load_input(struct load *ld, struct conn *c, uint64_t now)
{
	char	*lf;
	ssize_t	 n;
	size_t	 len;

	for (;;) {
		n = recv(c->c_fd, c->c_ibuf + c->c_ilen,
		    sizeof(c->c_ibuf) - 1 - c->c_ilen, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (c->c_state == C_HOLD) {
				ld->ld_rep.r_dropped++;
				ld->ld_rep.r_held--;
				load_close(ld, c);
			} else if (n == 0 || errno == ECONNRESET ||
			    errno == EPIPE)
				load_fail(ld, c, &ld->ld_rep.r_err_eof);
			else
				load_fail(ld, c, &ld->ld_rep.r_err_connect);
			return;
		}
		c->c_ilen += (unsigned short)n;
		c->c_ibuf[c->c_ilen] = '\0';
		while ((lf = strchr(c->c_ibuf, '\n')) != NULL) {
			*lf = '\0';
			len = (size_t)(lf - c->c_ibuf) + 1;
			if (load_line(ld, c, c->c_ibuf, now) == -1)
				return;
			memmove(c->c_ibuf, c->c_ibuf + len, c->c_ilen - len + 1);
			c->c_ilen -= (unsigned short)len;
		}
		if (c->c_ilen >= sizeof(c->c_ibuf) - 1) {
			load_fail(ld, c, &ld->ld_rep.r_err_reply);
			return;
		}
	}
}

/*
 * The loop of one generator process: keep ld_conc operations going (or
 * start them at ld_rate), until the duration or the operation count is
 * used up, then let the ones in flight finish.
 */
static void
load_run(struct load *ld, int repfd)
{
	struct epoll_event	 evs[LOAD_MAXEVENTS];
	struct conn		*c;
	uint64_t		 t0, now, deadline, next = 0, gap = 0;
	unsigned int		 i;
	int			 n, timeout, stopping = 0;

	if ((ld->ld_ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epoll_create1");
		exit(1);
	}
	if ((ld->ld_conns = calloc(ld->ld_conc, sizeof(*c))) == NULL ||
	    (ld->ld_free = calloc(ld->ld_conc, sizeof(*ld->ld_free))) ==
	    NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < ld->ld_conc; i++)
		ld->ld_free[ld->ld_nfree++] = ld->ld_conc - 1 - i;
	t0 = now = now_ns();
	deadline = t0 + ld->ld_dur_ns;
	if (ld->ld_rate > 0) {
		gap = (uint64_t)(1e9 / ld->ld_rate);
		next = t0;
	}
	for (;;) {
		now = now_ns();
		if (!stopping && (now >= deadline ||
		    ld->ld_started >= ld->ld_maxops))
			stopping = 1;
		if (stopping && (ld->ld_active == 0 ||
		    now >= deadline + LOAD_GRACE_NS))
			break;
		if (ld->ld_mode == M_IDLE && (stopping ||
		    ld->ld_started >= ld->ld_maxops) &&
		    ld->ld_active == ld->ld_rep.r_held)
			break;		/* every session greeted or failed */
		/* Start what the concurrency (and the rate) allows. */
		while (!stopping && ld->ld_nfree > 0 &&
		    ld->ld_started < ld->ld_maxops) {
			if (gap > 0 && now < next)
				break;
			if (ld->ld_mode == M_IDLE && ld->ld_active -
			    ld->ld_rep.r_held >= LOAD_IDLE_PENDING)
				break;
			c = &ld->ld_conns[ld->ld_free[--ld->ld_nfree]];
			if (load_start(ld, c) == -1 || c->c_state == C_FREE) {
				ld->ld_nfree++;		/* slot unused */
				if (c->c_state == C_FREE && gap == 0 &&
				    ld->ld_rep.r_err_connect > 0)
					break;
			}
			next += gap;
		}
		timeout = 100;
		if (gap > 0 && next > now && (next - now) / 1000000 < 100)
			timeout = (int)((next - now) / 1000000);
		n = epoll_wait(ld->ld_ep, evs, LOAD_MAXEVENTS, timeout);
		now = now_ns();
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			c = evs[i].data.ptr;
			if (c->c_state != C_FREE)
				load_input(ld, c, now);
		}
		/* Operations that hang are counted and dropped. */
		if (n == 0 && ld->ld_mode != M_IDLE)
			for (i = 0; i < ld->ld_conc; i++) {
				c = &ld->ld_conns[i];
				if (c->c_state != C_FREE &&
				    now - c->c_t0 > LOAD_OPTIMEOUT_NS)
					load_fail(ld, c,
					    &ld->ld_rep.r_err_timeout);
			}
	}
	for (i = 0; ld->ld_mode != M_IDLE && i < ld->ld_conc; i++)
		if (ld->ld_conns[i].c_state != C_FREE)
			load_fail(ld, &ld->ld_conns[i],
			    &ld->ld_rep.r_err_timeout);
	if (ld->ld_mode == M_IDLE) {
		report_send(repfd, ld, 'R');
		load_hold(ld);
	}
	report_send(repfd, ld, 'D');
}

/*
 * Idle mode: hold the sessions until standard input ends or the hold
 * time passes, noting any the server closes, then close them all.
 */
static void
load_hold(struct load *ld)
{
	struct epoll_event	 evs[LOAD_MAXEVENTS], ev;
	struct conn		*c;
	uint64_t		 end = now_ns() + ld->ld_hold_ns, now;
	unsigned int		 i;
	char			 buf[64];
	int			 n;

	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	ld->ld_stdin_open = epoll_ctl(ld->ld_ep, EPOLL_CTL_ADD, 0, &ev) == 0;
	while ((now = now_ns()) < end) {
		n = epoll_wait(ld->ld_ep, evs, LOAD_MAXEVENTS, 200);
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			c = evs[i].data.ptr;
			if (c == NULL) {
				if (read(0, buf, sizeof(buf)) <= 0)
					end = 0;	/* the driver is done */
				continue;
			}
			if (c->c_state != C_FREE)
				load_input(ld, c, now);
		}
	}
	for (i = 0; i < ld->ld_conc; i++)
		load_close(ld, &ld->ld_conns[i]);
}

/* Write all of buf; -1 on error. */
static int
write_full(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read all of buf; -1 on error or early end. */
static int
read_full(int fd, void *buf, size_t len)
{
	char	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send a report and the latencies so far to the parent. */
static void
report_send(int fd, struct load *ld, uint32_t kind)
{
	ld->ld_rep.r_kind = kind;
	ld->ld_rep.r_nop = ld->ld_oplat.l_n;
	ld->ld_rep.r_ngreet = ld->ld_greetlat.l_n;
	if (write_full(fd, &ld->ld_rep, sizeof(ld->ld_rep)) == -1 ||
	    write_full(fd, ld->ld_oplat.l_v,
	    ld->ld_oplat.l_n * sizeof(uint32_t)) == -1 ||
	    write_full(fd, ld->ld_greetlat.l_v,
	    ld->ld_greetlat.l_n * sizeof(uint32_t)) == -1)
		exit(1);
	/* The done report carries only what came after the ready one. */
	ld->ld_oplat.l_n = 0;
	ld->ld_greetlat.l_n = 0;
}

/* Read one report from a child, appending its latencies. */
static int
report_recv(int fd, struct report *r, struct lat *op, struct lat *greet)
{
	uint64_t	 i;
	uint32_t	 v;

	if (read_full(fd, r, sizeof(*r)) == -1)
		return -1;
	for (i = 0; i < r->r_nop; i++) {
		if (read_full(fd, &v, sizeof(v)) == -1)
			return -1;
		lat_add(op, (uint64_t)v * 1000);
	}
	for (i = 0; i < r->r_ngreet; i++) {
		if (read_full(fd, &v, sizeof(v)) == -1)
			return -1;
		lat_add(greet, (uint64_t)v * 1000);
	}
	return 0;
}

/* Add a child's counters to the total. */
static void
report_merge(struct report *t, const struct report *r)
{
	t->r_ops += r->r_ops;
	t->r_errors += r->r_errors;
	t->r_err_connect += r->r_err_connect;
	t->r_err_eof += r->r_err_eof;
	t->r_err_reply += r->r_err_reply;
	t->r_err_timeout += r->r_err_timeout;
	t->r_held += r->r_held;
	t->r_dropped += r->r_dropped;
	if (r->r_t_first != 0 && (t->r_t_first == 0 ||
	    r->r_t_first < t->r_t_first))
		t->r_t_first = r->r_t_first;
	if (r->r_t_last > t->r_t_last)
		t->r_t_last = r->r_t_last;
}

/* The name of a mode. */
static const char *
mode_name(enum load_mode m)
{
	switch (m) {
	case M_IDLE:	return "idle";
	case M_GREET:	return "greet";
	case M_LOGIN:	return "login";
	case M_REJECT:	return "reject";
	case M_HASH:	return "hash";
	}
	return "?";
}

/* One key=value line for the driver. */
static void
report_print(enum load_mode mode, const struct report *r, struct lat *op,
    struct lat *greet, unsigned int procs, unsigned int conc)
{
	double	 secs = 0.0;

	if (r->r_t_last > r->r_t_first)
		secs = (double)(r->r_t_last - r->r_t_first) / 1e9;
	qsort(op->l_v, op->l_n, sizeof(uint32_t), lat_cmp);
	qsort(greet->l_v, greet->l_n, sizeof(uint32_t), lat_cmp);
	printf("%s mode=%s procs=%u conns=%u ops=%llu errors=%llu "
	    "err_connect=%llu err_eof=%llu err_reply=%llu err_timeout=%llu "
	    "held=%llu dropped=%llu secs=%.3f rate=%.1f "
	    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
	    "greet_p50_ms=%.3f greet_p99_ms=%.3f greet_max_ms=%.3f\n",
	    r->r_kind == 'R' ? "ready" : "done", mode_name(mode), procs, conc,
	    (unsigned long long)r->r_ops, (unsigned long long)r->r_errors,
	    (unsigned long long)r->r_err_connect,
	    (unsigned long long)r->r_err_eof,
	    (unsigned long long)r->r_err_reply,
	    (unsigned long long)r->r_err_timeout,
	    (unsigned long long)r->r_held, (unsigned long long)r->r_dropped,
	    secs, secs > 0 ? (double)r->r_ops / secs : 0.0,
	    lat_pct(op, 50), lat_pct(op, 90), lat_pct(op, 99),
	    lat_pct(op, 100), lat_pct(greet, 50), lat_pct(greet, 99),
	    lat_pct(greet, 100));
	fflush(stdout);
}

/*
 * Hash mode: make a hash of password with the default method and cost
 * (prefix NULL) or the given prefix ("$y$", "$6$"), print it, then time
 * n checks of it (what a worker does per login).
 */
static int
hash_mode(const char *password, unsigned long n, const char *prefix)
{
	struct crypt_data	*cd;
	struct lat		 l = { NULL, 0, 0 };
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	char			 hash[CRYPT_OUTPUT_SIZE];
	struct timespec		 c0, c1;
	uint64_t		 t;
	unsigned long		 i;
	double			 sum = 0, cpu;

	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return 1;
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting,
	    sizeof(setting)) == NULL ||
	    crypt_rn(password, setting, cd, sizeof(*cd)) == NULL ||
	    cd->output[0] == '*') {
		fprintf(stderr, "popload: cannot hash with %s\n",
		    prefix ? prefix : "the default method");
		return 1;
	}
	snprintf(hash, sizeof(hash), "%s", cd->output);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (i = 0; i < n; i++) {
		t = now_ns();
		if (crypt_rn(password, hash, cd, sizeof(*cd)) == NULL)
			return 1;
		t = now_ns() - t;
		sum += (double)t / 1e6;
		lat_add(&l, t);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e3 +
	    (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
	qsort(l.l_v, l.l_n, sizeof(uint32_t), lat_cmp);
	printf("done mode=hash hash=%s ops=%lu mean_ms=%.3f p50_ms=%.3f "
	    "min_ms=%.3f max_ms=%.3f cpu_ms=%.3f\n", hash, n,
	    n ? sum / (double)n : 0.0, lat_pct(&l, 50), lat_pct(&l, 0),
	    lat_pct(&l, 100), n ? cpu / (double)n : 0.0);
	free(cd);
	free(l.l_v);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct load	 ld;
	struct report	 total, r;
	struct lat	 op = { NULL, 0, 0 }, greet = { NULL, 0, 0 };
	struct in_addr	 ia;
	unsigned int	 procs = 1, conc = 1, k, kinds;
	unsigned long	 maxops = 0;
	double		 dur = 10.0, hold = 60.0, rate = 0;
	const char	*mode = NULL, *prefix = NULL;
	char		*end;
	pid_t		*pids;
	int		*fds, pfd[2], ch, status, bad = 0;

	memset(&ld, 0, sizeof(ld));
	ld.ld_user = "bench";
	ld.ld_pass = "bench";
	while ((ch = getopt(argc, argv, "m:P:c:d:n:r:H:s:S:u:w:p:")) != -1) {
		switch (ch) {
		case 'm':
			mode = optarg;
			break;
		case 'P':
			procs = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			conc = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dur = strtod(optarg, NULL);
			break;
		case 'n':
			maxops = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 'H':
			hold = strtod(optarg, NULL);
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &ia) != 1)
				usage();
			ld.ld_src = ntohl(ia.s_addr);
			break;
		case 'S':
			ld.ld_nsrc = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			ld.ld_user = optarg;
			break;
		case 'w':
			ld.ld_pass = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (mode == NULL)
		usage();
	if (strcmp(mode, "hash") == 0)
		return hash_mode(ld.ld_pass, maxops ? maxops : 10, prefix);
	if (strcmp(mode, "idle") == 0)
		ld.ld_mode = M_IDLE;
	else if (strcmp(mode, "greet") == 0)
		ld.ld_mode = M_GREET;
	else if (strcmp(mode, "login") == 0)
		ld.ld_mode = M_LOGIN;
	else if (strcmp(mode, "reject") == 0)
		ld.ld_mode = M_REJECT;
	else
		usage();
	if (argc != 2 || procs == 0 || procs > 64 || conc < procs ||
	    dur <= 0 || dur > 600 || hold < 0 || hold > 3600)
		usage();
	memset(&ld.ld_dst, 0, sizeof(ld.ld_dst));
	ld.ld_dst.sin_family = AF_INET;
	ld.ld_dst.sin_port = htons((unsigned short)strtoul(argv[1], &end, 10));
	if (*end != '\0' || inet_pton(AF_INET, argv[0],
	    &ld.ld_dst.sin_addr) != 1)
		usage();
	/* Loopback only: 127.0.0.0/8, as target and as sources. */
	if ((ntohl(ld.ld_dst.sin_addr.s_addr) >> 24) != 127 ||
	    (ld.ld_nsrc > 0 && ((ld.ld_src >> 24) != 127 ||
	    ((ld.ld_src + ld.ld_nsrc - 1) >> 24) != 127))) {
		fprintf(stderr, "popload: loopback addresses only\n");
		return 64;
	}
	if (ld.ld_mode == M_IDLE)
		maxops = conc;		/* one session per connection */
	if (maxops == 0)
		maxops = 10000000;
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	if ((pids = calloc(procs, sizeof(*pids))) == NULL ||
	    (fds = calloc(procs, sizeof(*fds))) == NULL)
		return 1;
	for (k = 0; k < procs; k++) {
		if (pipe2(pfd, O_CLOEXEC) == -1) {
			perror("pipe2");
			return 1;
		}
		if ((pids[k] = fork()) == -1) {
			perror("fork");
			return 1;
		}
		if (pids[k] == 0) {
			close(pfd[0]);
			ld.ld_conc = conc / procs + (k < conc % procs);
			ld.ld_maxops = maxops / procs + (k < maxops % procs);
			ld.ld_rate = rate / procs;
			ld.ld_dur_ns = (uint64_t)(dur * 1e9);
			ld.ld_hold_ns = (uint64_t)(hold * 1e9);
			ld.ld_srcidx = k;
			ld.ld_srcstep = procs;
			load_run(&ld, pfd[1]);
			_exit(0);
		}
		close(pfd[1]);
		fds[k] = pfd[0];
	}
	/* Idle mode reports twice: held (ready), then after the hold. */
	for (kinds = ld.ld_mode == M_IDLE ? 2 : 1; kinds > 0; kinds--) {
		memset(&total, 0, sizeof(total));
		op.l_n = greet.l_n = 0;
		for (k = 0; k < procs; k++) {
			if (report_recv(fds[k], &r, &op, &greet) == -1) {
				fprintf(stderr, "popload: lost a generator\n");
				bad = 1;
				continue;
			}
			total.r_kind = r.r_kind;
			report_merge(&total, &r);
		}
		report_print(ld.ld_mode, &total, &op, &greet, procs, conc);
	}
	for (k = 0; k < procs; k++)
		if (waitpid(pids[k], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	return bad;
}
