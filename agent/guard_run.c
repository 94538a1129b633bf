/* agent/guard_run.c - the --guard mode's process: config, loop, signals. */
#include "agent/guard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/guard_reporter.h"
#include "common/log.h"

/* Reports still waiting get this long at shutdown. */
#define DRAIN_MS 5000

struct guard_proc {
	struct guard *g;
	struct guard_reporter *rep;
	uv_signal_t sigterm, sigint;
};

static void on_guard_closed(void *arg)
{
	struct guard_proc *p = arg;

	if (p->rep != NULL)
		guard_reporter_close(p->rep, DRAIN_MS, NULL, NULL);
	p->rep = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct guard_proc *p = h->data;

	log_info("signal %d: stopping the guard (routing left as it is)", signum);
	uv_close((uv_handle_t *)&p->sigterm, NULL);
	uv_close((uv_handle_t *)&p->sigint, NULL);
	guard_close(p->g, on_guard_closed, p);
}

int guard_run(const char *path, int dry_run, int check)
{
	struct guard_config *cfg = calloc(1, sizeof(*cfg));
	struct guard_proc p = { 0 };
	uv_loop_t loop;
	char err[512];
	int rc;

	if (!cfg)
		fatalx("out of memory");
	if (guard_config_load(path, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "anycast-agent: %s\n", err);
		free(cfg);
		return 78;
	}
	if (check) {
		printf("%s: %d guarded service(s)\n", path, cfg->n_services);
		free(cfg);
		return 0;
	}
	uv_loop_init(&loop);
	signal(SIGPIPE, SIG_IGN);
	p.g = guard_new(&loop, cfg, dry_run);
	if (!p.g)
		fatalx("out of memory");
	if (cfg->collector[0] && dry_run)
		log_info("dry run: actions are not reported to %s", cfg->collector);
	else if (cfg->collector[0]) {
		p.rep = guard_reporter_new(&loop, cfg);
		guard_set_reporter(p.g, p.rep);
	}
	free(cfg);
	uv_signal_init(&loop, &p.sigterm);
	uv_signal_init(&loop, &p.sigint);
	p.sigterm.data = p.sigint.data = &p;
	uv_signal_start(&p.sigterm, on_signal, SIGTERM);
	uv_signal_start(&p.sigint, on_signal, SIGINT);
	rc = guard_start(p.g);
	if (rc < 0)
		fatalx("guard: %s", uv_strerror(rc));
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return 0;
}
