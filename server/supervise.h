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
#define SV_SERVED_MS 1000 /* READY this long before exiting: not a crash loop */

enum sv_state { SV_FREE, SV_STARTING, SV_RUNNING, SV_DRAINING, SV_STOPPED };

/* What sv_check found. */
enum sv_verdict {
	SV_FINE,
	SV_HUNG,          /* silent for heartbeat.misses intervals after its first heartbeat */
	SV_DID_NOT_START, /* no first heartbeat within heartbeat.startup_timeout of the fork */
};

/* The limits sv_check judges by: the [heartbeat] settings. */
struct sv_limits {
	uint32_t interval_ms, misses;
	uint32_t startup_ms;
};

struct sv_child {
	const char *role;
	enum sv_state state;
	pid_t pid;
	uint64_t started_ms;
	uint64_t ready_ms;   /* when it said READY; 0 = not yet */
	uint64_t last_hb_ms; /* the last heartbeat, or the fork until the first one */
	int heard;           /* a heartbeat came from this process */
	int not_started;     /* killed by sv_check for no first heartbeat */
	unsigned restarts;
	uint32_t backoff_ms;    /* delay before the next restart in a crash loop */
	uint32_t hung_ms;       /* non-zero: killed for silence this long */
	uint64_t restart_at_ms; /* stopped: when its replacement is due */
	char last_exit[64];     /* "exit 3", "crash: SIGSEGV", "hung: no heartbeat for 812 ms",
	                           "did not start in 10000 ms", "stopped" */
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
/* It said READY: running from now on (the first READY is the one recorded). */
void sv_ready(struct sv_child *c, uint64_t now);
void sv_heartbeat(struct sv_child *c, const struct msg_heartbeat *hb, uint64_t now);
/* Whole heartbeat intervals missed so far. */
uint32_t sv_missed(const struct sv_child *c, uint64_t now, uint32_t interval_ms);
/*
 * Judge the entry (once per process; SV_FINE after a verdict): until its
 * first heartbeat only by lim->startup_ms counted from the fork (exec and
 * configuration may be slow); after it, SV_HUNG when it misses
 * lim->misses intervals. On a verdict the caller kills it with SIGKILL.
 */
enum sv_verdict sv_check(struct sv_child *c, uint64_t now, const struct sv_limits *lim);
/*
 * The supervisor itself did not run for ms (its check came that late: the
 * machine stalled, or the whole process group was stopped). Its children
 * could not be heard meanwhile either: their silence is not held against them.
 */
void sv_forgive(struct sv_child *c, uint64_t ms, uint64_t now);

/*
 * Record how the process ended (wait status) and return the delay before
 * its replacement. A process that had been serving - READY at least
 * SV_SERVED_MS before it ended, however it ended (killed, hung, crashed) -
 * is replaced at once, every time. An exit before READY or less than
 * SV_SERVED_MS after it is a crash loop: the first one ever is restarted
 * at once, then 100 ms doubling to 5 s while it keeps failing.
 */
uint32_t sv_exited(struct sv_child *c, int status, uint64_t now);

#endif
