/* The configuration (docs/configuration.md): one immutable object a load. */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <regex.h>
#include <stddef.h>

#include "addr.h"

#define CONFIG_MAXADDRS		64	/* bindto, bindtls */
#define CONFIG_MAXRULES		64	/* whoson.allow/deny */
#define CONFIG_MAXTRUSTED	64	/* trusted CIDRs */
#define CONFIG_MAXARGS		32	/* popitargs */

enum whoson_action {
	WHOSON_ALLOW,
	WHOSON_DENY
};

struct cfg_whoson_rule {
	enum whoson_action	 wr_action;
	regex_t			 wr_re;		/* REG_EXTENDED|REG_ICASE */
	char			*wr_pattern;
};

enum userdb_kind {
	USERDB_SYSTEM,
	USERDB_FILE,
	USERDB_MYSQL
};

/* MySQL connection settings (loginfo.*, userdb.*). */
struct cfg_mysql {
	char			*my_host;	/* name, name:port, [v6]:port, /path */
	char			*my_user;
	char			*my_password;
	char			*my_database;
	char			*my_query;
};

struct config {
	char			*cf_path;	/* file it was read from */

	/* Listeners. */
	struct cfg_addr		 cf_bindto[CONFIG_MAXADDRS];
	size_t			 cf_nbindto;	/* 0: all addresses, port 110 */
	struct cfg_addr		 cf_bindtls[CONFIG_MAXADDRS];
	size_t			 cf_nbindtls;

	/* Identity and privileges. */
	char			*cf_hostname;	/* APOP challenge, logudp source */
	long			 cf_uid;	/* -1: unset */
	long			 cf_gid;	/* -1: unset */
	long			 cf_minuid;	/* accounts below are refused */
	long			 cf_mingid;	/* gid 0 is refused always */
	char			*cf_pidfile;	/* NULL: none */

	/* Authentication. */
	int			 cf_crypt;	/* stored passwords are hashes */
	int			 cf_apop;	/* as written */
	int			 cf_apop_on;	/* in force: apop && !crypt */
	enum userdb_kind	 cf_userdb;
	char			*cf_userdb_path;	/* USERDB_FILE */
	struct cfg_mysql	 cf_userdb_mysql;	/* USERDB_MYSQL */
	int			 cf_workers;

	/* Limits; 0 means "no limit" / "never" where the spec says so. */
	int			 cf_accepts;
	int			 cf_timelimit;	/* seconds, 0: no limit */
	int			 cf_autoclose;	/* seconds, 0: never */
	int			 cf_sameaddrmax;	/* 0: no limit */
	int			 cf_maxconn;
	int			 cf_faildelay;	/* seconds */
	int			 cf_checktimeout;	/* seconds a check may take */
	int			 cf_maxfails;
	int			 cf_failpenalty;
	int			 cf_ipv6prefix;	/* IPv6 clients count per prefix */
	struct cfg_cidr		 cf_trusted[CONFIG_MAXTRUSTED];
	size_t			 cf_ntrusted;

	/* Handoff. */
	char			*cf_popit;
	int			 cf_spawntimeout;	/* seconds popit may take to start */
	char			*cf_popitargs[CONFIG_MAXARGS + 1];	/* NULL-ended */
	size_t			 cf_npopitargs;	/* 0: argv is { popit } */
	char			*cf_maildir;	/* relative to home */
	int			 cf_folder_set;
	regex_t			 cf_folder;
	int			 cf_useropt_set;
	regex_t			 cf_useropt;
	char			*cf_hometag;

	/* Accounting. */
	struct cfg_whoson_rule	 cf_whoson[CONFIG_MAXRULES];
	size_t			 cf_nwhoson;
	struct cfg_addr		 cf_whoson_server;
	struct cfg_mysql	 cf_loginfo;
	int			 cf_logudp_set;
	struct cfg_addr		 cf_logudp_dst;
	char			*cf_logudp_secret;
	int			 cf_logudp_ttl;

	/* TLS. */
	char			*cf_tls_cert;
	char			*cf_tls_key;
	int			 cf_plaintext;
};

/* Errors and warnings from one load, each "file:line: directive: text". */
struct config_msgs {
	char			**cm_errors;
	size_t			  cm_nerrors;
	char			**cm_warnings;
	size_t			  cm_nwarnings;
};

/*
 * Read path into a new configuration. Returns NULL when the file has any
 * error; every error (not just the first) and every warning is appended
 * to msgs. Never touches a configuration already in force.
 */
struct config	*config_load(const char *path, struct config_msgs *msgs);
/* The built-in defaults, as if from an empty file. */
struct config	*config_default(void);
void		 config_free(struct config *);

/*
 * Replace every bindto with the -b argument "[address][:port]".
 * Returns 0, or -1 with a message in err.
 */
int		 config_override_bind(struct config *, const char *,
		    char *err, size_t errsz);

/* Parse a duration: seconds with optional s, m or h. */
int		 config_parse_duration(const char *, long *);

/* Does addr (AF_INET/AF_INET6, mapped v4 folded) fall in a trusted CIDR? */
int		 config_is_trusted(const struct config *,
		    const struct sockaddr *);

/*
 * Append a message: errors read "file:line: directive: text", warnings
 * "file:line: warning: directive: text" (line 0: "file: ...").
 */
void		 config_msg_add(struct config_msgs *, int is_error,
		    const char *file, int line, const char *directive,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void		 config_msgs_free(struct config_msgs *);
/* Free a MySQL settings block (or a copy of one), wiping the password. */
void		 config_mysql_free(struct cfg_mysql *);

#endif
