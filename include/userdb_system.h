/* userdb system: the system's accounts, getpwnam_r(3) and the shadow file. */
#ifndef USERDB_SYSTEM_H
#define USERDB_SYSTEM_H

#include "userdb_backend.h"

extern const struct userdb_ops userdb_system_ops;

#endif
