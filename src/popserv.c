/*
 * popserv: the command line (popserv.8), start-up, signals and the event
 * loop that holds every AUTHORIZATION session.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <mysql.h>

#include "account.h"
#include "addrtab.h"
#include "build_config.h"
#include "config.h"
#include "drain.h"
#include "handoff.h"
#include "listener.h"
#include "log.h"
#include "penalty.h"
#include "state.h"
#include "relay.h"
#include "reload.h"
#include "session.h"
#include "systemd.h"
#include "tls.h"
#include "userdb.h"
#include "worker.h"

#define WORKER_QUEUE_PER_THREAD	256
#define WORKERS_EXIT_WAIT_MS	1000	/* then a stuck worker is left */

static void	 usage(FILE *) ;
static void	 version(void);
static int	 check_config(const char *, const char *);
static struct config *load_config(const char *, const char *);
static void	 stdio_sanitize(void);
static void	 on_signal(evutil_socket_t, short, void *);
static void	 log_stats(void);
static void	 pidfile_write(const struct config *);
static void	 pidfile_remove(void);
static int	 inetd_socket(int);
static void	 priv_drop(const struct config *);
static int	 systemd_adopt(int);

static char	*pidfile_path;		/* written by this process */

/* The usage line, as in popserv(8). */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: popserv [-dhitV] [-b [address][:port]] "
	    "[-C file]\n");
}

/* -V: the version and what was compiled in, one item a line. */
static void
version(void)
{
	printf("popserv %s\n", POPSERV_VERSION);
	printf("config: %s\n", POPSERV_CONF_PATH);
	printf("popit: %s\n", POPSERV_POPIT_PATH);
	printf("apop: yes\n");
	printf("crypt: libxcrypt\n");
	printf("mysql: libmariadb %s\n", mysql_get_client_info());
	printf("libevent: %s\n", event_get_version());
#ifdef HAVE_LIBSYSTEMD
	printf("systemd: yes\n");
#else
	printf("systemd: no\n");
#endif
	if (tls_library() != NULL) {
		char	 why[128];

		printf("tls: %s\n", tls_library());
		printf("ktls: %s\n", tls_kernel_tls(why, sizeof(why)) ?
		    "yes" : "no");
	} else
		printf("tls: no\n");
	printf("libhome: no\n");
}

/* Print every message of a load to stderr. */
static void
print_msgs(const struct config_msgs *msgs)
{
	size_t	 i;

	for (i = 0; i < msgs->cm_nwarnings; i++)
		fprintf(stderr, "%s\n", msgs->cm_warnings[i]);
	for (i = 0; i < msgs->cm_nerrors; i++)
		fprintf(stderr, "%s\n", msgs->cm_errors[i]);
}

/* -t: check the file and the user database it names. */
static int
check_config(const char *path, const char *bind)
{
	struct config_msgs	 msgs;
	struct config		*cf;
	char			 err[256];
	int			 bad = 0;

	memset(&msgs, 0, sizeof(msgs));
	cf = config_load(path, &msgs);
	if (cf != NULL && bind != NULL &&
	    config_override_bind(cf, bind, err, sizeof(err)) == -1) {
		config_msg_add(&msgs, 1, "-b", 0, "bindto", "%s", err);
		bad = 1;
	}
	if (cf != NULL && userdb_check(cf, &msgs) > 0)
		bad = 1;
	if (cf != NULL && tls_check(cf, &msgs) == -1)
		bad = 1;
	print_msgs(&msgs);
	if (cf == NULL)
		bad = 1;
	config_msgs_free(&msgs);
	config_free(cf);
	if (bad)
		return 1;
	printf("configuration OK\n");
	return 0;
}

/* Load the configuration for start-up; exit EX_CONFIG if it is bad. */
static struct config *
load_config(const char *path, const char *bind)
{
	struct config_msgs	 msgs;
	struct config		*cf;
	char			 err[256];
	size_t			 i;

	memset(&msgs, 0, sizeof(msgs));
	cf = config_load(path, &msgs);
	for (i = 0; i < msgs.cm_nwarnings; i++)
		log_warnx("%s", msgs.cm_warnings[i]);
	for (i = 0; i < msgs.cm_nerrors; i++)
		log_warnx("%s", msgs.cm_errors[i]);
	if (cf == NULL) {
		print_msgs(&msgs);
		config_msgs_free(&msgs);
		exit(EX_CONFIG);
	}
	config_msgs_free(&msgs);
	if (bind != NULL &&
	    config_override_bind(cf, bind, err, sizeof(err)) == -1) {
		fprintf(stderr, "popserv: -b %s: %s\n", bind, err);
		config_free(cf);
		exit(EX_CONFIG);
	}
	return cf;
}

/* Make sure descriptors 0, 1 and 2 are open, so sockets never get them. */
static void
stdio_sanitize(void)
{
	int	 fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/*
 * Write the pid file, after binding and before dropping privileges. It
 * is given to uid/gid, so that it can at least be emptied at exit when
 * its directory does not let them remove it.
 */
static void
pidfile_write(const struct config *cf)
{
	int	 fd;

	if (cf->cf_pidfile == NULL)
		return;
	fd = open(cf->cf_pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd == -1) {
		log_warn("pidfile %s", cf->cf_pidfile);
		return;
	}
	if ((cf->cf_uid != -1 || cf->cf_gid != -1) &&
	    fchown(fd, (uid_t)cf->cf_uid, (gid_t)cf->cf_gid) == -1)
		log_warn("pidfile %s: chown", cf->cf_pidfile);
	if (dprintf(fd, "%ld\n", (long)getpid()) < 0)
		log_warn("pidfile %s", cf->cf_pidfile);
	close(fd);
	if ((pidfile_path = strdup(cf->cf_pidfile)) == NULL)
		fatal("pidfile");
}

/*
 * Remove the pid file if it still names this process; when the
 * directory does not allow that (after dropping privileges), empty it.
 */
static void
pidfile_remove(void)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if (pidfile_path == NULL)
		return;
	if ((fd = open(pidfile_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || (buf[n] = '\0', strtol(buf, NULL, 10) != getpid()))
		goto out;		/* someone else's by now */
	if (unlink(pidfile_path) == -1 &&
	    truncate(pidfile_path, 0) == -1)
		log_warn("pidfile %s", pidfile_path);
out:
	free(pidfile_path);
	pidfile_path = NULL;
}

/*
 * -i: fd must be a listening stream socket (inetd "wait" mode). Returns
 * 0, or -1 with a message on stderr.
 */
static int
inetd_socket(int fd)
{
	int		 type = 0, listening = 0;
	socklen_t	 len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1) {
		fprintf(stderr, "popserv: -i: fd %d is not a socket\n", fd);
		log_warnx("-i: fd %d is not a socket", fd);
		return -1;
	}
	len = sizeof(listening);
	if (type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1 ||
	    !listening) {
		fprintf(stderr, "popserv: -i: fd %d is not a listening stream "
		    "socket (inetd must use \"wait\" mode)\n", fd);
		log_warnx("-i: fd %d is not a listening stream socket (inetd "
		    "must use \"wait\" mode)", fd);
		return -1;
	}
	return 0;
}

/*
 * uid/gid: give up root for good, before any thread exists (so the plain
 * libc calls change the whole process), and check it cannot come back.
 */
static void
priv_drop(const struct config *cf)
{
	struct passwd	*pw;
	uid_t		 uid = (uid_t)cf->cf_uid, ru, eu, su;
	gid_t		 gid = (gid_t)cf->cf_gid, rg, eg, sg, groups[2];

	if (cf->cf_uid == -1 && cf->cf_gid == -1)
		return;
	if (cf->cf_uid == 0) {
		fprintf(stderr, "popserv: %s: uid 0 would run popit as root\n",
		    cf->cf_path);
		log_warnx("%s: uid 0 would run popit as root", cf->cf_path);
		exit(EX_CONFIG);
	}
	if (cf->cf_gid == -1) {
		if ((pw = getpwuid(uid)) == NULL) {
			fprintf(stderr, "popserv: %s: uid %ld has no passwd "
			    "entry; set gid too\n", cf->cf_path, cf->cf_uid);
			log_warnx("uid %ld has no passwd entry; set gid too",
			    cf->cf_uid);
			exit(EX_CONFIG);
		}
		gid = pw->pw_gid;
	}
	if (setgroups(1, &gid) == -1)
		fatal("setgroups %ld", (long)gid);
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %ld", (long)gid);
	if (cf->cf_uid == -1) {
		log_warnx("gid %ld without uid: still running as root",
		    (long)gid);
		return;
	}
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %ld", (long)uid);

	/* Check: every id changed, one group, and root cannot come back. */
	if (getresuid(&ru, &eu, &su) == -1 || ru != uid || eu != uid ||
	    su != uid || getresgid(&rg, &eg, &sg) == -1 || rg != gid ||
	    eg != gid || sg != gid || getgroups(2, groups) != 1 ||
	    groups[0] != gid)
		fatalx("privileges not dropped to uid %ld gid %ld", (long)uid,
		    (long)gid);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("privileges could be regained after dropping them");
	log_info("running as uid %ld gid %ld", (long)uid, (long)gid);
}

/* Listen on the n sockets systemd passed (systemd_listen). */
static int
systemd_adopt(int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (listener_adopt(SYSTEMD_LISTEN_FD + i) == -1)
			return -1;
	return 0;
}

/* SIGUSR1: the counters (popserv.8). */
static void
log_stats(void)
{
	const struct popserv_stats *st = &env->ps_stats;

	log_info("stats sessions=%u checking=%u popits=%u addresses=%zu "
	    "accepted=%llu logins_ok=%llu logins_failed=%llu tempfails=%llu "
	    "rejected_sameaddr=%llu timeouts=%llu spawned=%llu "
	    "spawn_failed=%llu queued=%zu relays=%u tls=%llu tls_failed=%llu "
	    "relayed=%llu ktls=%llu proxied=%llu log_dropped=%llu "
	    "starting=%u",
	    env->ps_nsessions,
	    session_checking(), env->ps_nchildren, addrtab_size(env->ps_addrs),
	    (unsigned long long)st->st_accepted,
	    (unsigned long long)st->st_logins_ok,
	    (unsigned long long)st->st_logins_failed,
	    (unsigned long long)st->st_tempfails,
	    (unsigned long long)st->st_rejected_sameaddr,
	    (unsigned long long)st->st_timeouts,
	    (unsigned long long)st->st_spawned,
	    (unsigned long long)st->st_spawn_failed, workers_pending(),
	    env->ps_nrelays, (unsigned long long)st->st_tls,
	    (unsigned long long)st->st_tls_failed,
	    (unsigned long long)st->st_relayed,
	    (unsigned long long)st->st_ktls,
	    (unsigned long long)st->st_proxied,
	    (unsigned long long)log_dropped(), handoff_pending());
	account_log_stats();
}

/* Signals, delivered on the loop. */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
		if (!drain_terminating()) {
			drain_term();
			break;
		}
		/* Already draining after a TERM: a second one means now. */
		/* FALLTHROUGH */
	case SIGINT:
		log_info("signal %d: exiting, %u sessions closed", (int)sig,
		    env->ps_nsessions);
		systemd_notify("STOPPING=1");
		event_base_loopbreak(env->ps_base);
		break;
	case SIGHUP:
		if (listener_draining())
			log_info("SIGHUP: draining, the configuration stays");
		else
			(void)reload_config();
		break;
	case SIGUSR1:
		log_stats();
		break;
	}
}

int
main(int argc, char *argv[])
{
	const char		*conffile = POPSERV_CONF_PATH, *bind = NULL;
	struct event_config	*evcfg;
	struct config		*cf;
	struct event		*sigev[4];
	static const int	 sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
	struct stat		 sb0, sb2;
	char			 err[256];
	int			 ch, inetd = 0, test = 0, debug = 0, lfd = -1;
	int			 keep2, n;
	long			 pid;
	size_t			 i;

	while ((ch = getopt(argc, argv, ":iC:b:tdVh")) != -1) {
		switch (ch) {
		case 'i':
			inetd = 1;
			break;
		case 'C':
			conffile = optarg;
			break;
		case 'b':
			bind = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "popserv: -%c needs an argument\n",
			    optopt);
			usage(stderr);
			return EX_USAGE;
		default:
			fprintf(stderr, "popserv: unknown option -%c\n",
			    optopt);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (test)
		return check_config(conffile, bind);

	log_init("popserv", debug);
	if (inetd) {
		/*
		 * fd 0 is the listening socket (inetd passes it on 1 and 2
		 * too); move it above 2 and give 0-2 to /dev/null, keeping a
		 * stderr for -d unless it is the socket as well.
		 */
		if (inetd_socket(0) == -1)
			return EX_USAGE;
		if ((lfd = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1)
			fatal("-i: fd 0");
		keep2 = debug && fstat(0, &sb0) == 0 && fstat(2, &sb2) == 0 &&
		    (sb0.st_dev != sb2.st_dev || sb0.st_ino != sb2.st_ino);
		for (i = 0; i <= 2; i++)
			if (i != 2 || !keep2)
				close(i);
	}
	stdio_sanitize();
	cf = load_config(conffile, bind);
	env->ps_conf = cf;
	signal(SIGPIPE, SIG_IGN);

	if (evthread_use_pthreads() == -1)
		fatalx("libevent has no pthreads support");
	if ((evcfg = event_config_new()) == NULL)
		fatalx("event_config_new");
	event_config_require_features(evcfg, EV_FEATURE_ET | EV_FEATURE_O1);
	if ((env->ps_base = event_base_new_with_config(evcfg)) == NULL)
		fatalx("no event backend with edge-triggered events");
	event_config_free(evcfg);

	reload_init(conffile, bind);
	reload_set_timelimit(cf->cf_timelimit);
	/*
	 * Catch signals before the sockets and the pid file exist, so that
	 * a supervisor that signals as soon as it sees them finds popserv
	 * ready: they are handled once the loop runs.
	 */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigev[i] = evsignal_new(env->ps_base, sigs[i], on_signal, NULL);
		if (sigev[i] == NULL || event_add(sigev[i], NULL) == -1)
			fatalx("signal events");
	}
	if ((env->ps_addrs = addrtab_new()) == NULL ||
	    (env->ps_penalty = penalty_new(PENALTY_ENTRIES)) == NULL)
		fatal("address tables");
	if ((env->ps_userdb = userdb_open(cf, err, sizeof(err))) == NULL) {
		log_warnx("userdb: %s", err);
		fprintf(stderr, "popserv: userdb: %s\n", err);
		return EX_CONFIG;
	}
	/* Before privileges go: the key is often readable by root only. */
	if (tls_configure(cf) == -1) {
		fprintf(stderr, "popserv: tls: cannot load the certificate or "
		    "key (see the log)\n");
		return EX_CONFIG;
	}
	if (tls_enabled()) {
		char	 why[128];

		log_info("tls: %s; kernel TLS: %s", tls_library(),
		    tls_kernel_tls(why, sizeof(why)) ? "available" : why);
	}
	if (handoff_init() == -1)
		fatalx("cannot set up the handoff");
	/* Listen: the inetd socket, systemd's sockets, or bindto. */
	if (inetd) {
		if (listener_adopt(lfd) == -1)
			return EX_OSERR;
		if (cf->cf_nbindtls > 0)
			log_warnx("-i: the bindtls lines are not used");
	} else if ((n = systemd_listen()) == -1 ||
	    (n > 0 && systemd_adopt(n) == -1)) {
		fprintf(stderr, "popserv: bad sockets from systemd (see the "
		    "log)\n");
		return EX_OSERR;
	} else if (n == 0 && listener_open(cf) == -1) {
		fprintf(stderr, "popserv: cannot listen (see the log)\n");
		return EX_OSERR;
	} else if (n > 0 && cf->cf_nbindtls > 0)
		log_warnx("systemd sockets: the bindtls lines are not used");
	pidfile_write(cf);
	priv_drop(cf);
	if (workers_start(env->ps_base, cf->cf_workers,
	    (size_t)cf->cf_workers * WORKER_QUEUE_PER_THREAD) == -1)
		fatalx("cannot start worker threads");
	account_init(env->ps_base, cf);

	listener_init(env->ps_base);
	log_info("popserv %s started, %d workers", POPSERV_VERSION,
	    cf->cf_workers);
	systemd_notify("READY=1");
	systemd_status_start(env->ps_base);

	for (;;) {
		event_base_dispatch(env->ps_base);
		if (!drain_want_fork())
			break;
		/*
		 * SIGTERM with sessions left: a child finishes them. Nothing
		 * is waited for: the parent leaves its threads (workers,
		 * loginfo) as they are and exits at once.
		 */
		if ((pid = drain_fork()) > 0) {
			pidfile_remove();
			/* At once: a stalled log daemon gets 200 ms. */
			log_flush(200);
			_exit(0);
		}
		if (pid == 0) {
			/* The pid file is the parent's, gone or going. */
			free(pidfile_path);
			pidfile_path = NULL;
			account_forked(env->ps_base, env->ps_conf);
		}
	}
	cf = env->ps_conf;		/* SIGHUP may have replaced it */

	listener_close_all();
	session_close_all("shutdown");
	relay_close_all();
	workers_stop(WORKERS_EXIT_WAIT_MS);
	pidfile_remove();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(sigev[i]);
	userdb_close(env->ps_userdb);
	account_shutdown();
	addrtab_free(env->ps_addrs);
	penalty_free(env->ps_penalty);
	tls_shutdown();
	config_free(cf);
	log_info("popserv exiting");
	return 0;
}
