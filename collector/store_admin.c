/* collector/store_admin.c - mirroring the inventory into the agents,
 * services and instances tables, online backups and the offline conversion
 * to incremental vacuum. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/store.h"
#include "collector/store_int.h"
#include "collector/store_pg.h"

static int
sync_service(struct store *st, const struct inv_service *s)
{
	sqlite3_stmt *q = NULL;
	json_t *js;
	char *txt;
	int64_t sid;
	int rc;

	if ((rc = store_service_id(st, s->name, &sid)) != 0)
		return rc;
	js = json_object();
	json_object_set_new(js, "port", json_integer(s->port));
	json_object_set_new(js, "interval_ms", json_integer(s->interval_ms));
	json_object_set_new(js, "timeout_ms", json_integer(s->timeout_ms));
	json_t *addrs = json_array();
	for (int i = 0; i < s->n_address; i++)
		json_array_append_new(addrs, json_string(s->address[i]));
	json_object_set_new(js, "address", addrs);
	txt = json_dumps(js, JSON_COMPACT);
	json_decref(js);
	rc = sqlite3_prepare_v2(st->db, "UPDATE services SET protocol = ?2, config = ?3 WHERE id = ?1",
				-1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, sid);
		sqlite3_bind_text(q, 2, s->protocol == INV_PROTO_NTP ? "ntp" : "dns", -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(q, 3, txt, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	q = NULL;
	free(txt);
	if (rc != SQLITE_DONE)
		return -EIO;
	rc = sqlite3_prepare_v2(st->db,
				"INSERT INTO instances (service_id, name, management, identity)"
				" VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET"
				" management = excluded.management, identity = excluded.identity",
				-1, &q, NULL);
	if (rc != SQLITE_OK)
		return -EIO;
	for (int i = 0; i < s->n_instances && rc != -EIO; i++) {
		const struct inv_instance *in = &s->instances[i];
		json_t *m = json_array();

		for (int k = 0; k < in->n_management; k++)
			json_array_append_new(m, json_string(in->management[k]));
		txt = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, sid);
		sqlite3_bind_text(q, 2, in->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, txt, -1, SQLITE_STATIC);
		store_bind_text_or_null(q, 4, in->identity);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = -EIO;
		free(txt);
	}
	sqlite3_finalize(q);
	return rc == -EIO ? -EIO : 0;
}

int
store_sync_inventory(struct store *st, const struct inventory *inv)
{
	sqlite3_stmt *q = NULL;
	int64_t aid;
	int rc;

	if (st->pg != NULL)
		return store_pg_sync_inventory(st->pg, inv);
	for (int i = 0; i < inv->n_services; i++)
		if ((rc = sync_service(st, &inv->services[i])) != 0)
			return rc;
	if (sqlite3_prepare_v2(st->db, "UPDATE agents SET token_sha256 = ?2 WHERE id = ?1", -1, &q,
			       NULL) != SQLITE_OK)
		return -EIO;
	rc = 0;
	for (int i = 0; i < inv->n_agents && rc == 0; i++) {
		if ((rc = store_agent_id(st, inv->agents[i].name, &aid)) != 0)
			break;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, aid);
		sqlite3_bind_text(q, 2, inv->agents[i].token_sha256, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = -EIO;
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_backup(const char *src, const char *dst, char *err, size_t errlen)
{
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *b;
	int rc;

	rc = sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", src, from ? sqlite3_errmsg(from) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(from, 5000);
	if (store_create_private(dst) < 0) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		rc = SQLITE_CANTOPEN;
		goto out;
	}
	rc = sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", dst, to ? sqlite3_errmsg(to) : sqlite3_errstr(rc));
		goto out;
	}
	if ((b = sqlite3_backup_init(to, "main", from, "main")) == NULL) {
		snprintf(err, errlen, "%s: %s", dst, sqlite3_errmsg(to));
		rc = SQLITE_ERROR;
		goto out;
	}
	/* Copy in steps so a busy writer is not locked out for the whole copy. */
	do {
		rc = sqlite3_backup_step(b, 1024);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(50);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		snprintf(err, errlen, "backup: %s", sqlite3_errstr(rc));
	else
		rc = SQLITE_OK;
out:
	sqlite3_close(from);
	sqlite3_close(to);
	return rc == SQLITE_OK ? 0 : (store_rc_errno(rc) ? store_rc_errno(rc) : -EIO);
}

static int
admin_exec(sqlite3 *db, const char *sql, const char *path, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_BUSY)
			snprintf(err, errlen, "%s: in use by another process (stop the collector first)",
				 path);
		else
			snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errstr(rc));
	}
	sqlite3_free(msg);
	return rc;
}

static int
auto_vacuum_of(sqlite3 *db)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA auto_vacuum", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

int
store_convert_incremental(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, 0);
	/* Exclusive locking mode: in WAL mode every open connection holds a
	 * shared lock, so a running collector makes this fail at once instead
	 * of being locked out of its database for the whole VACUUM. */
	if ((rc = admin_exec(db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", path,
			     err, errlen)) != SQLITE_OK)
		goto out;
	if (auto_vacuum_of(db) == 2)
		goto out; /* already incremental */
	if ((rc = admin_exec(db, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", path, err, errlen)) !=
	    SQLITE_OK)
		goto out;
	if (auto_vacuum_of(db) != 2) {
		snprintf(err, errlen, "%s: auto_vacuum did not change", path);
		rc = SQLITE_ERROR;
	}
out:
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : (store_rc_errno(rc) ? store_rc_errno(rc) : -EIO);
}
