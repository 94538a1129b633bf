/* common/inventory_yaml_sections.c - the inventory's agents (with token files),
 * alert routes and thresholds sections. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/inventory_check.h"
#include "common/inventory_yaml.h"

#define TOKEN_FILE_MAX 4096

/* ---- agents ---- */

/* Relative token files are relative to the inventory file's directory. */
static int token_file_hash(struct inventory_yaml_ctx *c, const yaml_node_t *n, const char *path,
                           char out[65])
{
	char file[512], full[1024], buf[TOKEN_FILE_MAX + 1], ebuf[128];
	const char *slash = strrchr(c->fname, '/');
	FILE *f;
	size_t len;

	if (inventory_yaml_scalar(c, n, path, file, sizeof(file)) < 0)
		return -1;
	if (file[0] == '\0')
		return inventory_yaml_bad(c, n, path, "empty path");
	if (file[0] != '/' && slash != NULL)
		snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - c->fname), c->fname, file);
	else
		snprintf(full, sizeof(full), "%s", file);
	/* O_NONBLOCK and the S_ISREG check: a FIFO or device must not hang start-up */
	int fd = open(full, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return inventory_yaml_bad(c, n, path, "cannot read \"%s\": %s", full,
		                          strerror_r(errno, ebuf, sizeof(ebuf)));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return inventory_yaml_bad(c, n, path, "\"%s\" is not a regular file", full);
	}
	f = fdopen(fd, "rb");
	if (f == NULL) {
		close(fd);
		return inventory_yaml_bad(c, n, path, "cannot read \"%s\": %s", full,
		                          strerror_r(errno, ebuf, sizeof(ebuf)));
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (len > TOKEN_FILE_MAX)
		return inventory_yaml_bad(c, n, path, "\"%s\" too large for a token", full);
	buf[len] = '\0';
	if (strspn(buf, " \t\r\n") == len)
		return inventory_yaml_bad(c, n, path, "\"%s\" holds no token", full);
	inventory_token_hash(buf, len, out);
	return 0;
}

static int agent_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                      const char *path, void *arg)
{
	struct inv_agent *a = arg;

	if (strcmp(key, "name") == 0)
		return inventory_yaml_name(c, v, path, a->name);
	if (strcmp(key, "token_sha256") == 0 || strcmp(key, "token_file") == 0) {
		if (a->token_sha256[0])
			return inventory_yaml_bad(c, v, path,
			                          "give token_sha256 or token_file, not both");
		if (key[6] == 'f')
			return token_file_hash(c, v, path, a->token_sha256);
		return inventory_yaml_sha256(c, v, path, a->token_sha256);
	}
	if (strcmp(key, "home") == 0)
		return inventory_yaml_name(c, v, path, a->home);
	if (strcmp(key, "guard") == 0)
		return inventory_yaml_name(c, v, path, a->guard);
	if (strcmp(key, "atlas") == 0) {
		char b[8];

		if (inventory_yaml_scalar(c, v, path, b, sizeof(b)) < 0)
			return -1;
		if (strcmp(b, "true") != 0 && strcmp(b, "false") != 0)
			return inventory_yaml_bad(c, v, path, "must be true or false");
		a->atlas = b[0] == 't';
		return 0;
	}
	return 1;
}

int inventory_yaml_agents(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path)
{
	struct inventory *inv = c->inv;
	char sub[INV_PATH_MAX];
	const struct inv_agent *dup;

	void *list;
	int count =
	    inventory_yaml_list(c, n, path, INV_MAX_AGENTS, "agents", sizeof(*inv->agents), &list);

	if (count < 0)
		return -1;
	inv->agents = list;
	/* The duplicate checks are lookups in the indexes the collector then
	 * uses: 100,000 agents load as fast as 100, per agent. */
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		struct inv_agent *a = &inv->agents[i];
		inventory_path(sub, sizeof(sub), "%s[%d]", path, i);
		inv->n_agents = i + 1;
		if (item == NULL || inventory_yaml_each_pair(c, item, sub, agent_pair, a) < 0)
			return -1;
		if (a->name[0] == '\0')
			return inventory_yaml_bad(c, item, sub, "missing name");
		if (a->token_sha256[0] == '\0')
			return inventory_yaml_bad(c, item, sub,
			                          "missing token_sha256 or token_file");
		if (hashmap_get(&inv->agent_by_name, a->name) != NULL)
			return inventory_yaml_bad(c, item, sub, "duplicate agent name \"%s\"",
			                          a->name);
		if ((dup = hashmap_get(&inv->agent_by_token, a->token_sha256)) != NULL)
			return inventory_yaml_bad(c, item, sub, "same token as agent %s",
			                          dup->name);
		if (hashmap_put(&inv->agent_by_name, a->name, a) < 0 ||
		    hashmap_put(&inv->agent_by_token, a->token_sha256, a) < 0)
			return inventory_yaml_bad(c, item, sub, "out of memory");
	}
	return 0;
}

/* ---- alerts ---- */

static int alert_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                      const char *path, void *arg)
{
	struct inv_alert *a = arg;
	const char *why;

	if (strcmp(key, "name") == 0)
		return inventory_yaml_name(c, v, path, a->name);
	if (strcmp(key, "type") == 0) {
		static const char *const types[] = {"webhook", "slack", "alertmanager", "email"};
		char t[16];
		if (inventory_yaml_scalar(c, v, path, t, sizeof(t)) == 0)
			for (int i = 0; i < 4; i++)
				if (strcmp(t, types[i]) == 0) {
					a->type = (enum inv_alert_type)i;
					return 0;
				}
		return inventory_yaml_bad(c, v, path,
		                          "expected webhook, slack, alertmanager or email");
	}
	if (strcmp(key, "url") == 0)
		return inventory_yaml_scalar(c, v, path, a->url, sizeof(a->url));
	if (strcmp(key, "mail_from") == 0)
		return inventory_yaml_scalar(c, v, path, a->mail_from, sizeof(a->mail_from));
	if (strcmp(key, "mail_to") == 0)
		return inventory_yaml_scalar(c, v, path, a->mail_to, sizeof(a->mail_to));
	if (strcmp(key, "events") == 0) {
		if (inventory_yaml_string_list(c, v, path, INV_MAX_EVENTS, a->events[0],
		                               sizeof(a->events[0]), &a->n_events) < 0)
			return -1;
		for (int i = 0; i < a->n_events; i++)
			if ((why = inventory_check_event(a->events[i])) != NULL)
				return inventory_yaml_bad(c, v, path, "\"%s\": %s", a->events[i],
				                          why);
		return 0;
	}
	if (strcmp(key, "kinds") == 0) {
		if (inventory_yaml_string_list(c, v, path, INV_MAX_EVENTS, a->kinds[0],
		                               sizeof(a->kinds[0]), &a->n_kinds) < 0)
			return -1;
		for (int i = 0; i < a->n_kinds; i++)
			if ((why = inventory_check_kind(a->kinds[i])) != NULL)
				return inventory_yaml_bad(c, v, path, "\"%s\": %s", a->kinds[i],
				                          why);
		return 0;
	}
	if (strcmp(key, "severity") == 0) {
		static const char *const sev[] = {"info", "warning", "critical"};
		char t[16];
		if (inventory_yaml_scalar(c, v, path, t, sizeof(t)) == 0)
			for (int i = 0; i < 3; i++)
				if (strcmp(t, sev[i]) == 0) {
					a->min_severity = i;
					return 0;
				}
		return inventory_yaml_bad(c, v, path, "expected info, warning or critical");
	}
	if (strcmp(key, "services") == 0) {
		if (inventory_yaml_string_list(c, v, path, INV_MAX_EVENTS, a->services[0],
		                               sizeof(a->services[0]), &a->n_services) < 0)
			return -1;
		for (int i = 0; i < a->n_services; i++)
			if (inventory_find_service(c->inv, a->services[i]) == NULL)
				return inventory_yaml_bad(c, v, path, "no service named \"%s\"",
				                          a->services[i]);
		return 0;
	}
	return 1;
}

static int has_control_byte(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int alert_check(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path,
                       const struct inv_alert *a)
{
	const char *want = a->type == INV_ALERT_EMAIL ? "smtp" : "http";

	if (a->name[0] == '\0')
		return inventory_yaml_bad(c, n, path, "missing name");
	if (a->url[0] == '\0')
		return inventory_yaml_bad(c, n, path, "missing url");
	if (strncmp(a->url, want, 4) != 0 ||
	    (strncmp(a->url + 4, "://", 3) != 0 && strncmp(a->url + 4, "s://", 4) != 0))
		return inventory_yaml_bad(c, n, path, "url must start with %s:// or %ss://", want,
		                          want);
	if (a->type == INV_ALERT_EMAIL && a->mail_to[0] == '\0')
		return inventory_yaml_bad(c, n, path, "email alerts need mail_to");
	/* These go into SMTP commands and HTTP request lines as they are: a
	 * CR or LF there would start a command or header of its own. */
	const struct {
		const char *key, *v;
	} raw[] = {{"url", a->url}, {"mail_from", a->mail_from}, {"mail_to", a->mail_to}};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
		if (has_control_byte(raw[i].v))
			return inventory_yaml_bad(
			    c, n, path, "%s: control characters (CR, LF...) are not allowed",
			    raw[i].key);
	return 0;
}

int inventory_yaml_alerts(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path)
{
	struct inventory *inv = c->inv;
	char sub[INV_PATH_MAX];

	void *list;
	int count =
	    inventory_yaml_list(c, n, path, INV_MAX_ALERTS, "alerts", sizeof(*inv->alerts), &list);

	if (count < 0)
		return -1;
	inv->alerts = list;
	for (int i = 0; i < count; i++) {
		yaml_node_t *item = inventory_yaml_node(c, n->data.sequence.items.start[i]);
		struct inv_alert *a = &inv->alerts[i];
		inventory_path(sub, sizeof(sub), "%s[%d]", path, i);
		inv->n_alerts = i + 1;
		a->type = INV_ALERT_WEBHOOK;
		if (item == NULL || inventory_yaml_each_pair(c, item, sub, alert_pair, a) < 0 ||
		    alert_check(c, item, sub, a) < 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(inv->alerts[j].name, a->name) == 0)
				return inventory_yaml_bad(c, item, sub,
				                          "duplicate alert name \"%s\"", a->name);
	}
	return 0;
}

/* ---- thresholds ---- */

static int threshold_pair(struct inventory_yaml_ctx *c, const char *key, yaml_node_t *v,
                          const char *path, void *arg)
{
	struct inv_thresholds *t = arg;
	static const struct {
		const char *key;
		size_t off;
		char kind; /* i: count >= 1, d: duration > 0, f: number >= 0 */
	} fields[] = {
	    {"hysteresis", offsetof(struct inv_thresholds, hysteresis), 'i'},
	    {"outage_rounds", offsetof(struct inv_thresholds, outage_rounds), 'i'},
	    {"instance_down_agents", offsetof(struct inv_thresholds, instance_down_agents), 'i'},
	    {"instance_down_rounds", offsetof(struct inv_thresholds, instance_down_rounds), 'i'},
	    {"flap_changes", offsetof(struct inv_thresholds, flap_changes), 'i'},
	    {"flap_window", offsetof(struct inv_thresholds, flap_window_ms), 'd'},
	    {"flap_stable", offsetof(struct inv_thresholds, flap_stable_ms), 'd'},
	    {"split_window", offsetof(struct inv_thresholds, split_window_ms), 'd'},
	    {"split_min_switches", offsetof(struct inv_thresholds, split_min_switches), 'i'},
	    {"suboptimal_ms", offsetof(struct inv_thresholds, suboptimal_ms), 'f'},
	    {"suboptimal_pct", offsetof(struct inv_thresholds, suboptimal_pct), 'f'},
	    {"suboptimal_for", offsetof(struct inv_thresholds, suboptimal_for_ms), 'd'},
	    {"incident_hold", offsetof(struct inv_thresholds, incident_hold_ms), 'd'},
	    {"agent_silent_intervals", offsetof(struct inv_thresholds, agent_silent_intervals),
	     'i'},
	    {"serial_lag", offsetof(struct inv_thresholds, serial_lag_ms), 'd'},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(key, fields[i].key) != 0)
			continue;
		void *p = (char *)t + fields[i].off;
		if (fields[i].kind == 'i')
			return inventory_yaml_integer(c, v, path, 1, 1000000, p);
		if (fields[i].kind == 'd')
			return inventory_yaml_duration(c, v, path, 1, p);
		return inventory_yaml_number(c, v, path, 0, p);
	}
	return 1;
}

int inventory_yaml_thresholds(struct inventory_yaml_ctx *c, yaml_node_t *n, const char *path)
{
	return inventory_yaml_each_pair(c, n, path, threshold_pair, &c->inv->thresholds);
}
