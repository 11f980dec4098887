/* MySQL/MariaDB connections shared by loginfo and userdb mysql (docs/userdb.md). */
#ifndef DBMYSQL_H
#define DBMYSQL_H

#include <stddef.h>

#define DBM_TIMEOUT	3	/* seconds: connect, read and write each */

struct cfg_mysql;
typedef struct st_mysql MYSQL;

/* Where a "host" setting points: a TCP host and port, or a Unix socket. */
struct dbm_target {
	char		 dt_host[256];	/* "": none (Unix socket) */
	unsigned int	 dt_port;	/* 0: the library's default */
	char		 dt_socket[256];	/* "": none (TCP) */
};

/* One %X placeholder and its value (NULL: the empty string). */
struct dbm_var {
	char		 dv_name;
	const char	*dv_value;
};

/*
 * Escape len bytes of src into dst, which has room for 2 * len + 1
 * bytes; returns the length written (NUL not counted), or (size_t)-1.
 */
typedef size_t	(*dbm_escape_fn)(void *arg, char *dst, const char *src,
		    size_t len);

/* Call before any thread uses the client library; once per user. */
void	 dbm_library_init(void);
/* Balance dbm_library_init(); the last one releases the library. */
void	 dbm_library_end(void);

/*
 * Parse "name", "name:port", "[v6addr]:port", "[v6addr]" or "/path"
 * (NULL: the library's default, a local socket). Returns 0, or -1 with
 * a reason in err.
 */
int	 dbm_parse_host(const char *spec, struct dbm_target *, char *err,
	    size_t errsz);

/*
 * Expand tmpl: each %X with a value from vars, passed through esc, and
 * %% as %. Returns a heap string (its length in *lenp), or NULL with
 * errno EINVAL for an unknown or unfinished escape, ENOMEM otherwise.
 */
char	*dbm_expand(const char *tmpl, const struct dbm_var *vars,
	    size_t nvars, dbm_escape_fn esc, void *arg, size_t *lenp);

/* The escape function for dbm_expand(): mysql_real_escape_string(). */
size_t	 dbm_escape_mysql(void *mysql, char *dst, const char *src,
	    size_t len);

/*
 * Connect with the settings of my, with DBM_TIMEOUT on connect, reads
 * and writes. NULL with the reason in err (never the password). With
 * slot, the handle is stored there from its creation on, so that a
 * connect cut short by fork(2) leaves it reachable (never to be used
 * in the child); *slot is NULL again when the connect fails.
 */
MYSQL	*dbm_connect(const struct cfg_mysql *my, MYSQL **slot, char *err,
	    size_t errsz);

/* Did the last error on m lose the connection (a client-side error)? */
int	 dbm_conn_lost(MYSQL *m);

/* Run query and discard any results. 0, or -1 with the reason in err. */
int	 dbm_exec(MYSQL *m, const char *query, size_t len, char *err,
	    size_t errsz);

#endif
