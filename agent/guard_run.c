/* agent/guard_run.c - the --guard mode's process: config, loop, signals. */
#include "agent/guard.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"

struct guard_proc {
	struct guard *g;
	uv_signal_t sigterm, sigint;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct guard_proc *p = h->data;

	log_info("signal %d: stopping the guard (routing left as it is)", signum);
	uv_close((uv_handle_t *)&p->sigterm, NULL);
	uv_close((uv_handle_t *)&p->sigint, NULL);
	guard_close(p->g, NULL, NULL);
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
	p.g = guard_new(&loop, cfg, dry_run);
	free(cfg);
	if (!p.g)
		fatalx("out of memory");
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
