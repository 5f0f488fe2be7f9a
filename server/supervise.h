/*
 * The supervision table entry both supervisors keep (the daemon for the
 * listener and the manager, the manager for its workers): state, heartbeat
 * bookkeeping, restart back-off, last exit cause. Pure bookkeeping - no
 * I/O, no signals - so the rules are unit-tested on their own.
 */
#ifndef WSD_SUPERVISE_H
#define WSD_SUPERVISE_H

#include <stdint.h>
#include <sys/types.h>

#include "msg.h"

#define SV_BACKOFF_MIN_MS 100
#define SV_BACKOFF_MAX_MS 5000
#define SV_STABLE_MS 60000

enum sv_state { SV_FREE, SV_STARTING, SV_RUNNING, SV_DRAINING, SV_STOPPED };

struct sv_child {
	const char *role;
	enum sv_state state;
	pid_t pid;
	uint64_t started_ms;
	uint64_t last_hb_ms;
	unsigned restarts;
	uint32_t backoff_ms;    /* delay before the next restart after a quick failure */
	uint32_t hung_ms;       /* non-zero: killed for silence this long */
	uint64_t restart_at_ms; /* stopped: when its replacement is due */
	char last_exit[64];     /* "exit 3", "crash: SIGSEGV", "hung: no heartbeat for 812 ms",
	                           "stopped" */
	struct msg_heartbeat figures;
};

const char *sv_state_name(enum sv_state s);

/*
 * The process is gone: add its running totals (accepted, requests, bytes,
 * response times) to into and clear them, so totals never go backwards.
 */
void sv_retire_figures(struct sv_child *c, struct msg_heartbeat *into);
/* to += from, for the running totals above. */
void sv_figures_add(struct msg_heartbeat *to, const struct msg_heartbeat *from);

/* A process was started for this entry. */
void sv_started(struct sv_child *c, pid_t pid, uint64_t now);
void sv_heartbeat(struct sv_child *c, const struct msg_heartbeat *hb, uint64_t now);
/* Whole heartbeat intervals missed so far. */
uint32_t sv_missed(const struct sv_child *c, uint64_t now, uint32_t interval_ms);
/*
 * 1 when the entry has just been found hung (misses intervals without a
 * heartbeat): the caller kills it with SIGKILL. Once per process.
 */
int sv_check(struct sv_child *c, uint64_t now, uint32_t interval_ms, uint32_t misses);
/*
 * The supervisor itself did not run for ms (its check came that late: the
 * machine stalled, or the whole process group was stopped). Its children
 * could not be heard meanwhile either: their silence is not held against them.
 */
void sv_forgive(struct sv_child *c, uint64_t ms, uint64_t now);

/*
 * Record how the process ended (wait status) and return the delay before
 * its replacement: at once after a process that ran a minute or more (or
 * the first time), then 100 ms doubling to 5 s while it keeps failing.
 */
uint32_t sv_exited(struct sv_child *c, int status, uint64_t now);

#endif
