/* collector/store_pg_schema.h - the PostgreSQL migrations embedded at build
 * time from schema/postgres/NNN_*.sql (see CMakeLists.txt). File i holds the
 * migration to schema_version i + 1. Static, read-only data. */
#ifndef ANYCAST_STORE_PG_SCHEMA_H
#define ANYCAST_STORE_PG_SCHEMA_H

#include "collector/store_schema.h"

extern const struct store_schema_file store_pg_schema_files[];
extern const size_t store_pg_schema_n_files;

#endif
