/*
 * The process-wide state of popserv (state.h): one object, defined here
 * rather than in main's file so that every module may read it without
 * depending on popserv.c.
 */
#include "state.h"

static struct popserv	 popserv_state;
struct popserv		*env = &popserv_state;

/* What keeps the process: see state.h. */
unsigned int
state_left(void)
{
	return env->ps_nsessions + env->ps_nhandoffs + env->ps_nrelays;
}
