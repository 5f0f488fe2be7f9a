/* The manager's own modules: its state and what they call of each other. */
#ifndef WSD_MANAGER_INT_H
#define WSD_MANAGER_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "heartbeat.h"
#include "msg.h"
#include "pool.h"
#include "supervise.h"
#include "svtable.h"

#define QUEUE_MIN 64 /* first allocation of the wait queue; it doubles as needed */
#define ORPHAN_GRACE_MS 1000
/* Our drain deadline comes this long after the workers' own: they close what is left and say
 * how many; we kill only the ones that could not. */
#define DEADLINE_MARGIN_MS 250

/* A worker: its supervision entry (first: the table's), then what dispatch reads. */
struct slot {
	struct sv_entry e;          /* state, pid, heartbeats, restarts, the channel */
	int blocked;                /* channel full: waiting for EV_WRITE or the retry timer */
	uint32_t conns;             /* given minus reported done */
	uint32_t cfg_gen, root_gen; /* the configuration and root it has (a reload) */
	struct event ev_write, ev_retry;
	struct manager *m;
};
_Static_assert(offsetof(struct slot, e) == 0, "svtable entries come first");

/* The hand-off in figures: batches really used (logged at exit, at info level). */
struct hand_stats {
	uint64_t taken, taken_msgs, reads; /* from the listener: connections, messages, reads */
	uint64_t given, given_msgs;        /* to the workers: connections, messages */
};

#define TAKE_MSGS 8 /* messages at most per read of the listener channel (recvmmsg) */

struct queued {
	int fd;
	struct msg_conn mc; /* peer address, for the access log */
};

/*
 * An operation the daemon asked for (MSG_REQUEST), one at a time, until
 * its reply: a restart replaces old by next (started first, old drained
 * at next's READY); a drain retires old alone.
 */
struct pool_op {
	uint32_t id; /* the daemon's request; 0: none */
	uint32_t op, timeout_ms;
	struct slot *old, *next; /* next: until READY; old: until reaped */
	pid_t old_pid, new_pid;
	uint64_t start_ms, step_ms;
	int killed;
	pid_t *todo; /* restart workers: the pids to replace, in order */
	uint32_t ntodo, itodo, nreplaced;
	struct event ev_timeout, ev_step;
};

struct manager {
	struct event_base *base;
	struct event ev_parent, ev_listener, ev_chld, ev_term, ev_deadline, ev_table;
	uint32_t table_gen;           /* generation of the worker table sent to the daemon */
	uint32_t root_gen;            /* roots the daemon handed us since start (a reload) */
	struct msg_heartbeat retired; /* figures of workers that have exited */
	struct heartbeat hb;
	struct msg_config cfg;
	int configured, ready_sent, draining, listening;
	int taking;              /* stopping: take all the listener sends, until it is gone */
	int retire_workers;      /* draining while the server goes on: workers retire (park) */
	int deadline_passed;     /* the workers left were killed: exit once they are reaped */
	uint64_t cut;            /* connections closed at a drain deadline, ours and the workers' */
	uint32_t fd_base;        /* descriptors held at configuration, before any slot or queue */
	uint64_t deadline_ms;    /* when ev_deadline fires */
	uint64_t full_warned_ms; /* rate limit of the "pool full" warning */
	uint64_t tight_warned_ms; /* and of the "near the descriptor limit" one */
	uint64_t full_waits;      /* a worker's channel full: waits for room */
	uint64_t refs_waits;      /* ETOOMANYREFS giving to a worker: retries on the timer */
	struct hand_stats hs;     /* the hand-off's messages and reads, logged at exit */
	struct msg *rbuf;         /* TAKE_MSGS messages: one read of the listener channel */
	pid_t ppid;
	struct slot *slots;   /* pool_limit entries */
	struct svtable tab;   /* over slots: its end is one past the highest slot ever used */
	struct queued *queue; /* a ring of qcap on the heap; in a stop it holds the backlog */
	uint32_t qcap, qhead, qlen;
	struct pool_op op;
	struct event ev_pool;      /* the policy's tick */
	struct pool_state pst;     /* what the policy remembers */
	struct pool_worker *pload; /* pool_limit entries: the running workers' load, */
	struct slot **prun;        /* and their slots, filled each decision */
	uint64_t pool_early_ms;    /* the last decision out of turn (the pool was full) */
	int queue_emptied;         /* the queue was seen empty since the last decision */
};

/* Over the slots ever used: per connection, not pool.limit (256) of them. */
#define FOREACH_SLOT(m, s) for (struct slot *s = (m)->slots; s < (m)->slots + (m)->tab.end; s++)

/* manager.c: the workers' supervision, the daemon channel */
uint32_t pool_size(struct manager *m);
struct slot *slot_new(struct manager *m);
void pool_fill(struct manager *m);
void slot_retire(struct slot *s);
void manager_event(pid_t pid, const char *role, const char *kind, const char *detail);

/* manager_queue.c: the listener channel, the wait queue, dispatch */
void queue_push(struct manager *m, int fd, const struct msg_conn *mc, int front);
int queue_msg(struct manager *m, struct msg *msg, int front);
int may_take(struct manager *m);
void listener_interest(struct manager *m);
void dispatch(struct manager *m);
void listener_cb(evutil_socket_t fd, short what, void *arg);
uint32_t channel_queued(int fd);
void queue_abandon(struct manager *m);
unsigned channel_abandon(struct manager *m);

/* manager_pool.c: the policy and the daemon's pool operations */
void pool_policy(struct manager *m);
void pool_tick_cb(evutil_socket_t fd, short what, void *arg);
void op_abort(struct manager *m, const char *why);
void op_ready(struct manager *m, struct slot *s);
int op_exited(struct manager *m, struct slot *s, struct svt_exit *x, enum svt_after *after);
void op_step_cb(evutil_socket_t fd, short what, void *arg);
void op_timeout_cb(evutil_socket_t fd, short what, void *arg);
void op_request(struct manager *m, const struct msg_request *rq);

/* manager_drain.c: stopping */
void manager_maybe_exit(struct manager *m);
void deadline_cb(evutil_socket_t fd, short what, void *arg);
void manager_stopping(struct manager *m);
void manager_drain(struct manager *m, uint32_t grace_ms, int take_channel);
void sigterm_cb(evutil_socket_t sig, short what, void *arg);

#endif
