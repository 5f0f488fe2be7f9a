/*
 * The Prometheus exposition (text format 0.0.4) of the daemon's own
 * tables, for GET /metrics and wsctl metrics. Pure: a plain view in, text
 * out, no I/O; the daemon fills the view (daemon_metrics.c). Also the
 * bounded restart counters, kept from the supervision events.
 */
#ifndef WSD_METRICS_H
#define WSD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* The content type of the text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum metrics_role { MR_LISTENER, MR_MANAGER, MR_WORKER, MR_NROLES };
/* Why a process was restarted: a bounded label set. */
enum metrics_cause { MC_EXIT, MC_CRASH, MC_KILLED, MC_HUNG, MC_REPLACED, MC_RECYCLED, MC_NCAUSES };

/* Exits not yet followed by their restart, per role, by pid: a few at once. */
#define METRICS_PENDING_EXITS 8

/* Restarts by role and cause, from the event stream (metrics_note_event). */
struct metrics_restarts {
	uint64_t n[MR_NROLES][MC_NCAUSES];
	/*
	 * The cause of each recent exit, until the restart of that pid: the
	 * events of two managers (one replacing the other) may interleave.
	 */
	struct {
		int32_t pid; /* 0: free */
		int cause;
	} exits[MR_NROLES][METRICS_PENDING_EXITS];
	unsigned next[MR_NROLES]; /* the slot the next exit takes when all are in use */
};

void metrics_restarts_init(struct metrics_restarts *r);

/*
 * One supervision event (as the event log records it: kind, role, pid,
 * detail): an "exited" notes the cause ("crash: SIGSEGV" -> crash, "hung:
 * ..." or "did not start ..." -> hung, "killed: ..." -> killed, "exit N"
 * -> exit); the "restarting" or "backing off" of the same pid counts it.
 * "restarted" (a restart or reload asked for) counts replaced, "recycle"
 * (pool.max_requests) counts a worker recycled. Others are ignored.
 */
void metrics_note_event(struct metrics_restarts *r, const char *kind, const char *role, int32_t pid,
    const char *detail);

/* The cause an exit description ("exit 3", "crash: SIGSEGV", ...) stands for. */
enum metrics_cause metrics_exit_cause(const char *last_exit);

/* What GET /metrics shows beyond the status view. */
struct metrics_view {
	const struct status_view *st; /* totals, pool, processes, reload, version, uptime */
	int64_t start_time_ms;        /* wall clock of the daemon's start */
	uint64_t parked;              /* connections the listener holds parked */
	int ready;                    /* what /readyz answers: 1 = 200 */
	uint64_t metrics_refused;     /* connections to the endpoint closed at the cap */
	const struct metrics_restarts *restarts;
};

/*
 * The exposition text, NUL-terminated, malloc'd (the caller frees it);
 * *len its length. NULL when out of memory.
 */
char *metrics_text(const struct metrics_view *v, size_t *len);

#endif
