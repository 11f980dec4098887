/* The process-wide state of popserv, shared by its modules. */
#ifndef STATE_H
#define STATE_H

#include <stdint.h>
#include <sys/time.h>

struct event_base;
struct config;
struct userdb;
struct addrtab;
struct penalty;

/* Counters logged on SIGUSR1. */
struct popserv_stats {
	uint64_t	 st_accepted;
	uint64_t	 st_logins_ok;
	uint64_t	 st_logins_failed;
	uint64_t	 st_tempfails;
	uint64_t	 st_rejected_sameaddr;
	uint64_t	 st_timeouts;
	uint64_t	 st_spawned;
	uint64_t	 st_spawn_failed;
	uint64_t	 st_tls;		/* handshakes done */
	uint64_t	 st_tls_failed;
	uint64_t	 st_relayed;		/* TLS logins relayed */
	uint64_t	 st_ktls;		/* TLS logins with kernel TLS */
	uint64_t	 st_proxied;		/* PROXY headers taken */
};

struct popserv {
	struct event_base	*ps_base;
	struct config		*ps_conf;	/* in force */
	struct userdb		*ps_userdb;
	struct addrtab		*ps_addrs;	/* sessions + running popits */
	struct penalty		*ps_penalty;	/* recent failures, failpenalty */
	const struct timeval	*ps_idle_tv;	/* timelimit, common timeout */
	unsigned int		 ps_nsessions;	/* AUTHORIZATION sessions */
	unsigned int		 ps_nchildren;	/* running popits */
	unsigned int		 ps_nhandoffs;	/* popits being started */
	unsigned int		 ps_nrelays;	/* TLS relays (relay.c) */
	int			 ps_logpipe;	/* popit's stderr, write end */
	struct popserv_stats	 ps_stats;
	/*
	 * The one call that goes up (listener_collect, set by the listener):
	 * made when something that kept the process ends, by the modules
	 * the listener reaches (the handoff, the relay).
	 */
	void			(*ps_collect)(void);
};

extern struct popserv	*env;

/*
 * What keeps the process: sessions, logins on their way to popit (each
 * bounded by spawntimeout), and TLS relays to running popits.
 */
unsigned int	state_left(void);

#endif
