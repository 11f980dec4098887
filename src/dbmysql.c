/* MySQL/MariaDB connections, host settings and query templates. */

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <errmsg.h>

#include "config.h"
#include "dbmysql.h"
#include "log.h"

static const char *dbm_value(const struct dbm_var *, size_t, char, int *);
static void	 dbm_atfork_init(void);
static void	 dbm_atfork_prepare(void);
static void	 dbm_atfork_parent(void);
static void	 dbm_atfork_child(void);

static pthread_once_t	 dbm_atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 dbm_lock = PTHREAD_MUTEX_INITIALIZER;
static int		 dbm_users;

/* dbm_lock is free in a forked child (the TERM drain). */
static void
dbm_atfork_init(void)
{
	pthread_atfork(dbm_atfork_prepare, dbm_atfork_parent,
	    dbm_atfork_child);
}

/* Before fork: take dbm_lock, held only for a moment by anyone. */
static void
dbm_atfork_prepare(void)
{
	pthread_mutex_lock(&dbm_lock);
}

/* In the parent after fork. */
static void
dbm_atfork_parent(void)
{
	pthread_mutex_unlock(&dbm_lock);
}

/* In the child after fork: a fresh lock. */
static void
dbm_atfork_child(void)
{
	pthread_mutex_t	 m = PTHREAD_MUTEX_INITIALIZER;

	dbm_lock = m;
}

/*
 * mysql_library_init() is not thread-safe: call it from the main thread
 * before the first thread that uses the library starts.
 */
void
dbm_library_init(void)
{
	pthread_once(&dbm_atfork_once, dbm_atfork_init);
	pthread_mutex_lock(&dbm_lock);
	if (dbm_users++ == 0)
		mysql_library_init(0, NULL, NULL);
	pthread_mutex_unlock(&dbm_lock);
}

/* The last user gone: release what the library holds (for LeakSanitizer). */
void
dbm_library_end(void)
{
	pthread_mutex_lock(&dbm_lock);
	if (dbm_users > 0 && --dbm_users == 0)
		mysql_library_end();
	pthread_mutex_unlock(&dbm_lock);
}

/* Split a host setting into a TCP host and port, or a socket path. */
int
dbm_parse_host(const char *spec, struct dbm_target *t, char *err,
    size_t errsz)
{
	struct in6_addr	 a6;
	const char	*port = NULL, *end;
	char		*ep;
	size_t		 len;
	unsigned long	 n;
	int		 bracket = 0;

	memset(t, 0, sizeof(*t));
	if (spec == NULL || spec[0] == '\0')
		return 0;
	if (spec[0] == '/') {
		if (strlen(spec) >= sizeof(t->dt_socket)) {
			log_seterr(err, errsz, "socket path too long");
			return -1;
		}
		snprintf(t->dt_socket, sizeof(t->dt_socket), "%s", spec);
		return 0;
	}
	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL) {
			log_seterr(err, errsz, "\"%s\": missing ]", spec);
			return -1;
		}
		len = (size_t)(end - spec - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0') {
			log_seterr(err, errsz, "\"%s\": junk after ]", spec);
			return -1;
		}
		spec++;
		bracket = 1;
	} else {
		if ((end = strchr(spec, ':')) != NULL)
			port = end + 1;
		len = end != NULL ? (size_t)(end - spec) : strlen(spec);
	}
	if (len == 0 || len >= sizeof(t->dt_host)) {
		log_seterr(err, errsz, "bad host name");
		return -1;
	}
	memcpy(t->dt_host, spec, len);
	t->dt_host[len] = '\0';
	if (bracket && inet_pton(AF_INET6, t->dt_host, &a6) != 1) {
		log_seterr(err, errsz, "\"%s\" is not an IPv6 address",
		    t->dt_host);
		return -1;
	}
	if (port != NULL) {
		errno = 0;
		n = strtoul(port, &ep, 10);
		if (port[0] < '0' || port[0] > '9' || *ep != '\0' ||
		    errno != 0 || n == 0 || n > 65535) {
			log_seterr(err, errsz, "bad port \"%s\"", port);
			return -1;
		}
		t->dt_port = (unsigned int)n;
	}
	return 0;
}

/* The value of %name, or NULL (*found 0) when there is none. */
static const char *
dbm_value(const struct dbm_var *vars, size_t nvars, char name, int *found)
{
	size_t	 i;

	for (i = 0; i < nvars; i++)
		if (vars[i].dv_name == name) {
			*found = 1;
			return vars[i].dv_value != NULL ? vars[i].dv_value : "";
		}
	*found = 0;
	return NULL;
}

/*
 * Expand a query template. The buffer is sized for the worst case of
 * the escaper (2 * len + 1 per value) before anything is written, so no
 * value can overrun it however it escapes.
 */
char *
dbm_expand(const char *tmpl, const struct dbm_var *vars, size_t nvars,
    dbm_escape_fn esc, void *arg, size_t *lenp)
{
	const char	*p, *v;
	char		*out;
	size_t		 need, len, n, vlen;
	int		 found;

	/* Pass 1: check every escape and add up the worst case. */
	need = 1;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			need++;
			continue;
		}
		if (p[1] == '%') {
			need++;
			p++;
			continue;
		}
		if (p[1] == '\0' ||
		    (v = dbm_value(vars, nvars, p[1], &found)) == NULL) {
			errno = EINVAL;
			return NULL;
		}
		vlen = strlen(v);
		if (vlen > (SIZE_MAX - need - 1) / 2) {
			errno = ENOMEM;
			return NULL;
		}
		need += 2 * vlen + 1;
		p++;
	}
	if ((out = malloc(need)) == NULL)
		return NULL;

	/* Pass 2: write it. */
	len = 0;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			out[len++] = *p;
			continue;
		}
		p++;
		if (*p == '%') {
			out[len++] = '%';
			continue;
		}
		v = dbm_value(vars, nvars, *p, &found);
		vlen = strlen(v);
		n = esc(arg, out + len, v, vlen);
		if (n == (size_t)-1 || n > 2 * vlen) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		len += n;
	}
	out[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return out;
}

/* mysql_real_escape_string() in the connection's character set. */
size_t
dbm_escape_mysql(void *mysql, char *dst, const char *src, size_t len)
{
	unsigned long	 n;

	n = mysql_real_escape_string(mysql, dst, src, (unsigned long)len);
	if (n == (unsigned long)-1)
		return (size_t)-1;
	return (size_t)n;
}

/* Connect with bounded timeouts; the password never reaches err. */
MYSQL *
dbm_connect(const struct cfg_mysql *my, MYSQL **slot, char *err,
    size_t errsz)
{
	struct dbm_target	 t;
	MYSQL			*m;
	unsigned int		 timeout = DBM_TIMEOUT, proto;
	my_bool			 off = 0;
	char			 why[256];

	if (dbm_parse_host(my->my_host, &t, why, sizeof(why)) == -1) {
		log_seterr(err, errsz, "host: %s", why);
		return NULL;
	}
	if ((m = mysql_init(NULL)) == NULL) {
		log_seterr(err, errsz, "mysql_init: out of memory");
		return NULL;
	}
	if (slot != NULL)
		*slot = m;
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	/* popserv reconnects itself, knowing what a lost session means. */
	mysql_options(m, MYSQL_OPT_RECONNECT, &off);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (t.dt_socket[0] != '\0') {
		proto = MYSQL_PROTOCOL_SOCKET;
		mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	} else if (t.dt_host[0] != '\0' && strcmp(t.dt_host, "localhost")) {
		proto = MYSQL_PROTOCOL_TCP;
		mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
	}
	if (mysql_real_connect(m, t.dt_host[0] ? t.dt_host : NULL,
	    my->my_user, my->my_password, my->my_database, t.dt_port,
	    t.dt_socket[0] ? t.dt_socket : NULL, 0) == NULL) {
		log_seterr(err, errsz, "connect to %s: %s",
		    my->my_host ? my->my_host : "localhost", mysql_error(m));
		if (slot != NULL)
			*slot = NULL;
		mysql_close(m);
		return NULL;
	}
	return m;
}

/* Client-side errors (CR_*, 2000-2999) mean the connection is gone. */
int
dbm_conn_lost(MYSQL *m)
{
	unsigned int	 e = mysql_errno(m);

	return e >= CR_MIN_ERROR && e <= CR_MAX_ERROR;
}

/* Run a statement and throw away whatever result sets it returns. */
int
dbm_exec(MYSQL *m, const char *query, size_t len, char *err, size_t errsz)
{
	MYSQL_RES	*res;
	int		 rc;

	if (mysql_real_query(m, query, (unsigned long)len) != 0) {
		log_seterr(err, errsz, "%s", mysql_error(m));
		return -1;
	}
	do {
		if ((res = mysql_store_result(m)) != NULL)
			mysql_free_result(res);
		else if (mysql_field_count(m) != 0) {
			log_seterr(err, errsz, "%s", mysql_error(m));
			return -1;
		}
	} while ((rc = mysql_next_result(m)) == 0);
	if (rc > 0) {
		log_seterr(err, errsz, "%s", mysql_error(m));
		return -1;
	}
	return 0;
}
