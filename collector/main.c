/* collector/main.c - anycast-collector: flags, the daemon, and the
 * "backup", "vacuum" and "status" subcommands. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/timefmt.h"
#include "collector/atlas_cli.h"
#include "collector/collector.h"
#include "collector/status_cli.h"
#include "collector/store.h"
#include "collector/store_check.h"

#define PROG "anycast-collector"

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " --config FILE [options]\n"
		"       " PROG " --config FILE --check-config\n"
		"       " PROG " [--config FILE | --db FILE] --check-db\n"
		"       " PROG " backup --db FILE OUT\n"
		"       " PROG " vacuum --db FILE\n"
		"       " PROG " atlas import --url URL --token-file FILE [--verbose] FILE...\n"
		"       " PROG " atlas import --config FILE [--db FILE] [--verbose] FILE...\n"
		"       " PROG " status [--url URL] [--json] [--token-file F] [--events N]\n"
		"\n"
		"options:\n"
		"  --config FILE      inventory (YAML): services, instances, agents, alerts\n"
		"  --listen ADDR:PORT listen address (default: the inventory's listen:, else "
		COLLECTOR_DEFAULT_LISTEN ")\n"
		"  --db FILE          SQLite database (default: the inventory's db:, else "
		COLLECTOR_DEFAULT_DB " in the working directory)\n"
		"  --web-dir DIR      dashboard files served at / (default: ../share/anycast/web\n"
		"                     beside the binary, else " ANYCAST_SOURCE_DIR "/web)\n"
		"  --tls-cert FILE    serve HTTPS with this certificate (PEM) ...\n"
		"  --tls-key FILE     ... and key\n"
		"  --external-url URL base of links in alerts (default http://LISTEN/)\n"
		"  --alertmanager-resend DURATION  re-send firing alerts to Alertmanager (60s)\n"
		"  --sync full|normal durability of commits (default full: fsync per commit)\n"
		"  --max-body BYTES   largest request body accepted (default 16 MiB)\n"
		"  --rate N           requests per second per client IP (default unlimited)\n"
		"  --max-conns-per-source N\n"
		"                     connections held at once per IPv4 address or IPv6 /64\n"
		"                     (default 64, 0: no per-source cap; the server-wide cap is 1024)\n"
		"  --check-config     validate the inventory and exit 0 (valid) or 1\n"
		"  --check-db         check the database (PRAGMA quick_check, read-only) and exit\n"
		"                     0 (intact) or 1 (damaged, findings printed; or unreadable)\n"
		"  --user NAME        when started as root: run as NAME once the port is bound\n"
		"                     and the database open (the inventory must be readable by NAME)\n"
		"  --syslog           log to syslog instead of stderr\n"
		"  -v, --verbose      debug logging\n"
		"  --version          print the version and exit\n"
		"  --help             this text\n");
}

static int
backup_main(int argc, char **argv)
{
	const char *db = NULL, *out = NULL;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strncmp(argv[i], "--db=", 5) == 0)
			db = argv[i] + 5;
		else if (argv[i][0] != '-' && out == NULL)
			out = argv[i];
		else {
			fprintf(stderr, PROG " backup: unexpected argument %s\n", argv[i]);
			return 2;
		}
	}
	if (db == NULL || out == NULL) {
		fprintf(stderr, PROG " backup: usage: " PROG " backup --db FILE OUT\n");
		return 2;
	}
	if (access(out, F_OK) == 0) {
		fprintf(stderr, PROG " backup: %s already exists\n", out);
		return 1;
	}
	if (access(db, R_OK) != 0) {
		fprintf(stderr, PROG " backup: %s: %s\n", db, strerror(errno));
		return 1;
	}
	if (store_backup(db, out, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG " backup: %s\n", err);
		return 1;
	}
	fprintf(stderr, PROG " backup: %s -> %s done\n", db, out);
	return 0;
}

/* anycast-collector vacuum --db FILE: switch an SQLite database made before
 * incremental vacuum to it (offline: the collector must be stopped). */
static int
vacuum_main(int argc, char **argv)
{
	const char *db = NULL;
	char err[512];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
			db = argv[++i];
		else if (strncmp(argv[i], "--db=", 5) == 0)
			db = argv[i] + 5;
		else {
			fprintf(stderr, PROG " vacuum: unexpected argument %s\n", argv[i]);
			return 2;
		}
	}
	if (db == NULL) {
		fprintf(stderr, PROG " vacuum: usage: " PROG " vacuum --db FILE\n");
		return 2;
	}
	if (store_is_postgres(db)) {
		fprintf(stderr, PROG " vacuum: SQLite files only (PostgreSQL drops partitions)\n");
		return 2;
	}
	if (access(db, R_OK | W_OK) != 0) {
		fprintf(stderr, PROG " vacuum: %s: %s\n", db, strerror(errno));
		return 1;
	}
	if (store_convert_incremental(db, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG " vacuum: %s\n", err);
		return 1;
	}
	fprintf(stderr, PROG " vacuum: %s: auto_vacuum = incremental\n", db);
	return 0;
}

static int
check_config(const char *path)
{
	char err[512];
	struct inventory *inv = inventory_load(path, err, sizeof(err));

	if (inv == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	printf("%s: ok (%d services, %d agents, %d alert routes)\n", path, inv->n_services,
	       inv->n_agents, inv->n_alerts);
	inventory_free(inv);
	return 0;
}

static void
print_finding(void *arg, const char *text)
{
	const char *db = arg;

	/* One line per finding, whatever SQLite put in it. */
	printf("%s: ", db);
	for (; *text != '\0'; text++)
		putchar(*text == '\n' ? ' ' : *text);
	putchar('\n');
}

static int
check_database(const char *db, const char *config)
{
	struct inventory *inv = NULL;
	char err[512];
	int64_t t0;
	int rc;

	if (db == NULL) {
		if ((inv = inventory_load(config, err, sizeof(err))) == NULL) {
			fprintf(stderr, PROG ": %s\n", err);
			return 1;
		}
		db = inv->db[0] != '\0' ? inv->db : COLLECTOR_DEFAULT_DB;
	}
	t0 = time_mono_ns();
	rc = store_quick_check(db, 100, print_finding, (void *)db, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, PROG ": %s: cannot check: %s\n", db, err);
	else if (rc == 0)
		printf("%s: ok (quick_check, %.2f s)\n", db, (double)(time_mono_ns() - t0) / 1e9);
	else
		fprintf(stderr, PROG ": %s: damaged (quick_check, %.2f s): restore a backup, or"
				" try sqlite3's .recover on a copy\n",
			db, (double)(time_mono_ns() - t0) / 1e9);
	inventory_free(inv);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_DB, OPT_WEB, OPT_CERT, OPT_KEY, OPT_SYNC, OPT_BODY, OPT_RATE, OPT_SOURCE, OPT_CHECK, OPT_CHECK_DB,
	       OPT_SYSLOG, OPT_VERSION, OPT_HELP, OPT_CONFIG, OPT_USER, OPT_EXTERNAL, OPT_RESEND };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "db", required_argument, NULL, OPT_DB },
		{ "web-dir", required_argument, NULL, OPT_WEB },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY },
		{ "sync", required_argument, NULL, OPT_SYNC },
		{ "max-body", required_argument, NULL, OPT_BODY },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "max-conns-per-source", required_argument, NULL, OPT_SOURCE },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "check-db", no_argument, NULL, OPT_CHECK_DB },
		{ "user", required_argument, NULL, OPT_USER },
		{ "external-url", required_argument, NULL, OPT_EXTERNAL },
		{ "alertmanager-resend", required_argument, NULL, OPT_RESEND },
		{ "syslog", no_argument, NULL, OPT_SYSLOG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct collector_options o = { .sync = STORE_SYNC_FULL };
	struct collector c;
	int ch, verbose = 0, use_syslog = 0, check = 0, check_db = 0;
	struct store_watch watch;
	const char *user = NULL;
	char err[1024], *end;
	long n;

	if (argc > 1 && strcmp(argv[1], "status") == 0)
		return status_cli_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "atlas") == 0)
		return atlas_cli_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "backup") == 0)
		return backup_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "vacuum") == 0)
		return vacuum_main(argc - 1, argv + 1);

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":v", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG: o.config_path = optarg; break;
		case OPT_LISTEN: o.listen = optarg; break;
		case OPT_DB: o.db = optarg; break;
		case OPT_WEB: o.web_dir = optarg; break;
		case OPT_CERT: o.tls_cert = optarg; break;
		case OPT_KEY: o.tls_key = optarg; break;
		case OPT_EXTERNAL: o.external_url = optarg; break;
		case OPT_RESEND:
			if (duration_parse_ms(optarg, &o.alert_resend_ms) != 0 ||
			    o.alert_resend_ms < 1000) {
				fprintf(stderr, PROG ": --alertmanager-resend: expected a duration"
						     " of at least 1s (see --help)\n");
				return 2;
			}
			break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") == 0)
				o.sync = STORE_SYNC_FULL;
			else if (strcmp(optarg, "normal") == 0)
				o.sync = STORE_SYNC_NORMAL;
			else {
				fprintf(stderr, PROG ": --sync: expected full or normal, got %s\n",
					optarg);
				return 2;
			}
			break;
		case OPT_BODY:
			errno = 0;
			o.max_body_bytes = strtoull(optarg, &end, 10);
			if (errno || *end || o.max_body_bytes < 1024) {
				fprintf(stderr, PROG ": --max-body: expected a byte count >= 1024\n");
				return 2;
			}
			break;
		case OPT_RATE:
			o.rate_per_client = strtod(optarg, &end);
			if (*end || o.rate_per_client < 0) {
				fprintf(stderr, PROG ": --rate: expected requests per second\n");
				return 2;
			}
			break;
		case OPT_SOURCE:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 0 || n > 1000000) {
				fprintf(stderr, PROG ": --max-conns-per-source: expected a count"
						     " (0: no per-source cap)\n");
				return 2;
			}
			o.max_conns_per_source = n == 0 ? -1 : (int)n;
			break;
		case OPT_CHECK: check = 1; break;
		case OPT_CHECK_DB: check_db = 1; break;
		case OPT_USER: user = optarg; break;
		case OPT_SYSLOG: use_syslog = 1; break;
		case 'v': verbose = 1; break;
		case OPT_VERSION: printf(PROG " " ANYCAST_VERSION "\n"); return 0;
		case OPT_HELP: usage(stdout); return 0;
		case ':':
			fprintf(stderr, PROG ": %s needs a value (see --help)\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, PROG ": unknown option %s (see --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument %s (see --help)\n", argv[optind]);
		return 2;
	}
	if (check_db && (o.db != NULL || o.config_path != NULL))
		return check_database(o.db, o.config_path);
	if (o.config_path == NULL) {
		fprintf(stderr, PROG ": --config FILE is required (see --help)\n");
		return 2;
	}
	if (check)
		return check_config(o.config_path);
	if ((o.tls_cert == NULL) != (o.tls_key == NULL)) {
		fprintf(stderr, PROG ": --tls-cert and --tls-key go together\n");
		return 2;
	}

	if (user != NULL && getpwnam(user) == NULL) {
		fprintf(stderr, PROG ": --user %s: no such user\n", user);
		return 2;
	}
	log_init(PROG, use_syslog, verbose);
	signal(SIGPIPE, SIG_IGN);
	/* Before any database is opened: SQLite takes its error log only then. */
	memset(&watch, 0, sizeof(watch));
	if (store_watch_install(&watch) == 0)
		o.watch = &watch;
	else
		log_warnx("SQLite's reports of a damaged database are not watched");
	o.refuse_links = user != NULL;
	if (collector_start(&c, uv_default_loop(), &o, err, sizeof(err)) != 0) {
		log_warnx("%s", err);
		return 1;
	}
	if (user != NULL) {
		char wal[COLLECTOR_PATH_MAX + 8], shm[COLLECTOR_PATH_MAX + 8];
		const char *own[] = { c.db_path, wal, shm, NULL };

		snprintf(wal, sizeof(wal), "%s-wal", c.db_path);
		snprintf(shm, sizeof(shm), "%s-shm", c.db_path);
		if (privdrop(user, own, err, sizeof(err)) != 0)
			fatalx("%s", err);
		log_info("running as user %s", user);
	}
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	if (uv_loop_close(uv_default_loop()) != 0)
		log_debug("loop closed with handles left");
	return 0;
}
