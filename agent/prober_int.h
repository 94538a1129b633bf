/* agent/prober_int.h - the prober's internals shared by prober.c (rounds,
 * queries, the NTP phases, the life cycle) and prober_record.c (records from
 * answers, identification at the end of a round). Not for use outside the
 * prober. A struct prober owns its services; a service owns its targets,
 * its round's records and its queries in flight (listed in the prober). */
#ifndef ANYCAST_PROBER_INT_H
#define ANYCAST_PROBER_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "agent/dns_answer.h"
#include "agent/dns_wire.h"
#include "agent/identify.h"
#include "agent/ntp_wire.h"
#include "agent/prober.h"
#include "agent/udp_probe.h"
#include "common/inventory.h"
#include "common/result.h"

#define MAX_PENDING 4096 /* records held per service round */

struct svc;

struct check_text {
	char digest[DNS_ANSWER_DIGEST_HEX];
	char rrs[DNS_ANSWER_RRS_MAX];
};

struct target {
	struct svc *svc;
	char address[RESULT_ADDR_MAX];
	struct sockaddr_storage sa;
	int family;
	int anycast;
	int instance;               /* management: owner index; anycast: -1 */
	int answered;               /* this round */
	int64_t last_chaos_ms;      /* pacing of CHAOS follow-ups */
	struct identify_fp fp[3];   /* NTP: before, anycast, after of this pass */
};

struct pending {
	struct result r;
	struct target *t;
	struct identify_fp fp;      /* NTP anycast: for identification */
	int ntp_pass_done;          /* NTP anycast record already identified */
};

struct query {
	struct query *next, *prev;
	struct svc *svc;
	struct target *t;
	enum dns_wire_kind kind;
	int ntp;
	int ntp_phase;
	int tcp;
	struct dns_wire_question q;
	struct dns_wire_reply dr;
	uint64_t nonce;
	struct ntp_wire_packet np;
	int verdict;
	int check;                  /* index of the answer-integrity check asked, -1 none */
	int answer_rc;              /* check: dns_answer_digest's result on the reply */
	struct dns_answer answer;   /* check: the reply's digest and serial */
	struct udp_probe *probe;
};

struct svc {
	struct prober *p;
	struct inv_service cfg;     /* instances owned */
	struct target *targets;
	int n_targets;
	char (*learned)[3][RESULT_IDENTITY_MAX]; /* per instance and identity source,
						  * from its management answers */
	uv_timer_t timer;           /* rounds */
	uv_timer_t grace;           /* NTP: how long the anycast phase waits for slow
				     * "before" answers once one has come */
	int handles_open;           /* timer and grace not yet closed */
	int timer_open;
	uint64_t round;
	int in_round;
	int in_flight;
	int ntp_phase, ntp_retried;
	int phase_pending[3];       /* NTP queries in flight per phase */
	struct pending *pend;       /* grows up to MAX_PENDING */
	int n_pend, cap_pend;
	int check_rounds[INV_MAX_CHECKS]; /* a check runs in rounds 1, 1 + n, 1 + 2n, ... */
	struct check_text *check_text; /* per target and check: the last answer's text,
					* rendered again only when its digest changes */
	uint64_t skipped;
	int retired;
	struct svc *next;
};

struct prober {
	uv_loop_t *loop;
	struct svc *svcs;
	struct query *queries;      /* in flight */
	prober_result_fn on_result;
	prober_round_fn on_round;
	void *ctx;
	int once;
	int closing;
	int open_timers;
	void (*close_cb)(void *);
	void *close_arg;
	struct prober_stats st;
};

/* ---- prober_record.c ---- */

/* The record of a finished query (reply, timeout or unreachable), appended
 * to its service's round; NULL when the round holds MAX_PENDING records or
 * memory runs out (the answer is then not recorded). Valid until the round
 * ends or the next call grows the array. */
struct pending *prober_record_new(struct query *qr, const struct udp_probe_result *res);
/* Fill a record from the reply qr received: rcode, identity and its source
 * (DNS), or stratum, refid, times, offset and fingerprint (NTP). */
void prober_record_fill_dns(struct query *qr, struct pending *pe);
void prober_record_fill_ntp(struct query *qr, struct pending *pe,
			    const struct udp_probe_result *res);
/* End of a DNS round: learn identities from management answers, then name
 * the instance of each anycast answer. */
void prober_record_identify_dns(struct svc *s);
/* End of an NTP pass: match this pass's anycast answers against the
 * instances' before/after fingerprints. Returns 1 when one was unstable (a
 * clock update between the queries: the round is worth asking again). */
int prober_record_identify_ntp(struct svc *s);

#endif
