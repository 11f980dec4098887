/* The configuration file (SPEC §2): parse, validate, and free one load. */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "config.h"

#define CONFIG_DEFPORT_POP3	"110"
#define CONFIG_DEFPORT_POP3S	"995"
#define CONFIG_DEFPORT_WHOSON	"9876"

static int	 cfg_parse_port(const char *, in_port_t *, char *, size_t);
static int	 cfg_parse_host(const char *, int, struct sockaddr_storage *,
		    socklen_t *, char *, size_t);
static void	 cfg_mysql_free(struct cfg_mysql *);
static int	 cfg_cidr_match(const struct cfg_cidr *, int,
		    const unsigned char *);

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
		snprintf(where, sizeof(where), "%s:%d", file ? file : "-", line);
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

/* The built-in defaults (SPEC §2), as if read from an empty file. */
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
	cf->cf_maxfails = 3;
	cf->cf_failpenalty = 1;
	cf->cf_popit = strdup(POPSERV_POPIT_PATH);
	cf->cf_maildir = strdup("Maildir");
	cf->cf_logudp_ttl = 1;
	cf->cf_plaintext = 1;
	if (config_parse_addr("127.0.0.1", CONFIG_DEFPORT_WHOSON,
	    &cf->cf_whoson_server, err, sizeof(err)) == -1 ||
	    cf->cf_hostname == NULL || cf->cf_popit == NULL ||
	    cf->cf_maildir == NULL) {
		config_free(cf);
		return NULL;
	}
	return cf;
}

/* Free the strings of one MySQL settings block. */
static void
cfg_mysql_free(struct cfg_mysql *my)
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
	cfg_mysql_free(&cf->cf_userdb_mysql);
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
	cfg_mysql_free(&cf->cf_loginfo);
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

/* A port: a number 1..65535 or an /etc/services name; network order out. */
static int
cfg_parse_port(const char *s, in_port_t *port, char *err, size_t errsz)
{
	struct servent	*se;
	const char	*p;
	unsigned long	 v = 0;

	if (*s == '\0') {
		snprintf(err, errsz, "empty port");
		return -1;
	}
	if (isdigit((unsigned char)*s)) {
		for (p = s; isdigit((unsigned char)*p); p++) {
			v = v * 10 + (unsigned long)(*p - '0');
			if (v > 65535)
				break;
		}
		if (*p == '\0' && v >= 1 && v <= 65535) {
			*port = htons((in_port_t)v);
			return 0;
		}
		if (*p == '\0' || isdigit((unsigned char)*p)) {
			snprintf(err, errsz, "port %s out of range (1..65535)",
			    s);
			return -1;
		}
	}
	if ((se = getservbyname(s, "tcp")) == NULL &&
	    (se = getservbyname(s, "udp")) == NULL) {
		snprintf(err, errsz, "unknown port or service \"%s\"", s);
		return -1;
	}
	*port = (in_port_t)se->s_port;
	return 0;
}

/* A numeric address of family af (v6 may carry a %scope); port left 0. */
static int
cfg_parse_host(const char *s, int af, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errsz)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char			*scope;
	unsigned int		 idx = 0;

	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		if (inet_pton(AF_INET, s, &sin->sin_addr) != 1) {
			snprintf(err, errsz, "\"%s\" is not a numeric IPv4 "
			    "address", s);
			return -1;
		}
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errsz, "\"%s\" is not a numeric IPv6 address", s);
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	if ((scope = strchr(buf, '%')) != NULL) {
		*scope++ = '\0';
		if (*scope == '\0' || (idx = if_nametoindex(scope)) == 0) {
			char	*end;
			unsigned long	 v;

			errno = 0;
			v = strtoul(scope, &end, 10);
			if (*scope == '\0' || !isdigit((unsigned char)*scope) ||
			    *end != '\0' || errno != 0 || v > UINT_MAX) {
				snprintf(err, errsz, "unknown scope \"%s\" "
				    "in \"%s\"", scope, s);
				return -1;
			}
			idx = (unsigned int)v;
		}
	}
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1) {
		snprintf(err, errsz, "\"%s\" is not a numeric IPv6 address", s);
		return -1;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_scope_id = idx;
	*len = sizeof(*sin6);
	return 0;
}

/* Parse "[address][:port]": numeric v4, [v6], or empty for all addresses. */
int
config_parse_addr(const char *s, const char *defport, struct cfg_addr *ca,
    char *err, size_t errsz)
{
	struct cfg_addr		 a;
	char			 host[256];
	const char		*port = NULL, *p;
	size_t			 hlen;
	in_port_t		 pn;
	int			 af;

	memset(&a, 0, sizeof(a));
	if (s == NULL)
		s = "";
	if (strlen(s) >= sizeof(a.ca_text)) {
		snprintf(err, errsz, "address too long");
		return -1;
	}
	memcpy(a.ca_text, s, strlen(s) + 1);
	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL) {
			snprintf(err, errsz, "\"%s\": missing ]", s);
			return -1;
		}
		hlen = (size_t)(p - s - 1);
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(err, errsz, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		af = AF_INET6;
		p++;
		if (*p == ':')
			port = p + 1;
		else if (*p != '\0') {
			snprintf(err, errsz, "\"%s\": junk after ]", s);
			return -1;
		}
	} else {
		if ((p = strchr(s, ':')) != NULL && strchr(p + 1, ':') != NULL) {
			snprintf(err, errsz, "\"%s\": an IPv6 address must be "
			    "written in brackets, [address]:port", s);
			return -1;
		}
		hlen = p ? (size_t)(p - s) : strlen(s);
		if (hlen >= sizeof(host)) {
			snprintf(err, errsz, "address too long");
			return -1;
		}
		memcpy(host, s, hlen);
		host[hlen] = '\0';
		af = AF_INET;
		if (p != NULL)
			port = p + 1;
	}
	if (port == NULL) {
		if (defport == NULL) {
			snprintf(err, errsz, "\"%s\": a port is needed", s);
			return -1;
		}
		port = defport;
	}
	if (cfg_parse_port(port, &pn, err, errsz) == -1)
		return -1;
	if (host[0] == '\0') {
		struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a.ca_ss;

		/* All addresses: [::], which takes IPv4 too unless V6ONLY. */
		a.ca_any = 1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = pn;
		a.ca_len = sizeof(*sin6);
	} else {
		if (cfg_parse_host(host, af, &a.ca_ss, &a.ca_len, err,
		    errsz) == -1)
			return -1;
		if (af == AF_INET)
			((struct sockaddr_in *)&a.ca_ss)->sin_port = pn;
		else
			((struct sockaddr_in6 *)&a.ca_ss)->sin6_port = pn;
	}
	*ca = a;
	return 0;
}

/* Replace every bindto with the -b argument. */
int
config_override_bind(struct config *cf, const char *arg, char *err,
    size_t errsz)
{
	struct cfg_addr	 a;

	if (config_parse_addr(arg, CONFIG_DEFPORT_POP3, &a, err, errsz) == -1)
		return -1;
	cf->cf_bindto[0] = a;
	cf->cf_nbindto = 1;
	return 0;
}

/* Does the address (af, bytes) fall inside the CIDR block? */
static int
cfg_cidr_match(const struct cfg_cidr *cc, int af, const unsigned char *addr)
{
	int		 bits, i;
	unsigned char	 mask;

	if (cc->cc_family != af)
		return 0;
	bits = cc->cc_prefix;
	for (i = 0; bits > 0; i++, bits -= 8) {
		mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
		if ((addr[i] & mask) != (cc->cc_addr[i] & mask))
			return 0;
	}
	return 1;
}

/* Is the peer in a trusted CIDR? IPv4-mapped IPv6 is matched as IPv4. */
int
config_is_trusted(const struct config *cf, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*addr;
	size_t				 i;
	int				 af;

	if (cf == NULL || sa == NULL)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		addr = (const unsigned char *)&sin->sin_addr;
		af = AF_INET;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		addr = (const unsigned char *)&sin6->sin6_addr;
		af = AF_INET6;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			addr += 12;
			af = AF_INET;
		}
		break;
	default:
		return 0;
	}
	for (i = 0; i < cf->cf_ntrusted; i++)
		if (cfg_cidr_match(&cf->cf_trusted[i], af, addr))
			return 1;
	return 0;
}

/* Not written yet: every load fails, saying so. */
struct config *
config_load(const char *path, struct config_msgs *msgs)
{
	config_msg_add(msgs, 1, path, 0, NULL,
	    "configuration parser not implemented yet");
	return NULL;
}
