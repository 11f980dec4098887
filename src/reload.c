/*
 * SIGHUP. The file is loaded into a new configuration object; when it
 * has an error, every error is logged and nothing changes. Otherwise the
 * new listeners and the new user database are opened first (failure
 * still changes nothing), then the objects are swapped. Sessions read
 * env->ps_conf at each use and keep no pointer into it past a callback,
 * so the old object is freed at once; queued password checks hold a
 * reference to the old user database, which is closed after the last.
 * Settings that only a restart can change (uid, gid, workers, pidfile)
 * keep their running values, with a warning.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "account.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "state.h"
#include "reload.h"
#include "systemd.h"
#include "tls.h"
#include "userdb.h"

static const char	*reload_path;
static const char	*reload_bind;
static struct timeval	 reload_idle_tv;	/* if no common timeout */

static void	 reload_keep(struct config *, const struct config *);
static void	 reload_log_msgs(const struct config_msgs *);

/* The -C path and the -b override, for every reload. */
void
reload_init(const char *path, const char *bind)
{
	reload_path = path;
	reload_bind = bind;
}

/* Log the warnings and errors of a load, each with file:line. */
static void
reload_log_msgs(const struct config_msgs *msgs)
{
	size_t	 i;

	for (i = 0; i < msgs->cm_nwarnings; i++)
		log_warnx("reload: %s", msgs->cm_warnings[i]);
	for (i = 0; i < msgs->cm_nerrors; i++)
		log_warnx("reload: %s", msgs->cm_errors[i]);
}

/* Settings fixed for the life of the process: keep the running ones. */
static void
reload_keep(struct config *cf, const struct config *old)
{
	char	*tmp;

	if (cf->cf_uid != old->cf_uid || cf->cf_gid != old->cf_gid) {
		log_warnx("reload: uid/gid changes need a restart; keeping "
		    "uid %ld gid %ld", old->cf_uid, old->cf_gid);
		cf->cf_uid = old->cf_uid;
		cf->cf_gid = old->cf_gid;
	}
	if (cf->cf_workers != old->cf_workers) {
		log_warnx("reload: workers changes need a restart; keeping %d",
		    old->cf_workers);
		cf->cf_workers = old->cf_workers;
	}
	if ((cf->cf_pidfile == NULL) != (old->cf_pidfile == NULL) ||
	    (cf->cf_pidfile != NULL &&
	    strcmp(cf->cf_pidfile, old->cf_pidfile) != 0)) {
		log_warnx("reload: pidfile changes need a restart; keeping %s",
		    old->cf_pidfile != NULL ? old->cf_pidfile : "none");
		tmp = old->cf_pidfile != NULL ? strdup(old->cf_pidfile) : NULL;
		if (old->cf_pidfile != NULL && tmp == NULL)
			fatal("reload");
		free(cf->cf_pidfile);
		cf->cf_pidfile = tmp;
	}
}

/* Point the loop's idle timeout at seconds (0: no limit). */
void
reload_set_timelimit(int seconds)
{
	const struct timeval	*tv;

	if (seconds <= 0) {
		env->ps_idle_tv = NULL;
		return;
	}
	reload_idle_tv.tv_sec = seconds;
	reload_idle_tv.tv_usec = 0;
	/* A common timeout is cheaper; libevent has room for 256. */
	tv = event_base_init_common_timeout(env->ps_base, &reload_idle_tv);
	env->ps_idle_tv = tv != NULL ? tv : &reload_idle_tv;
}

/* SIGHUP: see above. */
int
reload_config(void)
{
	struct config_msgs	 msgs;
	struct config		*cf, *old = env->ps_conf;
	struct userdb		*db, *olddb;
	struct tls_ctx		*ctx;
	char			 err[256];

	systemd_notify("RELOADING=1");
	log_info("reload: reading %s", reload_path);
	memset(&msgs, 0, sizeof(msgs));
	cf = config_load(reload_path, &msgs);
	reload_log_msgs(&msgs);
	if (cf == NULL) {
		log_warnx("reload: %zu errors in %s, the configuration in "
		    "force stays", msgs.cm_nerrors, reload_path);
		goto fail;
	}
	if (reload_bind != NULL &&
	    config_override_bind(cf, reload_bind, err, sizeof(err)) == -1) {
		log_warnx("reload: -b %s: %s, the configuration in force stays",
		    reload_bind, err);
		goto fail;
	}
	reload_keep(cf, old);
	if ((db = userdb_open(cf, err, sizeof(err))) == NULL) {
		log_warnx("reload: %s, the configuration in force stays", err);
		goto fail;
	}
	/*
	 * The new certificate and key, loaded before anything changes: a bad
	 * one keeps the configuration in force, certificate included.
	 */
	if (tls_load(cf, &ctx) == -1) {
		log_warnx("reload: cannot load the TLS certificate or key, the "
		    "configuration in force stays");
		userdb_close(db);
		goto fail;
	}
	if (!listener_draining() && listener_reconfigure(cf) == -1) {
		log_warnx("reload: cannot listen on every address, the "
		    "configuration in force stays");
		userdb_close(db);
		tls_discard(ctx);
		goto fail;
	}

	env->ps_conf = cf;
	tls_install(ctx);
	if (cf->cf_tls_cert != NULL)
		log_info("reload: TLS certificate %s in force",
		    cf->cf_tls_cert);
	olddb = env->ps_userdb;
	env->ps_userdb = db;
	userdb_close(olddb);	/* closed now, or after its last queued check */
	reload_set_timelimit(cf->cf_timelimit);
	listener_update();
	listener_autoclose_reset();
	account_reconfigure(env->ps_base, old, cf);
	config_free(old);
	config_msgs_free(&msgs);
	log_info("reload: %s in force", reload_path);
	systemd_notify("READY=1");
	return 0;

fail:
	config_free(cf);
	config_msgs_free(&msgs);
	systemd_notify("READY=1");
	return -1;
}
