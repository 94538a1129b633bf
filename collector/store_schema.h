/* collector/store_schema.h - the schema migrations embedded at build time
 * from schema/NNN_*.sql (see the end of CMakeLists.txt). File i holds the
 * migration to user_version i + 1. Static, read-only data. */
#ifndef ANYCAST_STORE_SCHEMA_H
#define ANYCAST_STORE_SCHEMA_H

#include <stddef.h>

struct store_schema_file {
	const char *name; /* "001_initial.sql" */
	const char *sql;  /* NUL-terminated file text */
};

extern const struct store_schema_file store_schema_files[];
extern const size_t store_schema_n_files;

#endif
