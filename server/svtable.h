/*
 * The supervision table both supervisors use (the daemon for the listener
 * and the manager, the manager for its workers): the I/O around the pure
 * rules of supervise.h. An entry is a child's sv_child, the control
 * channel (our end, and the child's end kept for restarts), its read event
 * and its restart timer. The table starts a child, reads its channel
 * (heartbeats, READY, DRAINING), checks for hangs twice an interval and
 * kills, records an exit, logs it and restarts after the back-off. What
 * differs by role comes through hooks.
 *
 * The owner allocates the entries: an array of its own structs, each with
 * a struct sv_entry as its FIRST member, so the role's per-child data (the
 * manager's connection count...) is in the same struct, reached without a
 * pointer.
 */
#ifndef WSD_SVTABLE_H
#define WSD_SVTABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "msg.h"
#include "supervise.h"

struct svtable;

struct sv_entry {
	struct sv_child sv;
	int chan, peer; /* our end, and the child's end we keep for restarts */
	struct event ev_read, ev_restart;
	struct svtable *t;
};

/* What becomes of an entry whose process was reaped (the exited hook decides). */
enum svt_after {
	SVT_RESTART,  /* "lost child", then restarted after the back-off */
	SVT_FREE,     /* "lost child", not restarted: entry and channel freed */
	SVT_FINISHED, /* "ROLE N finished draining": entry and channel freed */
	SVT_HOLD,     /* kept as it is (stopped); the owner said what there was to say */
};

/* What the exited hook is told, and where it writes its part of the log line. */
struct svt_exit {
	pid_t pid;
	enum sv_state was; /* the state before it ended */
	uint32_t delay_ms; /* sv_exited's back-off */
	char note[96];     /* appended to the "lost child" or "finished draining" line */
};

struct svt_hooks {
	/* Start a process for e, handing it e->peer: its pid, or -1 (logged). */
	pid_t (*spawn)(struct sv_entry *e, void *arg);
	/* e's restart timer fired (after svt_schedule). */
	void (*restart)(struct sv_entry *e, void *arg);
	/* After sv_ready: it said READY. May be NULL. */
	void (*ready)(struct sv_entry *e, void *arg);
	/* It said DRAINING and was not draining yet; the hook sets the state. */
	void (*draining)(struct sv_entry *e, void *arg);
	/* Any other message (svt_unexpected for those the role does not take). */
	void (*msg)(struct sv_entry *e, struct msg *m, void *arg);
	/*
	 * Reaped, after its last messages were read and sv_exited: decide, and
	 * fill x->note. Figures are still there (retire them here).
	 */
	enum svt_after (*exited)(struct sv_entry *e, struct svt_exit *x, void *arg);
	/* After each check (twice an interval). May be NULL. */
	void (*checked)(uint64_t now, void *arg);
	/* The entry is being freed: drop the role's own events. May be NULL. */
	void (*release)(struct sv_entry *e, void *arg);
	/*
	 * Something an operator follows happened to e's process: "started",
	 * "ready", "draining", "hung", "exited", "restarting", "backing off",
	 * with a detail ("crash: SIGSEGV", "in 400 ms"). May be NULL.
	 */
	void (*event)(
	    struct sv_entry *e, pid_t pid, const char *kind, const char *detail, void *arg);
};

struct svtable {
	struct event_base *base;
	char *mem; /* limit entries of size bytes, each starting with a struct sv_entry */
	size_t size;
	uint32_t limit;
	uint32_t end;  /* one past the highest entry ever used: iterate to here only */
	uint32_t nfds; /* descriptors held by the channels: two per entry in use */
	int pool;      /* log "started worker N (restart K)", not "started ROLE, pid N" */
	const struct svt_hooks *hooks;
	void *arg;
	const struct msg_config *config; /* sent to every process started */
	struct sv_limits lim;
	struct event ev_check;
	uint64_t last_check_ms; /* to notice that we ourselves were stalled */
};

/* Entry i (i < t->limit). */
static inline struct sv_entry *svt_at(const struct svtable *t, uint32_t i)
{
	return (struct sv_entry *)(t->mem + (size_t)i * t->size);
}

/* Over the entries ever used, free ones included (state SV_FREE). */
#define SVT_FOREACH(t, e) \
	for (struct sv_entry *e = svt_at((t), 0); e != svt_at((t), (t)->end); \
	     e = (struct sv_entry *)((char *)e + (t)->size))

/* mem: limit zeroed entries of size bytes, owned by the caller. */
void svt_init(struct svtable *t, struct event_base *base, void *mem, size_t size, uint32_t limit,
    const struct svt_hooks *hooks, void *arg, const struct msg_config *config);

/* A free entry with a fresh channel, state SV_STOPPED (no process yet); NULL if none (logged). */
struct sv_entry *svt_alloc(struct svtable *t, const char *role);
/* Stop its events, close its channel, mark it free. */
void svt_free(struct sv_entry *e);
/* The entry (not free) of that pid, or NULL. */
struct sv_entry *svt_by_pid(struct svtable *t, pid_t pid);

/* Spawn (hook), sv_started, send the configuration, log it. -1 if the spawn failed. */
int svt_start(struct sv_entry *e);
/* Call the restart hook in delay_ms. */
void svt_schedule(struct sv_entry *e, uint32_t delay_ms);
/*
 * Tell it to drain and exit (MSG_SHUTDOWN; SIGTERM if the channel cannot
 * take it) and mark it draining.
 */
void svt_stop(struct sv_entry *e);
/* Hand a reopened log (MSG_LOG_ERROR / MSG_LOG_ACCESS) to every child running. */
void svt_send_log(struct svtable *t, int type, int fd);

/* Read everything waiting on e's channel. */
void svt_read(struct sv_entry *e);
/* Log a message the role does not take, and close its descriptors. */
void svt_unexpected(struct sv_entry *e, struct msg *m);

/* Check every entry twice per lim->interval_ms, at the highest priority. */
void svt_watch(struct svtable *t, const struct sv_limits *lim);
/* New limits for a table already watched (a reload): the checks' period follows. */
void svt_relimit(struct svtable *t, const struct sv_limits *lim);
/*
 * One check: read what is waiting, forgive a stall of our own, kill what
 * sv_check finds hung or not started, then the checked hook.
 */
void svt_check(struct svtable *t);

/*
 * A pid was reaped with this wait status: if it is one of ours, read its
 * last messages, record the exit, log and act as the exited hook decides.
 * 1 if it was ours, 0 if not.
 */
int svt_reaped(struct svtable *t, pid_t pid, int status);

/* Log the table (SIGUSR2): a header, then one row per entry in use. */
void svt_log_rows(struct svtable *t);

#endif
