/* The configuration file (docs/configuration.md): parse, check, free a load. */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "build_config.h"
#include "config.h"
#include "regex_cost.h"

#define CONFIG_DEFPORT_POP3	"110"
#define CONFIG_DEFPORT_POP3S	"995"
#define CONFIG_DEFPORT_WHOSON	"9876"

/* Ranges, documented in docs/configuration.md. */
#define CONFIG_MAXDURATION	86400		/* timelimit, autoclose */
#define CONFIG_MAXID		4294967294LL	/* uid, gid: 2^32 - 2 */

/* The state of one load: where we are, and what later checks need. */
struct cfparse {
	struct config		*p_cf;
	struct config_msgs	*p_msgs;
	const char		*p_path;
	int			 p_line;
	const char		*p_name;	/* directive on this line */
	int			 p_nerrors;
	int			 p_bindto_line[CONFIG_MAXADDRS];
	int			 p_bindtls_line[CONFIG_MAXADDRS];
	int			 p_apop_line;
	int			 p_tls_key_line;
	int			 p_userdb_line;
	int			 p_password_line;
	const char		*p_password_name;
};

struct cfdir;
typedef int	 cfdir_fn(struct cfparse *, const struct cfdir *, char *);

/* One directive: its name, its parser, and what the parser works on. */
struct cfdir {
	const char		*cd_name;
	cfdir_fn		*cd_parse;
	size_t			 cd_off;	/* field in struct config */
	long long		 cd_min;	/* range, or an argument */
	long long		 cd_max;
	const char		*cd_arg;	/* default port, % escapes */
};

static void	 cfg_error(struct cfparse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 cfg_warn(struct cfparse *, int, const char *, const char *,
		    ...) __attribute__((format(printf, 4, 5)));
static void	 cfg_line(struct cfparse *, char *);
static void	 cfg_finish(struct cfparse *, int);
static const struct cfdir *cfg_lookup(const char *);
static int	 cfg_single(struct cfparse *, const char *);
static int	 cfg_number(struct cfparse *, const char *, long long,
		    long long, long long *);
static int	 cfg_ranged(struct cfparse *, const struct cfdir *,
		    const char *, long long *);
static int	 cfg_setstr(struct cfparse *, char **, const char *);
static int	 cfg_regex(struct cfparse *, regex_t *, int *, const char *,
		    int, int);
static int	 cfg_listen(struct cfparse *, const char *, struct cfg_addr *,
		    size_t *, int *, const char *);

static cfdir_fn	 cfd_number;
static cfdir_fn	 cfd_id;
static cfdir_fn	 cfd_duration;
static cfdir_fn	 cfd_bool;
static cfdir_fn	 cfd_word;
static cfdir_fn	 cfd_path;
static cfdir_fn	 cfd_hostname;
static cfdir_fn	 cfd_apop;
static cfdir_fn	 cfd_bindto;
static cfdir_fn	 cfd_bindtls;
static cfdir_fn	 cfd_dest;
static cfdir_fn	 cfd_logudp_dst;
static cfdir_fn	 cfd_folder;
static cfdir_fn	 cfd_useropt;
static cfdir_fn	 cfd_whoson;
static cfdir_fn	 cfd_trusted;
static cfdir_fn	 cfd_userdb;
static cfdir_fn	 cfd_dbhost;
static cfdir_fn	 cfd_password;
static cfdir_fn	 cfd_query;
static cfdir_fn	 cfd_popitargs;
static cfdir_fn	 cfd_maildir;
static cfdir_fn	 cfd_hometag;
static cfdir_fn	 cfd_tls_key;

#define CF(field)	offsetof(struct config, field)

/* Every directive of docs/configuration.md, one entry each. */
static const struct cfdir cfdirs[] = {
	{ "accepts",		cfd_number,	CF(cf_accepts), 1, 1024, NULL },
	{ "apop",		cfd_apop,	CF(cf_apop), 0, 1, NULL },
	{ "autoclose",		cfd_duration,
	    CF(cf_autoclose), 0, CONFIG_MAXDURATION, NULL },
	{ "bindtls",		cfd_bindtls,	0, 0, 0, CONFIG_DEFPORT_POP3S },
	{ "bindto",		cfd_bindto,	0, 0, 0, CONFIG_DEFPORT_POP3 },
	{ "checktimeout",	cfd_duration,	CF(cf_checktimeout), 1, 300, NULL },
	{ "crypt",		cfd_bool,	CF(cf_crypt), 0, 1, NULL },
	{ "faildelay",		cfd_duration,	CF(cf_faildelay), 0, 60, NULL },
	{ "failpenalty",	cfd_bool,
	    CF(cf_failpenalty), 0, 1, NULL },
	{ "folder",		cfd_folder,	0, 0, 0, NULL },
	{ "gid",		cfd_id,
	    CF(cf_gid), 0, CONFIG_MAXID, NULL },
	{ "home.tag",		cfd_hometag,	CF(cf_hometag), 0, 0, NULL },
	{ "hostname",		cfd_hostname,	CF(cf_hostname), 0, 0, NULL },
	{ "ipv6prefix",		cfd_number,	CF(cf_ipv6prefix), 1, 128, NULL },
	{ "loginfo.database",	cfd_word,
	    CF(cf_loginfo.my_database), 0, 0, NULL },
	{ "loginfo.host",	cfd_dbhost,
	    CF(cf_loginfo.my_host), 0, 0, NULL },
	{ "loginfo.password",	cfd_password,
	    CF(cf_loginfo.my_password), 0, 0, NULL },
	{ "loginfo.query",	cfd_query,
	    CF(cf_loginfo.my_query), 0, 0, "uiht" },
	{ "loginfo.user",	cfd_word,
	    CF(cf_loginfo.my_user), 0, 0, NULL },
	{ "logudp.dst",		cfd_logudp_dst,	CF(cf_logudp_dst), 0, 0, NULL },
	{ "logudp.multicast.ttl", cfd_number,
	    CF(cf_logudp_ttl), 0, 255, NULL },
	{ "logudp.secret",	cfd_word,
	    CF(cf_logudp_secret), 0, 0, NULL },
	{ "maildir",		cfd_maildir,	CF(cf_maildir), 0, 0, NULL },
	{ "maxconn",		cfd_number,
	    CF(cf_maxconn), 1, 1000000, NULL },
	{ "maxfails",		cfd_number,	CF(cf_maxfails), 1, 100, NULL },
	{ "mingid",		cfd_id,
	    CF(cf_mingid), 1, CONFIG_MAXID, NULL },
	{ "minuid",		cfd_id,
	    CF(cf_minuid), 1, CONFIG_MAXID, NULL },
	{ "pidfile",		cfd_path,	CF(cf_pidfile), 0, 0, NULL },
	{ "plaintext",		cfd_bool,	CF(cf_plaintext), 0, 1, NULL },
	{ "popit",		cfd_path,	CF(cf_popit), 0, 0, NULL },
	{ "popitargs",		cfd_popitargs,	0, 0, 0, NULL },
	{ "sameaddrmax",	cfd_number,
	    CF(cf_sameaddrmax), 0, 100000, NULL },
	{ "spawntimeout",	cfd_duration,	CF(cf_spawntimeout), 1, 300, NULL },
	{ "timelimit",		cfd_duration,
	    CF(cf_timelimit), 0, CONFIG_MAXDURATION, NULL },
	{ "tls.cert",		cfd_path,	CF(cf_tls_cert), 0, 0, NULL },
	{ "tls.key",		cfd_tls_key,	CF(cf_tls_key), 0, 0, NULL },
	{ "trusted",		cfd_trusted,	0, 0, 0, NULL },
	{ "uid",		cfd_id,
	    CF(cf_uid), 0, CONFIG_MAXID, NULL },
	{ "userdb",		cfd_userdb,	0, 0, 0, NULL },
	{ "userdb.database",	cfd_word,
	    CF(cf_userdb_mysql.my_database), 0, 0, NULL },
	{ "userdb.host",	cfd_dbhost,
	    CF(cf_userdb_mysql.my_host), 0, 0, NULL },
	{ "userdb.password",	cfd_password,
	    CF(cf_userdb_mysql.my_password), 0, 0, NULL },
	{ "userdb.query",	cfd_query,
	    CF(cf_userdb_mysql.my_query), 0, 0, "u" },
	{ "userdb.user",	cfd_word,
	    CF(cf_userdb_mysql.my_user), 0, 0, NULL },
	{ "useropt",		cfd_useropt,	0, 0, 0, NULL },
	{ "whoson.allow",	cfd_whoson,	0, WHOSON_ALLOW, 0, NULL },
	{ "whoson.deny",	cfd_whoson,	0, WHOSON_DENY, 0, NULL },
	{ "whoson.server",	cfd_dest,
	    CF(cf_whoson_server), 0, 0, CONFIG_DEFPORT_WHOSON },
	{ "workers",		cfd_number,	CF(cf_workers), 1, 256, NULL },
};

#define FIELD(p, d, type)	((type *)((char *)(p)->p_cf + (d)->cd_off))

/* Append one formatted error or warning to msgs (nothing if msgs is NULL). */
void
config_msg_add(struct config_msgs *msgs, int is_error, const char *file,
    int line, const char *directive, const char *fmt, ...)
{
	char		  where[PATH_MAX + 32], text[1024];
	char		 *msg, **nv, ***vec;
	size_t		 *n;
	va_list		  ap;

	if (msgs == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d", file ? file : "-",
		    line);
	else
		snprintf(where, sizeof(where), "%s", file ? file : "-");
	if (asprintf(&msg, "%s: %s%s%s%s", where, is_error ? "" : "warning: ",
	    directive ? directive : "", directive ? ": " : "", text) == -1)
		return;
	vec = is_error ? &msgs->cm_errors : &msgs->cm_warnings;
	n = is_error ? &msgs->cm_nerrors : &msgs->cm_nwarnings;
	if ((nv = reallocarray(*vec, *n + 1, sizeof(*nv))) == NULL) {
		free(msg);
		return;
	}
	nv[(*n)++] = msg;
	*vec = nv;
}

/* Free every message and leave msgs empty (reusable). */
void
config_msgs_free(struct config_msgs *msgs)
{
	size_t	 i;

	if (msgs == NULL)
		return;
	for (i = 0; i < msgs->cm_nerrors; i++)
		free(msgs->cm_errors[i]);
	for (i = 0; i < msgs->cm_nwarnings; i++)
		free(msgs->cm_warnings[i]);
	free(msgs->cm_errors);
	free(msgs->cm_warnings);
	memset(msgs, 0, sizeof(*msgs));
}

/* The defaults of docs/configuration.md, as if read from an empty file. */
struct config *
config_default(void)
{
	struct config	*cf;
	char		 host[256], err[128];
	long		 ncpu;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return NULL;
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	cf->cf_hostname = strdup(host);
	cf->cf_uid = -1;
	cf->cf_gid = -1;
	cf->cf_crypt = 1;
	cf->cf_apop = 0;
	cf->cf_apop_on = 0;
	cf->cf_userdb = USERDB_SYSTEM;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 256)
		ncpu = 256;
	cf->cf_workers = (int)ncpu;
	cf->cf_accepts = 1;
	cf->cf_timelimit = 0;
	cf->cf_autoclose = 0;
	cf->cf_sameaddrmax = 0;
	cf->cf_maxconn = 10000;
	cf->cf_faildelay = 2;
	cf->cf_checktimeout = 30;
	cf->cf_maxfails = 3;
	cf->cf_failpenalty = 1;
	cf->cf_minuid = 1000;
	cf->cf_mingid = 1;
	cf->cf_ipv6prefix = 64;
	cf->cf_spawntimeout = 10;
	cf->cf_popit = strdup(POPSERV_POPIT_PATH);
	cf->cf_maildir = strdup("Maildir");
	cf->cf_logudp_ttl = 1;
	cf->cf_plaintext = 1;
	if (addr_parse("127.0.0.1", CONFIG_DEFPORT_WHOSON,
	    &cf->cf_whoson_server, err, sizeof(err)) == -1 ||
	    cf->cf_hostname == NULL || cf->cf_popit == NULL ||
	    cf->cf_maildir == NULL) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Free the strings of one MySQL settings block, wiping the password. */
void
config_mysql_free(struct cfg_mysql *my)
{
	free(my->my_host);
	free(my->my_user);
	if (my->my_password != NULL)
		explicit_bzero(my->my_password, strlen(my->my_password));
	free(my->my_password);
	free(my->my_database);
	free(my->my_query);
	memset(my, 0, sizeof(*my));
}

/* Free a configuration and everything it owns, compiled regexes included. */
void
config_free(struct config *cf)
{
	size_t	 i;

	if (cf == NULL)
		return;
	free(cf->cf_path);
	free(cf->cf_hostname);
	free(cf->cf_pidfile);
	free(cf->cf_userdb_path);
	config_mysql_free(&cf->cf_userdb_mysql);
	free(cf->cf_popit);
	for (i = 0; i < cf->cf_npopitargs; i++)
		free(cf->cf_popitargs[i]);
	free(cf->cf_maildir);
	if (cf->cf_folder_set)
		regfree(&cf->cf_folder);
	if (cf->cf_useropt_set)
		regfree(&cf->cf_useropt);
	free(cf->cf_hometag);
	for (i = 0; i < cf->cf_nwhoson; i++) {
		regfree(&cf->cf_whoson[i].wr_re);
		free(cf->cf_whoson[i].wr_pattern);
	}
	config_mysql_free(&cf->cf_loginfo);
	if (cf->cf_logudp_secret != NULL)
		explicit_bzero(cf->cf_logudp_secret,
		    strlen(cf->cf_logudp_secret));
	free(cf->cf_logudp_secret);
	free(cf->cf_tls_cert);
	free(cf->cf_tls_key);
	free(cf);
}

/* Parse a duration: digits, then nothing, s, m or h. */
int
config_parse_duration(const char *s, long *out)
{
	unsigned long long	 v = 0, mult = 1;
	const char		*p;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > LONG_MAX)
			return -1;
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		p++;
		break;
	case 'm':
		mult = 60;
		p++;
		break;
	case 'h':
		mult = 3600;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0' || v > LONG_MAX / mult)
		return -1;
	*out = (long)(v * mult);
	return 0;
}

/* Replace every bindto with the -b argument. */
int
config_override_bind(struct config *cf, const char *arg, char *err,
    size_t errsz)
{
	struct cfg_addr	 a;

	if (addr_parse(arg, CONFIG_DEFPORT_POP3, &a, err, errsz) == -1)
		return -1;
	cf->cf_bindto[0] = a;
	cf->cf_nbindto = 1;
	return 0;
}

/* Is the peer in a trusted CIDR? IPv4-mapped IPv6 is matched as IPv4. */
int
config_is_trusted(const struct config *cf, const struct sockaddr *sa)
{
	if (cf == NULL)
		return 0;
	return addr_in_cidrs(cf->cf_trusted, cf->cf_ntrusted, sa);
}

/* Read path into a fresh configuration; NULL if the file has any error. */
struct config *
config_load(const char *path, struct config_msgs *msgs)
{
	struct cfparse	 p;
	struct stat	 st;
	FILE		*fp;
	char		*line = NULL;
	size_t		 linesz = 0;
	ssize_t		 len;
	int		 mode = 0;

	if (path == NULL)
		path = POPSERV_CONF_PATH;
	if ((fp = fopen(path, "re")) == NULL) {
		config_msg_add(msgs, 1, path, 0, NULL, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.p_msgs = msgs;
	p.p_path = path;
	if ((p.p_cf = config_default()) == NULL ||
	    (p.p_cf->cf_path = strdup(path)) == NULL) {
		config_msg_add(msgs, 1, path, 0, NULL, "out of memory");
		config_free(p.p_cf);
		fclose(fp);
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0)
		mode = (int)(st.st_mode & 07777);
	while ((len = getline(&line, &linesz, fp)) != -1) {
		p.p_line++;
		p.p_name = NULL;
		if (strlen(line) != (size_t)len) {
			cfg_error(&p, "NUL byte in line");
			continue;
		}
		cfg_line(&p, line);
	}
	if (ferror(fp)) {
		config_msg_add(msgs, 1, path, 0, NULL, "read error: %s",
		    strerror(errno));
		p.p_nerrors++;
	}
	free(line);
	fclose(fp);
	cfg_finish(&p, mode);
	if (p.p_nerrors > 0) {
		config_free(p.p_cf);
		return NULL;
	}
	return p.p_cf;
}

/* Record an error at the current line and directive. */
static void
cfg_error(struct cfparse *p, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	config_msg_add(p->p_msgs, 1, p->p_path, p->p_line, p->p_name, "%s",
	    buf);
	p->p_nerrors++;
}

/* Record a warning at a given line for a given directive. */
static void
cfg_warn(struct cfparse *p, int line, const char *name, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	config_msg_add(p->p_msgs, 0, p->p_path, line, name, "%s", buf);
}

/* Find a directive in the table. */
static const struct cfdir *
cfg_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(cfdirs) / sizeof(cfdirs[0]); i++)
		if (strcmp(cfdirs[i].cd_name, name) == 0)
			return &cfdirs[i];
	return NULL;
}

/* One line: skip blanks and comments, split off the name, dispatch. */
static void
cfg_line(struct cfparse *p, char *line)
{
	const struct cfdir	*d;
	char			*name, *value, *end;

	end = line + strlen(line);
	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	name = line;
	while (isspace((unsigned char)*name))
		name++;
	if (*name == '\0' || *name == '#')
		return;
	value = name;
	while (*value != '\0' && !isspace((unsigned char)*value))
		value++;
	if (*value != '\0') {
		*value++ = '\0';
		while (isspace((unsigned char)*value))
			value++;
	}
	p->p_name = name;
	if ((d = cfg_lookup(name)) == NULL) {
		cfg_error(p, "unknown directive");
		return;
	}
	p->p_name = d->cd_name;
	if (*value == '\0') {
		cfg_error(p, "missing value");
		return;
	}
	d->cd_parse(p, d, value);
}

/* Checks that need the whole file: combinations and permissions. */
static void
cfg_finish(struct cfparse *p, int mode)
{
	struct config	*cf = p->p_cf;

	p->p_name = NULL;
	if (cf->cf_apop && cf->cf_crypt)
		cfg_warn(p, p->p_apop_line, "apop", "APOP needs plaintext "
		    "passwords (crypt 0); with crypt 1 APOP stays off");
	cf->cf_apop_on = cf->cf_apop && !cf->cf_crypt;

	if (cf->cf_tls_key != NULL && cf->cf_tls_cert == NULL) {
		p->p_line = p->p_tls_key_line;
		p->p_name = "tls.key";
		cfg_error(p, "tls.key without tls.cert");
	}
	if (cf->cf_nbindtls > 0 && cf->cf_tls_cert == NULL) {
		p->p_line = p->p_bindtls_line[0];
		p->p_name = "bindtls";
		cfg_error(p, "a TLS listener needs tls.cert");
	}
	if (cf->cf_tls_cert != NULL && cf->cf_tls_key == NULL &&
	    cfg_setstr(p, &cf->cf_tls_key, cf->cf_tls_cert) == -1)
		return;
	if (cf->cf_userdb == USERDB_MYSQL &&
	    cf->cf_userdb_mysql.my_query == NULL) {
		p->p_line = p->p_userdb_line;
		p->p_name = "userdb";
		cfg_error(p, "userdb mysql needs userdb.query");
	}
	if (p->p_password_line > 0 && (mode & 077) != 0)
		cfg_warn(p, p->p_password_line, p->p_password_name,
		    "%s holds a password but is accessible to group or "
		    "others (mode %04o); chmod 600 it", p->p_path, mode);
}

/* The value must be one word; complain about the rest otherwise. */
static int
cfg_single(struct cfparse *p, const char *v)
{
	const char	*s;

	for (s = v; *s != '\0'; s++)
		if (isspace((unsigned char)*s)) {
			while (isspace((unsigned char)*s))
				s++;
			cfg_error(p, "extra value \"%s\"", s);
			return -1;
		}
	return 0;
}

/* A decimal number in min..max. */
static int
cfg_number(struct cfparse *p, const char *v, long long min, long long max,
    long long *out)
{
	const char	*s;
	long long	 n = 0;

	if (!isdigit((unsigned char)*v)) {
		cfg_error(p, "\"%s\" is not a number", v);
		return -1;
	}
	for (s = v; isdigit((unsigned char)*s); s++) {
		if (n > (LLONG_MAX - 9) / 10)
			n = LLONG_MAX;	/* saturate: reported out of range */
		else
			n = n * 10 + (*s - '0');
	}
	if (*s != '\0') {
		cfg_error(p, "\"%s\" is not a number", v);
		return -1;
	}
	if (n < min || n > max) {
		cfg_error(p, "%s is out of range (%lld..%lld)", v, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* Replace a string field (last wins). */
static int
cfg_setstr(struct cfparse *p, char **field, const char *v)
{
	char	*s;

	if ((s = strdup(v)) == NULL) {
		cfg_error(p, "out of memory");
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

/* One value, a decimal number within the directive's range. */
static int
cfg_ranged(struct cfparse *p, const struct cfdir *d, const char *v,
    long long *out)
{
	if (cfg_single(p, v) == -1)
		return -1;
	return cfg_number(p, v, d->cd_min, d->cd_max, out);
}

/* number: an int field within the table's range. */
static int
cfd_number(struct cfparse *p, const struct cfdir *d, char *v)
{
	long long	 n;

	if (cfg_ranged(p, d, v, &n) == -1)
		return -1;
	*FIELD(p, d, int) = (int)n;
	return 0;
}

/* uid, gid: a number (not a name), 0 .. 2^32-2, in a long field. */
static int
cfd_id(struct cfparse *p, const struct cfdir *d, char *v)
{
	long long	 n;

	if (cfg_ranged(p, d, v, &n) == -1)
		return -1;
	*FIELD(p, d, long) = (long)n;
	return 0;
}

/* A duration (s, m, h) in seconds within the table's range. */
static int
cfd_duration(struct cfparse *p, const struct cfdir *d, char *v)
{
	long	 n;

	if (cfg_single(p, v) == -1)
		return -1;
	if (config_parse_duration(v, &n) == -1) {
		cfg_error(p, "\"%s\" is not a duration (seconds, or a number "
		    "followed by s, m or h)", v);
		return -1;
	}
	if (n < d->cd_min || n > d->cd_max) {
		cfg_error(p, "%s is out of range (%llds..%llds)", v, d->cd_min,
		    d->cd_max);
		return -1;
	}
	*FIELD(p, d, int) = (int)n;
	return 0;
}

/* A boolean: 0, 1, no, yes. */
static int
cfd_bool(struct cfparse *p, const struct cfdir *d, char *v)
{
	int	 b;

	if (cfg_single(p, v) == -1)
		return -1;
	if (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0)
		b = 1;
	else if (strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0)
		b = 0;
	else {
		cfg_error(p, "\"%s\" is not a boolean (0, 1, no, yes)", v);
		return -1;
	}
	*FIELD(p, d, int) = b;
	return 0;
}

/* apop: a boolean whose line the apop/crypt warning names. */
static int
cfd_apop(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfd_bool(p, d, v) == -1)
		return -1;
	p->p_apop_line = p->p_line;
	return 0;
}

/* A one-word string. */
static int
cfd_word(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfg_single(p, v) == -1)
		return -1;
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* An absolute path (pidfile, popit, tls.cert, tls.key). */
static int
cfd_path(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfg_single(p, v) == -1)
		return -1;
	if (v[0] != '/') {
		cfg_error(p, "\"%s\" is not an absolute path", v);
		return -1;
	}
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* hostname: letters, digits, '-', '.', '_'; it goes into <...@host>. */
static int
cfd_hostname(struct cfparse *p, const struct cfdir *d, char *v)
{
	const char	*s;

	if (cfg_single(p, v) == -1)
		return -1;
	for (s = v; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("-._", *s) == NULL)
			break;
	if (*s != '\0' || strlen(v) > 253) {
		cfg_error(p, "\"%s\" is not a host name", v);
		return -1;
	}
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* Add a listener to a list; the same address twice is an error. */
static int
cfg_listen(struct cfparse *p, const char *v, struct cfg_addr *list,
    size_t *n, int *lines, const char *defport)
{
	struct config	*cf = p->p_cf;
	struct cfg_addr	 a;
	char		 err[256];
	size_t		 i;

	if (cfg_single(p, v) == -1)
		return -1;
	if (addr_parse(v, defport, &a, err, sizeof(err)) == -1) {
		cfg_error(p, "%s", err);
		return -1;
	}
	for (i = 0; i < cf->cf_nbindto; i++)
		if (addr_same(&a, &cf->cf_bindto[i])) {
			cfg_error(p, "%s: already a listener (bindto, line %d)",
			    v, p->p_bindto_line[i]);
			return -1;
		}
	for (i = 0; i < cf->cf_nbindtls; i++)
		if (addr_same(&a, &cf->cf_bindtls[i])) {
			cfg_error(p, "%s: already a listener (bindtls, "
			    "line %d)", v, p->p_bindtls_line[i]);
			return -1;
		}
	if (*n >= CONFIG_MAXADDRS) {
		cfg_error(p, "more than %d listeners", CONFIG_MAXADDRS);
		return -1;
	}
	lines[*n] = p->p_line;
	list[(*n)++] = a;
	return 0;
}

/* bindto [address][:port], accumulating; port 110 by default. */
static int
cfd_bindto(struct cfparse *p, const struct cfdir *d, char *v)
{
	return cfg_listen(p, v, p->p_cf->cf_bindto, &p->p_cf->cf_nbindto,
	    p->p_bindto_line, d->cd_arg);
}

/* bindtls [address][:port], accumulating; port 995 by default. */
static int
cfd_bindtls(struct cfparse *p, const struct cfdir *d, char *v)
{
	return cfg_listen(p, v, p->p_cf->cf_bindtls, &p->p_cf->cf_nbindtls,
	    p->p_bindtls_line, d->cd_arg);
}

/* A destination address:port; the address is required. */
static int
cfd_dest(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct cfg_addr	 a;
	char		 err[256];

	if (cfg_single(p, v) == -1)
		return -1;
	if (addr_parse(v, d->cd_arg, &a, err, sizeof(err)) == -1) {
		cfg_error(p, "%s", err);
		return -1;
	}
	if (a.ca_any) {
		cfg_error(p, "\"%s\": an address is needed", v);
		return -1;
	}
	*FIELD(p, d, struct cfg_addr) = a;
	return 0;
}

/* logudp.dst address:port, both required; turns logudp on. */
static int
cfd_logudp_dst(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfd_dest(p, d, v) == -1)
		return -1;
	p->p_cf->cf_logudp_set = 1;
	return 0;
}

/* Compile an extended regex into re, replacing an earlier one. */
static int
cfg_regex(struct cfparse *p, regex_t *re, int *set, const char *v, int flags,
    int needgroup)
{
	regex_t	 nre;
	char	 err[256];
	int	 rc;

	/* glibc's regcomp copies repeated subexpressions: bound that. */
	if (regex_cost(v) > REGEX_MAXCOST) {
		cfg_error(p, "regex \"%s\" is too complex (nested, stacked or "
		    "large repetitions) or has a \")\" that opens nothing", v);
		return -1;
	}
	if ((rc = regcomp(&nre, v, flags)) != 0) {
		regerror(rc, &nre, err, sizeof(err));
		cfg_error(p, "bad regex \"%s\": %s", v, err);
		return -1;
	}
	if (needgroup && nre.re_nsub < 1) {
		regfree(&nre);
		cfg_error(p, "regex \"%s\" has no parenthesised group", v);
		return -1;
	}
	if (set != NULL) {
		if (*set)
			regfree(re);
		*set = 1;
	}
	*re = nre;
	return 0;
}

/* folder regexp: the first group names a Maildir++ folder. */
static int
cfd_folder(struct cfparse *p, const struct cfdir *d, char *v)
{
	(void)d;
	return cfg_regex(p, &p->p_cf->cf_folder, &p->p_cf->cf_folder_set, v,
	    REG_EXTENDED, 1);
}

/* useropt regexp: the first group goes to popit after "--". */
static int
cfd_useropt(struct cfparse *p, const struct cfdir *d, char *v)
{
	(void)d;
	return cfg_regex(p, &p->p_cf->cf_useropt, &p->p_cf->cf_useropt_set,
	    v, REG_EXTENDED, 1);
}

/* whoson.allow / whoson.deny regexp: rules kept in file order. */
static int
cfd_whoson(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct config		*cf = p->p_cf;
	struct cfg_whoson_rule	*wr;
	char			*pat;

	if (cf->cf_nwhoson >= CONFIG_MAXRULES) {
		cfg_error(p, "more than %d whoson rules", CONFIG_MAXRULES);
		return -1;
	}
	wr = &cf->cf_whoson[cf->cf_nwhoson];
	if ((pat = strdup(v)) == NULL) {
		cfg_error(p, "out of memory");
		return -1;
	}
	if (cfg_regex(p, &wr->wr_re, NULL, v, REG_EXTENDED | REG_ICASE,
	    0) == -1) {
		free(pat);
		return -1;
	}
	wr->wr_pattern = pat;
	wr->wr_action = (enum whoson_action)d->cd_min;
	cf->cf_nwhoson++;
	return 0;
}

/* trusted CIDR...: one or more per line, accumulating. */
static int
cfd_trusted(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct config	*cf = p->p_cf;
	struct cfg_cidr	 cc;
	char		*tok, *last, err[1024];	/* as much as cfg_error() */
	int		 rc = 0;

	(void)d;
	for (tok = strtok_r(v, " \t", &last); tok != NULL;
	    tok = strtok_r(NULL, " \t", &last)) {
		if (addr_parse_cidr(tok, &cc, err, sizeof(err)) == -1) {
			cfg_error(p, "%s", err);
			rc = -1;
			continue;
		}
		if (cf->cf_ntrusted >= CONFIG_MAXTRUSTED) {
			cfg_error(p, "more than %d trusted blocks",
			    CONFIG_MAXTRUSTED);
			return -1;
		}
		cf->cf_trusted[cf->cf_ntrusted++] = cc;
	}
	return rc;
}

/* userdb system | file PATH | mysql. */
static int
cfd_userdb(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct config	*cf = p->p_cf;
	char		*kind, *arg, *extra, *last;

	(void)d;
	kind = strtok_r(v, " \t", &last);
	arg = strtok_r(NULL, " \t", &last);
	extra = strtok_r(NULL, " \t", &last);
	if (strcmp(kind, "file") == 0) {
		if (arg == NULL) {
			cfg_error(p, "userdb file needs a path");
			return -1;
		}
		if (extra != NULL) {
			cfg_error(p, "extra value \"%s\"", extra);
			return -1;
		}
		if (arg[0] != '/') {
			cfg_error(p, "\"%s\" is not an absolute path", arg);
			return -1;
		}
		if (cfg_setstr(p, &cf->cf_userdb_path, arg) == -1)
			return -1;
		cf->cf_userdb = USERDB_FILE;
	} else if (strcmp(kind, "system") == 0 || strcmp(kind, "mysql") == 0) {
		if (arg != NULL) {
			cfg_error(p, "extra value \"%s\"", arg);
			return -1;
		}
		free(cf->cf_userdb_path);
		cf->cf_userdb_path = NULL;
		cf->cf_userdb = kind[0] == 's' ? USERDB_SYSTEM : USERDB_MYSQL;
	} else {
		cfg_error(p, "unknown kind \"%s\" (system, file PATH, mysql)",
		    kind);
		return -1;
	}
	p->p_userdb_line = p->p_line;
	return 0;
}

/* A MySQL host: name, name:port, [v6addr]:port, or /path/to/socket. */
static int
cfd_dbhost(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct in6_addr	 a6;
	char		 buf[256], *port = NULL, *end;
	const char	*s;
	size_t		 len;
	long long	 n;

	if (cfg_single(p, v) == -1)
		return -1;
	if (v[0] == '/')
		return cfg_setstr(p, FIELD(p, d, char *), v);
	if ((len = strlen(v)) >= sizeof(buf)) {
		cfg_error(p, "host name too long");
		return -1;
	}
	memcpy(buf, v, len + 1);
	if (buf[0] == '[') {
		if ((end = strchr(buf, ']')) == NULL) {
			cfg_error(p, "\"%s\": missing ]", v);
			return -1;
		}
		*end++ = '\0';
		if (inet_pton(AF_INET6, buf + 1, &a6) != 1) {
			cfg_error(p, "\"%s\" is not a numeric IPv6 address", v);
			return -1;
		}
		if (*end == ':')
			port = end + 1;
		else if (*end != '\0') {
			cfg_error(p, "\"%s\": junk after ]", v);
			return -1;
		}
	} else {
		if (strchr(buf, '/') != NULL) {
			cfg_error(p, "\"%s\": a socket path must be absolute",
			    v);
			return -1;
		}
		if ((port = strchr(buf, ':')) != NULL) {
			*port++ = '\0';
			if (strchr(port, ':') != NULL) {
				cfg_error(p, "\"%s\": an IPv6 address must be "
				    "written in brackets, [address]:port", v);
				return -1;
			}
		}
		for (s = buf; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) &&
			    strchr("-._", *s) == NULL)
				break;
		if (buf[0] == '\0' || *s != '\0') {
			cfg_error(p, "\"%s\" is not a host name", v);
			return -1;
		}
	}
	if (port != NULL && cfg_number(p, port, 1, 65535, &n) == -1)
		return -1;
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* A password: the rest of the line; the file should not be readable. */
static int
cfd_password(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfg_setstr(p, FIELD(p, d, char *), v) == -1)
		return -1;
	if (p->p_password_line == 0) {
		p->p_password_line = p->p_line;
		p->p_password_name = d->cd_name;
	}
	return 0;
}

/* A query: the rest of the line, with only the known % escapes. */
static int
cfd_query(struct cfparse *p, const struct cfdir *d, char *v)
{
	const char	*s;

	for (s = v; (s = strchr(s, '%')) != NULL; s += 2) {
		if (s[1] == '%' || (s[1] != '\0' && strchr(d->cd_arg, s[1])))
			continue;
		if (s[1] == '\0')
			cfg_error(p, "lone %% at the end (write %%%% for %%)");
		else
			cfg_error(p, "unknown escape %%%c (write %%%% for %%)",
			    s[1]);
		return -1;
	}
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* popitargs: argv for popit, split on blanks, argv[0] first. */
static int
cfd_popitargs(struct cfparse *p, const struct cfdir *d, char *v)
{
	struct config	*cf = p->p_cf;
	char		*args[CONFIG_MAXARGS + 1], *tok, *last;
	size_t		 n = 0, i;

	(void)d;
	memset(args, 0, sizeof(args));
	for (tok = strtok_r(v, " \t", &last); tok != NULL;
	    tok = strtok_r(NULL, " \t", &last)) {
		if (n >= CONFIG_MAXARGS) {
			cfg_error(p, "more than %d arguments", CONFIG_MAXARGS);
			goto fail;
		}
		if ((args[n++] = strdup(tok)) == NULL) {
			cfg_error(p, "out of memory");
			goto fail;
		}
	}
	for (i = 0; i < cf->cf_npopitargs; i++)
		free(cf->cf_popitargs[i]);
	memcpy(cf->cf_popitargs, args, sizeof(args));
	cf->cf_npopitargs = n;
	return 0;
 fail:
	for (i = 0; i < n; i++)
		free(args[i]);
	return -1;
}

/* maildir NAME: relative to the home directory, never climbing out. */
static int
cfd_maildir(struct cfparse *p, const struct cfdir *d, char *v)
{
	const char	*s, *slash;

	if (cfg_single(p, v) == -1)
		return -1;
	if (v[0] == '/') {
		cfg_error(p, "\"%s\" must be relative to the home directory",
		    v);
		return -1;
	}
	for (s = v; s != NULL; s = slash ? slash + 1 : NULL) {
		slash = strchr(s, '/');
		if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0')) {
			cfg_error(p, "\"%s\" must not contain \"..\"", v);
			return -1;
		}
	}
	return cfg_setstr(p, FIELD(p, d, char *), v);
}

/* home.tag: accepted, but this build has no libhome. */
static int
cfd_hometag(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfd_word(p, d, v) == -1)
		return -1;
	cfg_warn(p, p->p_line, d->cd_name, "popserv was built without "
	    "libhome; home.tag is ignored");
	return 0;
}

/* tls.key PATH: an absolute path to a PEM key; needs tls.cert. */
static int
cfd_tls_key(struct cfparse *p, const struct cfdir *d, char *v)
{
	if (cfd_path(p, d, v) == -1)
		return -1;
	p->p_tls_key_line = p->p_line;
	return 0;
}
