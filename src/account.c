/*
 * Accounting on each successful login (docs/accounting.md): the one
 * entry point the session calls, dispatching to WHOSON, logudp and
 * loginfo, and opening them at start-up and after a reload. Each channel
 * is optional and none of them can delay or fail a login.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "addr.h"
#include "addrtab.h"
#include "config.h"
#include "log.h"
#include "loginfo.h"
#include "logudp.h"
#include "whoson.h"

static int	 account_streq(const char *, const char *);
static int	 account_loginfo_changed(const struct config *,
		    const struct config *);

/* Open what the configuration asks for; a channel that fails stays off. */
void
account_init(struct event_base *base, const struct config *cf)
{
	account_reconfigure(base, NULL, cf);
}

/* Equal strings, NULL equal to NULL only. */
static int
account_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Does loginfo need a new connection: other settings, or host name? */
static int
account_loginfo_changed(const struct config *old, const struct config *cf)
{
	const struct cfg_mysql	*a = &old->cf_loginfo, *b = &cf->cf_loginfo;

	return !account_streq(a->my_host, b->my_host) ||
	    !account_streq(a->my_user, b->my_user) ||
	    !account_streq(a->my_password, b->my_password) ||
	    !account_streq(a->my_database, b->my_database) ||
	    !account_streq(a->my_query, b->my_query) ||
	    !account_streq(old->cf_hostname, cf->cf_hostname);
}

/*
 * Open the channels cf asks for; after a reload (old, the configuration
 * being replaced, not NULL) only those whose socket or connection
 * settings changed, closing them first (rules, the logudp secret and
 * the host name are read from the configuration at each login).
 * loginfo's old thread is left to write what its queue still holds with
 * the old settings, and to end on its own. A channel that fails stays
 * off.
 */
void
account_reconfigure(struct event_base *base, const struct config *old,
    const struct config *cf)
{
	if (old == NULL || (old->cf_nwhoson > 0) != (cf->cf_nwhoson > 0) ||
	    !addr_same(&old->cf_whoson_server, &cf->cf_whoson_server)) {
		if (old != NULL)
			whoson_close();
		if (whoson_open(base, cf) == -1)
			log_warnx("whoson: notices are off");
	}
	if (old == NULL || old->cf_logudp_set != cf->cf_logudp_set ||
	    old->cf_logudp_ttl != cf->cf_logudp_ttl ||
	    !addr_same(&old->cf_logudp_dst, &cf->cf_logudp_dst)) {
		if (old != NULL)
			logudp_close();
		if (logudp_open(cf) == -1)
			log_warnx("logudp: notices are off");
	}
	if (old == NULL || account_loginfo_changed(old, cf)) {
		if (old != NULL)
			loginfo_retire();	/* never waits for its thread */
		if (loginfo_start(cf) == -1)
			log_warnx("loginfo: logging is off");
	}
}

/* One successful login: tell every channel, none of them waits. */
void
account_login(const struct config *cf, const char *account,
    const char *login, const struct addrkey *peer)
{
	char	 ip[64], esc[128], esclogin[128];

	addrkey_ntop(peer, ip, sizeof(ip));
	log_debug("account: user=\"%s\" login=\"%s\" ip=%s",
	    log_escape(esc, sizeof(esc), account, strlen(account)),
	    log_escape(esclogin, sizeof(esclogin), login, strlen(login)), ip);
	whoson_login(cf, account, ip);
	logudp_login(cf, account, ip);
	loginfo_login(account, ip, (long long)time(NULL));
}

/* Every counter, from every channel. */
void
account_stats(struct account_stats *st)
{
	memset(st, 0, sizeof(*st));
	whoson_stats(&st->as_whoson_sent, &st->as_whoson_negative);
	logudp_stats(&st->as_logudp_sent);
	loginfo_stats(&st->as_loginfo_queued, &st->as_loginfo_sent,
	    &st->as_loginfo_dropped, &st->as_loginfo_failed);
}

/* SIGUSR1: one line of accounting counters. */
void
account_log_stats(void)
{
	struct account_stats	 st;

	account_stats(&st);
	log_info("stats accounting whoson_sent=%llu whoson_negative=%llu "
	    "logudp_sent=%llu loginfo_queued=%llu loginfo_sent=%llu "
	    "loginfo_dropped=%llu loginfo_failed=%llu",
	    (unsigned long long)st.as_whoson_sent,
	    (unsigned long long)st.as_whoson_negative,
	    (unsigned long long)st.as_logudp_sent,
	    (unsigned long long)st.as_loginfo_queued,
	    (unsigned long long)st.as_loginfo_sent,
	    (unsigned long long)st.as_loginfo_dropped,
	    (unsigned long long)st.as_loginfo_failed);
}

/* Close the sockets and stop the loginfo thread. */
void
account_shutdown(void)
{
	whoson_close();
	logudp_close();
	loginfo_stop();
}

/*
 * In the TERM drain child: sockets of its own, and a loginfo thread of
 * its own (the parent's is not in this process) that takes over what
 * the parent had queued.
 */
void
account_forked(struct event_base *base, const struct config *cf)
{
	whoson_close();
	logudp_close();
	account_init(base, cf);
}
