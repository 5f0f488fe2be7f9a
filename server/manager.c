/*
 * The manager: runs the worker pool between pool.min and pool.max, takes
 * connections from the listener channel into a wait queue, and gives each
 * to the running worker with the fewest connections. A worker that holds
 * max_workload gets no more until one of its connections ends. It watches
 * its workers' heartbeats and replaces those that die or hang.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "heartbeat.h"
#include "jsonrpc.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "proc.h"
#include "roles.h"
#include "supervise.h"
#include "svtable.h"
#include "wtable.h"

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
};

static void dispatch(struct manager *m);
static void manager_maybe_exit(struct manager *m);
static void op_ready(struct manager *m, struct slot *s);
static int op_exited(struct manager *m, struct slot *s, struct svt_exit *x, enum svt_after *after);
static void op_abort(struct manager *m, const char *why);
static void manager_event(pid_t pid, const char *role, const char *kind, const char *detail);

/* ---- the wait queue ---- */

/* Double the ring, unwrapping it; -1 when out of memory. */
static int queue_grow(struct manager *m)
{
	uint32_t cap = m->qcap ? m->qcap * 2 : QUEUE_MIN;
	struct queued *q = malloc(cap * sizeof(*q));

	if (q == NULL)
		return -1;
	for (uint32_t i = 0; i < m->qlen; i++)
		q[i] = m->queue[(m->qhead + i) % m->qcap];
	free(m->queue);
	m->queue = q;
	m->qcap = cap;
	m->qhead = 0;
	return 0;
}

/* front: a connection taken back from a dead worker's channel goes first. */
static void queue_push(struct manager *m, int fd, const struct msg_conn *mc, int front)
{
	struct queued *q;

	if (m->qlen == m->qcap && queue_grow(m) == -1) {
		log_warn("wait queue of %u full, closing a connection", m->qlen);
		msg_conn_abandon(fd);
		return;
	}
	if (front)
		m->qhead = (m->qhead + m->qcap - 1) % m->qcap;
	q = &m->queue[(m->qhead + (front ? 0 : m->qlen)) % m->qcap];
	m->qlen++;
	q->fd = fd;
	q->mc = *mc;
}

static void queue_drop_head(struct manager *m)
{
	close(m->queue[m->qhead].fd); /* the worker has its copy */
	m->qhead = (m->qhead + 1) % m->qcap;
	m->qlen--;
}

static struct slot *least_loaded(struct manager *m);

#define TIGHT_WARN_MS 10000

/*
 * Room for one more descriptor, MSG_FD_RESERVE kept free? Counted, not
 * probed: what we held at start, the worker channels and the queue. A
 * message received with no descriptor free loses its connection.
 */
static int fd_room(struct manager *m, long reserve)
{
	long limit = msg_fd_limit();

	if (reserve > limit / 4)
		reserve = limit / 4; /* a tiny limit must still leave room to work */
	return m->fd_base + m->tab.nfds + m->qlen + 1 < limit - reserve;
}

/* Say so at most every 10 s. */
static void fd_tight_warn(struct manager *m)
{
	uint64_t now = clock_now_ms();

	if (m->tight_warned_ms && now - m->tight_warned_ms < TIGHT_WARN_MS)
		return;
	m->tight_warned_ms = now;
	log_warnx("%u connection%s queued, near the descriptor limit %ld: pausing the listener "
	          "channel until some are given out",
	    m->qlen, log_s(m->qlen), msg_fd_limit());
}

/*
 * Take a connection from the listener channel only when a worker can have
 * it now. A connection left in the channel is safe - the daemon keeps its
 * ends, and a replacement manager reads it - while one in our own queue
 * would die with us. While the whole server stops (taking) we take all
 * the listener sends, so that it can empty the kernel backlog. Never
 * within MSG_FD_RESERVE descriptors of our limit: a message received
 * without room for its descriptor loses it.
 */
static int may_take(struct manager *m)
{
	int want;

	if (m->draining && !m->taking)
		return 0;
	want = m->taking || (m->qlen == 0 && least_loaded(m) != NULL);
	if (want && !fd_room(m, MSG_FD_RESERVE)) {
		fd_tight_warn(m);
		return 0;
	}
	return want;
}

static void listener_interest(struct manager *m)
{
	int want = m->configured && may_take(m);

	if (want && !m->listening)
		event_add(&m->ev_listener, NULL);
	else if (!want && m->listening)
		event_del(&m->ev_listener);
	m->listening = want;
}

/* ---- the pool ---- */

/* Over the slots ever used: per connection, not pool.limit (256) of them. */
#define FOREACH_SLOT(m, s) for (struct slot *s = (m)->slots; s < (m)->slots + (m)->tab.end; s++)

/* Workers that count towards the pool: all but the free and the draining. */
static uint32_t pool_size(struct manager *m)
{
	uint32_t n = 0;

	FOREACH_SLOT (m, s)
		n += s->e.sv.state != SV_FREE && s->e.sv.state != SV_DRAINING;
	return n;
}

static uint32_t pool_count(struct manager *m, enum sv_state st)
{
	uint32_t n = 0;

	FOREACH_SLOT (m, s)
		n += s->e.sv.state == st;
	return n;
}

static void slot_write_cb(evutil_socket_t fd, short what, void *arg);

static pid_t slot_spawn(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;
	struct slot *s = (struct slot *)e;
	struct proc_fdmap map[] = {
	    {FD_LOG, FD_LOG},
	    {m->cfg.has_access_log ? FD_ACCESS : -1, FD_ACCESS},
	    {e->peer, FD_PARENT},
	    {FD_WORKER_LINK, FD_TO_LISTENER},
	    {FD_ROOT, FD_ROOT},
	};
	pid_t pid = proc_spawn("worker", map, 5, NULL);

	if (pid == -1)
		return -1;
	s->conns = 0;
	s->cfg_gen = m->cfg.generation; /* the table sends it m->cfg; the root is inherited */
	s->root_gen = m->root_gen;
	s->blocked = 0;
	return pid;
}

static struct slot *slot_new(struct manager *m)
{
	struct slot *s = (struct slot *)svt_alloc(&m->tab, "worker");

	if (s == NULL)
		return NULL;
	s->m = m;
	event_assign(&s->ev_write, m->base, s->e.chan, EV_WRITE, slot_write_cb, s);
	evtimer_assign(&s->ev_retry, m->base, slot_write_cb, s);
	if (svt_start(&s->e) == -1) {
		svt_free(&s->e);
		return NULL;
	}
	return s;
}

/* The table frees the entry and its channel; these are ours. */
static void slot_release(struct sv_entry *e, void *arg)
{
	struct slot *s = (struct slot *)e;

	event_del(&s->ev_write);
	evtimer_del(&s->ev_retry);
}

/* Keep pool.min workers. */
static void pool_fill(struct manager *m)
{
	while (!m->draining && pool_size(m) < m->cfg.pool_min)
		if (slot_new(m) == NULL)
			break;
}

static void slot_ready(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;

	if (!m->ready_sent && pool_count(m, SV_RUNNING) >= m->cfg.pool_min) {
		m->ready_sent = 1;
		if (msg_send(FD_PARENT, MSG_READY, NULL, 0, NULL, 0) == -1)
			log_warn("ready to daemon");
		log_info("pool ready: %u worker%s", m->cfg.pool_min, log_s(m->cfg.pool_min));
	}
	op_ready(m, (struct slot *)e);
	dispatch(m);
}

/*
 * Retire a worker while the server goes on - scale down, the pool
 * shrinking, restarts, drain, a manager replaced: MSG_RETIRE, after which
 * no connection follows; the worker answers what it serves with keep-alive
 * on, parks each connection in the listener and exits (docs/architecture.md,
 * "Parking"). SIGTERM when the channel cannot take it: the worker retires
 * on that too. A full stop of wsd uses svt_stop (MSG_SHUTDOWN) instead.
 */
static void slot_retire(struct slot *s)
{
	if (msg_send(s->e.chan, MSG_RETIRE, NULL, 0, NULL, 0) == -1)
		kill(s->e.sv.pid, SIGTERM);
	s->e.sv.state = SV_DRAINING;
}

/* A worker told to stop by its pid: it retires, and the pool is refilled now. */
static void slot_draining(struct sv_entry *e, void *arg)
{
	e->sv.state = SV_DRAINING;
	log_info("worker %d draining, refilling the pool", (int)e->sv.pid);
	/* Tells the worker nothing more comes after what is already queued. */
	if (msg_send(e->chan, MSG_RETIRE, NULL, 0, NULL, 0) == -1)
		log_warn("retire to worker %d", (int)e->sv.pid);
	pool_fill(arg);
}

static void slot_msg(struct sv_entry *e, struct msg *msg, void *arg)
{
	struct slot *s = (struct slot *)e;

	if (msg->hdr.type != MSG_CONN_DONE) {
		svt_unexpected(e, msg);
		return;
	}
	s->conns -= msg->u.done.count < s->conns ? msg->u.done.count : s->conns;
	if (s->conns == 0)
		dispatch(arg); /* room for what waits, here or in the listener channel */
}

static void slot_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;

	s->blocked = 0;
	dispatch(s->m);
}

static void slot_restart(struct sv_entry *e, void *arg)
{
	struct manager *m = arg;

	if (m->draining || svt_start(e) == -1)
		svt_free(e);
	pool_fill(m);
}

/* ---- dispatch ---- */

static struct slot *least_loaded(struct manager *m)
{
	struct slot *best = NULL;

	FOREACH_SLOT (m, s) {
		if (s->e.sv.state != SV_RUNNING || s->blocked || s->conns >= m->cfg.max_workload)
			continue;
		if (best == NULL || s->conns < best->conns)
			best = s;
	}
	return best;
}

/*
 * The worker's channel cannot take it now: wait until it is writable, or,
 * for ETOOMANYREFS (too many descriptors in flight for our limit, which no
 * wake-up reports), retry on a short timer. Either way nothing is dropped.
 */
static void slot_block(struct slot *s, int err)
{
	struct timeval tv = clock_tv(MSG_RETRY_MS);

	s->blocked = 1;
	if (err == ETOOMANYREFS) {
		s->m->refs_waits++;
		evtimer_add(&s->ev_retry, &tv);
	} else {
		s->m->full_waits++;
		event_add(&s->ev_write, NULL);
	}
}

/*
 * ETOOMANYREFS giving to a worker: our user's descriptors in flight are at
 * our limit, most likely in the listener channel, which the listener fills
 * again whenever one is read - and nothing else frees one while we do not
 * read it. Take one from there (into the queue, within half the reserve),
 * so the give that follows has room: 1 if taken.
 */
static int take_for_flight(struct manager *m)
{
	struct msg msg;
	int rc;

	if ((m->draining && !m->taking) || !fd_room(m, MSG_FD_RESERVE / 2))
		return 0;
	if ((rc = msg_recv(FD_FROM_LISTENER, &msg)) != 1) {
		if (rc == -1 && errno == EBADMSG)
			log_warnx("malformed message from listener, dropped");
		return 0;
	}
	if (msg.hdr.type != MSG_CONN) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg.hdr.type));
		msg_close_fds(&msg);
		return 0;
	}
	queue_push(m, msg.fds[0], &msg.u.conn, 0);
	return 1;
}

/* 0 sent, else the errno. */
static int send_conn(struct slot *s, const struct queued *q)
{
	return msg_send(s->e.chan, MSG_CONN, &q->mc, sizeof(q->mc), &q->fd, 1) == 0 ? 0 : errno;
}

/* 0 given (or dropped: an error no wait would mend), -1 the channel cannot take it now. */
static int give(struct manager *m, struct slot *s, const struct queued *head)
{
	struct queued q = *head; /* take_for_flight may move the queue */
	int err = send_conn(s, &q);

	if (err == ETOOMANYREFS && take_for_flight(m))
		err = send_conn(s, &q);
	if (err == 0) {
		s->conns++;
		return 0;
	}
	if (!msg_send_again(err)) {
		errno = err;
		log_warn("connection to worker %d dropped", (int)s->e.sv.pid);
		return 0;
	}
	slot_block(s, err);
	return -1;
}

static void pool_policy(struct manager *m);

#define POOL_EARLY_MS 100

/*
 * We stopped taking from the listener channel: if no worker has room, the
 * policy decides now rather than at its tick (at most every 100 ms, and
 * not at pool.max: only a full pool pays the walk over the slots).
 */
static void pool_full_soon(struct manager *m)
{
	uint64_t now;

	if (m->draining || !m->configured)
		return;
	now = clock_now_ms();
	if (now - m->pool_early_ms < POOL_EARLY_MS)
		return;
	m->pool_early_ms = now; /* also when full at pool.max: the walks below, once per 100 ms */
	if (pool_size(m) >= m->cfg.pool_max || least_loaded(m) != NULL)
		return;
	pool_policy(m);
}

static void dispatch(struct manager *m)
{
	struct slot *s;

	while (m->qlen > 0) {
		if ((s = least_loaded(m)) == NULL)
			break;
		if (give(m, s, &m->queue[m->qhead]) == 0)
			queue_drop_head(m);
	}
	listener_interest(m);
	if (!m->listening)
		pool_full_soon(m);
	manager_maybe_exit(m);
}

/* ---- the listener channel ---- */

static void listener_msg(struct manager *m, struct msg *msg)
{
	if (msg->hdr.type != MSG_CONN) {
		log_warnx("unexpected %s message from listener", msg_type_name(msg->hdr.type));
		msg_close_fds(msg);
		return;
	}
	queue_push(m, msg->fds[0], &msg->u.conn, 0);
	if (!m->taking)
		dispatch(m);
}

/*
 * Take what may_take allows. Draining (the listeners are gone), an empty
 * channel is final: taking ends, and the workers may be told to stop.
 */
static void listener_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct msg msg;
	int rc;

	while (may_take(m)) {
		if ((rc = msg_recv(fd, &msg)) == 1)
			listener_msg(m, &msg);
		else if (rc == -1 && errno == EBADMSG)
			log_warnx("malformed message from listener, dropped");
		else {
			if (m->draining)
				m->taking = 0; /* empty (or gone): all taken */
			break;
		}
	}
	dispatch(m);
}

/* ---- watching the workers ---- */

/*
 * Take back what the dead worker never read from its channel: the
 * connections go to the head of the wait queue, for the other workers.
 */
static void slot_reclaim(struct manager *m, struct slot *s, pid_t pid)
{
	struct msg msg;
	unsigned n = 0, bad = 0;

	while (msg_recv_skip(s->e.peer, &msg, &bad) == 1) {
		if (msg.hdr.type == MSG_CONN) {
			queue_push(m, msg.fds[0], &msg.u.conn, 1);
			n++;
		} else
			msg_close_fds(&msg);
	}
	if (n)
		log_info("took back %u connection%s queued to worker %d", n, log_s(n), (int)pid);
	if (bad)
		log_warnx("%u malformed message%s in worker %d's channel, dropped", bad, log_s(bad),
		    (int)pid);
}

/*
 * A worker was reaped (its last heartbeat read): a draining one is done;
 * else it is restarted on the same channel - connections already queued
 * to it reach the replacement - unless we drain.
 */
static enum svt_after worker_exited(struct sv_entry *e, struct svt_exit *x, void *arg)
{
	struct manager *m = arg;
	struct slot *s = (struct slot *)e;

	enum svt_after after;

	slot_reclaim(m, s, x->pid);
	m->cut += e->sv.figures.cut;
	sv_retire_figures(&e->sv, &m->retired);
	if (op_exited(m, s, x, &after))
		return after;
	if (x->was == SV_DRAINING)
		return SVT_FINISHED;
	snprintf(x->note, sizeof(x->note), " with %u connection%s", s->conns, log_s(s->conns));
	s->conns = 0;
	return m->draining ? SVT_FREE : SVT_RESTART;
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		svt_reaped(&m->tab, pid, status);
	pool_fill(m);
	dispatch(m);
}

#define FULL_WARN_MS 10000

/* At pool.max with connections waiting: tell the operator (at most every 10 s) why clients wait. */
static void pool_full_warn(struct manager *m, uint32_t queue, uint64_t now)
{
	if (queue == 0 || pool_size(m) < m->cfg.pool_max || now - m->full_warned_ms < FULL_WARN_MS)
		return;
	m->full_warned_ms = now;
	log_warnx("pool full: %u worker%s with %u connection%s each (pool.max, "
	          "pool.max_workload); %u connection%s wait in the listener channel",
	    pool_size(m), log_s(pool_size(m)), m->cfg.max_workload, log_s(m->cfg.max_workload),
	    queue, log_s(queue));
}

/* Connections waiting in the listener channel: its bytes over one MSG_CONN's. */
static uint32_t channel_queued(int fd)
{
	const int size = (int)(sizeof(struct msg_hdr) + sizeof(struct msg_conn));
	int n = 0;

	if (ioctl(fd, SIOCINQ, &n) == -1 || n <= 0)
		return 0;
	return (uint32_t)((n + size - 1) / size);
}

/* What the policy sees: the running workers' latest heartbeats and counts, and the queue. */
static void policy_input(struct manager *m, struct pool_input *in)
{
	memset(in, 0, sizeof(*in));
	in->w = m->pload;
	FOREACH_SLOT (m, s) {
		enum sv_state st = s->e.sv.state;

		if (st == SV_STARTING || st == SV_STOPPED)
			in->nstarting++; /* a restart due counts as starting */
		if (st != SV_RUNNING)
			continue;
		m->prun[in->nrunning] = s;
		m->pload[in->nrunning++] = (struct pool_worker){
		    s->conns, s->e.sv.figures.busy_ppm, s->e.sv.figures.lag_us};
	}
	in->queue = m->qlen + channel_queued(FD_FROM_LISTENER);
	in->now_ms = clock_now_ms();
}

static void policy_params(const struct manager *m, struct pool_params *p)
{
	p->min = m->cfg.pool_min;
	p->max = m->cfg.pool_max;
	p->max_workload = m->cfg.max_workload;
	p->scale_up_ppm = m->cfg.pool_scale_up_ppm;
	p->scale_down_ppm = m->cfg.pool_scale_down_ppm;
	p->spawn_rate_max = m->cfg.pool_spawn_rate_max;
	p->idle_timeout_ms = m->cfg.pool_idle_timeout_ms;
}

/* Log a decision and send it up for `wsctl events` and status. */
static void policy_say(
    struct manager *m, const char *kind, uint32_t from, uint32_t to, const char *reason)
{
	char detail[sizeof(((struct msg_event *)0)->detail)];

	if (snprintf(detail, sizeof(detail), "%u→%u: %s", from, to, reason) < 0)
		detail[0] = '\0';
	log_info("%s %s", kind, detail);
	manager_event(getpid(), "manager", kind, detail);
}

static void policy_grow(struct manager *m, const struct pool_decision *d)
{
	uint32_t n = 0;

	while (d->from + n < d->to && slot_new(m) != NULL)
		n++;
	if (n > 0)
		policy_say(m, "scale up", d->from, d->from + n, d->reason);
}

static void policy_shrink(struct manager *m, const struct pool_decision *d)
{
	struct slot *s = m->prun[d->victim];

	if (m->op.id != 0)
		return; /* an operation of the daemon's is replacing or draining workers */
	slot_retire(s); /* its idle keep-alive connections are parked, not closed */
	policy_say(m, "scale down", d->from, d->to, d->reason);
}

/*
 * pool.max_requests: one worker per tick that has served its share (plus a
 * jitter from its pid, so workers started together do not retire together)
 * is replaced: the new one starts, the old one drains.
 */
static void pool_recycle(struct manager *m)
{
	uint64_t max = m->cfg.pool_max_requests;
	char why[96];

	if (max == 0 || m->op.id != 0 || m->draining)
		return;
	FOREACH_SLOT (m, s) {
		uint64_t at = max + (uint64_t)s->e.sv.pid * 2654435761u % (max / 8 + 1);

		if (s->e.sv.state != SV_RUNNING || s->e.sv.figures.requests < at)
			continue;
		if (slot_new(m) == NULL)
			return;
		slot_retire(s);
		if (snprintf(why, sizeof(why), "worker %d served %llu requests (pool.max_requests)",
		        (int)s->e.sv.pid, (unsigned long long)s->e.sv.figures.requests) < 0)
			why[0] = '\0';
		log_info("recycle: %s", why);
		manager_event(s->e.sv.pid, "worker", "recycle", why);
		return;
	}
}

/* One decision of the policy (pool.c), acted on. */
static void pool_policy(struct manager *m)
{
	struct pool_params p;
	struct pool_input in;
	struct pool_decision d;

	if (m->draining || !m->configured)
		return;
	policy_params(m, &p);
	policy_input(m, &in);
	switch (pool_decide(&m->pst, &p, &in, &d)) {
	case POOL_GROW:
		policy_grow(m, &d);
		break;
	case POOL_SHRINK:
		policy_shrink(m, &d);
		break;
	case POOL_KEEP:
		break;
	}
	pool_full_warn(m, in.queue, in.now_ms);
}

static void pool_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;

	pool_policy(m);
	pool_recycle(m);
	dispatch(m);
}

/* One worker's row for the daemon's table. */
static void table_entry(
    const struct slot *s, uint64_t now, uint32_t interval_ms, struct msg_worker_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->pid = (int32_t)s->e.sv.pid;
	e->state = (uint32_t)s->e.sv.state;
	e->restarts = s->e.sv.restarts;
	e->missed = sv_missed(&s->e.sv, now, interval_ms);
	if (s->e.sv.state == SV_STOPPED && s->e.sv.restart_at_ms > now)
		e->restart_in_ms = (uint32_t)(s->e.sv.restart_at_ms - now);
	e->conns = s->conns;
	e->busy_ppm = s->e.sv.figures.busy_ppm;
	e->lag_us = s->e.sv.figures.lag_us;
	e->uptime_ms = s->e.sv.pid > 0 ? now - s->e.sv.started_ms : 0;
	e->hb_age_ms = now - s->e.sv.last_hb_ms;
	e->requests = s->e.sv.figures.requests;
	e->bytes = s->e.sv.figures.bytes;
	memcpy(e->last_exit, s->e.sv.last_exit, sizeof(e->last_exit));
}

/*
 * Every heartbeat interval: the pool as pages of one generation. A full
 * channel drops the rest of this generation; the daemon keeps the last
 * complete one and the next interval sends a new one.
 */
/*
 * After a reload: the newest configuration and root to every worker that
 * has not got them yet. A full channel (the worker is busy) is tried again
 * at the next call (each heartbeat interval).
 */
static void workers_catch_up(struct manager *m)
{
	int fd = FD_ROOT;

	FOREACH_SLOT (m, s) {
		if (s->e.sv.pid <= 0)
			continue;
		if (s->cfg_gen != m->cfg.generation &&
		    msg_send(s->e.chan, MSG_CONFIG, &m->cfg, sizeof(m->cfg), NULL, 0) == 0)
			s->cfg_gen = m->cfg.generation;
		if (s->root_gen != m->root_gen &&
		    msg_send(s->e.chan, MSG_ROOT, NULL, 0, &fd, 1) == 0)
			s->root_gen = m->root_gen;
	}
}

static void table_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	uint64_t now = clock_now_ms();
	uint32_t total = 0;
	struct msg_worker_page p;

	workers_catch_up(m);

	FOREACH_SLOT (m, s)
		total += s->e.sv.state != SV_FREE;
	memset(&p, 0, sizeof(p));
	p.generation = ++m->table_gen;
	p.pages = (uint16_t)wtable_pages(total);
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_FREE)
			continue;
		table_entry(s, now, m->cfg.heartbeat_interval_ms, &p.entries[p.n++]);
		if (p.n < MSG_WORKER_PAGE_N || p.page + 1 == p.pages)
			continue;
		if (msg_send(FD_PARENT, MSG_WORKER_TABLE, &p, sizeof(p), NULL, 0) == -1)
			return;
		p.page++;
		p.n = 0;
	}
	msg_send(FD_PARENT, MSG_WORKER_TABLE, &p, sizeof(p), NULL, 0); /* the last page */
}

static void heartbeat_fill(void *arg, struct msg_heartbeat *hb)
{
	struct manager *m = arg;

	/* Totals never go backwards: workers that exited still count. */
	sv_figures_add(hb, &m->retired);
	hb->workers = pool_size(m);
	hb->queued = m->qlen + channel_queued(FD_FROM_LISTENER); /* all that waits */
	hb->cut = m->cut;
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_FREE)
			continue;
		hb->connections += s->conns;
		sv_figures_add(hb, &s->e.sv.figures);
	}
}

/* ---- draining ---- */

/*
 * Draining, every worker is told to stop once the queue is empty and
 * nothing more can come: the listener channel, final once the daemon has
 * told us the listeners are gone, has been read to the end.
 */
static void manager_maybe_exit(struct manager *m)
{
	int alive = 0;

	if (!m->draining || (m->qlen > 0 && !m->deadline_passed))
		return;
	if (m->taking) {
		/* Room again after fd_room said no: read on, even if no new message wakes us. */
		if (may_take(m))
			event_active(&m->ev_listener, EV_READ, 1);
		return;
	}
	FOREACH_SLOT (m, s) {
		if (s->e.sv.state == SV_STOPPED) {
			svt_free(&s->e); /* was waiting to be restarted */
			continue;
		}
		if ((s->e.sv.state == SV_RUNNING || s->e.sv.state == SV_STARTING) &&
		    m->retire_workers)
			slot_retire(s);
		else if (s->e.sv.state == SV_RUNNING || s->e.sv.state == SV_STARTING)
			svt_stop(&s->e);
		alive |= s->e.sv.state != SV_FREE;
	}
	if (!alive)
		event_base_loopexit(m->base, NULL);
}

/* Connections no worker will serve now: each gets a FIN, not a reset. */
static void queue_abandon(struct manager *m)
{
	uint32_t n = m->qlen;

	for (; m->qlen > 0; m->qlen--, m->qhead = (m->qhead + 1) % m->qcap)
		msg_conn_abandon(m->queue[m->qhead].fd);
	if (n)
		log_warnx("closed %u queued connection%s no worker took in time", n, log_s(n));
}

/* A stop's deadline: what the listener handed over and we never read goes the same way. */
static unsigned channel_abandon(struct manager *m)
{
	unsigned n = 0, bad = 0;
	struct msg msg;

	while (m->taking && msg_recv_skip(FD_FROM_LISTENER, &msg, &bad) == 1) {
		for (int i = 0; i < msg.nfds; i++)
			msg_conn_abandon(msg.fds[i]);
		n += msg.nfds;
	}
	if (n || bad)
		log_warnx("closed %u connection%s left in the listener channel (%u lost)", n,
		    log_s(n), bad);
	return n;
}

/*
 * Kill the workers still running; they are reaped by sigchld_cb as usual,
 * and we exit when the last one is (never blocking the loop in waitpid).
 * Their connections are counted as cut, and so is what still waits here.
 */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	unsigned n = 0;

	FOREACH_SLOT (m, s)
		if (s->e.sv.pid > 0)
			svt_read(&s->e); /* connections they closed themselves */
	m->deadline_passed = 1;
	m->cut += m->qlen;
	queue_abandon(m);
	m->cut += channel_abandon(m);
	m->taking = 0; /* nothing more is read: exit once the workers are reaped */
	FOREACH_SLOT (m, s) {
		if (s->e.sv.pid <= 0)
			continue;
		kill(s->e.sv.pid, SIGKILL);
		m->cut += s->conns;
		s->conns = 0;
		n++;
	}
	if (n)
		log_warnx("drain deadline passed: killed %u worker%s still running", n, log_s(n));
	manager_maybe_exit(m);
}

/*
 * The drain deadline only ever comes closer: set at the stop's start, it
 * holds when the listeners are gone; the daemon's death shortens it.
 */
static void deadline_within(struct manager *m, uint32_t ms)
{
	uint64_t at = clock_now_ms() + ms;
	struct timeval tv = clock_tv(ms);

	if (evtimer_pending(&m->ev_deadline, NULL) && m->deadline_ms <= at)
		return;
	m->deadline_ms = at;
	evtimer_add(&m->ev_deadline, &tv);
}

/*
 * The whole server stops (the daemon tells us as it tells the listener):
 * take all the listener sends, queue it and give it out as workers have
 * room, so the listener can empty the kernel backlog. The deadline runs
 * from now.
 */
static void manager_stopping(struct manager *m)
{
	if (!m->configured || m->taking || m->draining)
		return;
	log_info("server stopping: taking all the listener sends");
	m->taking = 1;
	deadline_within(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS);
	listener_interest(m);
}

/*
 * Stop reading the listener channel (on a graceful restart the replacement
 * reads it; on a full stop we first take what the listener left there),
 * give every queued connection to a worker, then let the workers drain.
 */
static void manager_drain(struct manager *m, uint32_t grace_ms, int take_channel)
{
	deadline_within(m, grace_ms); /* already draining: only ever closer (the daemon gone) */
	if (m->draining)
		return;
	op_abort(m, "the manager is stopping");
	log_info("draining %u worker%s%s", pool_size(m), log_s(pool_size(m)),
	    take_channel ? ", taking what waits in the listener channel" : "");
	m->draining = 1;
	m->retire_workers = !take_channel && !m->taking; /* the server goes on */
	/* The whole server stops: serve all the listener left in the channel. */
	if (m->configured && take_channel) {
		m->taking = 1;
		listener_cb(FD_FROM_LISTENER, EV_READ, m);
	} else if (m->configured)
		dispatch(m);
	else
		event_base_loopexit(m->base, NULL);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct manager *m = arg;

	if (getppid() != m->ppid) {
		log_warnx("daemon is gone, finishing in-flight requests");
		manager_drain(m, ORPHAN_GRACE_MS, 1);
		return;
	}
	/* Told to stop by pid: the daemon starts our replacement now. */
	if (!m->draining && msg_send(FD_PARENT, MSG_DRAINING, NULL, 0, NULL, 0) == -1)
		log_warn("draining notice to daemon");
	/* The replacement reads the channel. */
	manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 0);
}

/* ---- operations asked by the daemon (scale, restart worker(s), drain) ---- */

static void op_reply(
    struct manager *m, uint32_t id, int code, int more, const int64_t *v, const char *text)
{
	struct msg_reply r = {.id = id, .code = code, .more = (uint32_t)more};

	if (v != NULL)
		memcpy(r.values, v, sizeof(r.values));
	snprintf(r.text, sizeof(r.text), "%s", text ? text : "");
	if (msg_send(FD_PARENT, MSG_REPLY, &r, sizeof(r), NULL, 0) == -1)
		log_warn("reply %u to the daemon", id);
}

/* The final reply; the next operation may come. */
static void op_end(struct manager *m, int code, const int64_t *v, const char *text)
{
	struct pool_op *op = &m->op;
	uint32_t id = op->id;

	evtimer_del(&op->ev_timeout);
	event_del(&op->ev_step);
	free(op->todo);
	memset(op, 0, offsetof(struct pool_op, ev_timeout));
	op_reply(m, id, code, 0, v, text);
}

static void op_abort(struct manager *m, const char *why)
{
	int64_t v[MSG_REPLY_VALUES] = {m->op.old_pid, (int64_t)(clock_now_ms() - m->op.start_ms)};

	if (m->op.id != 0)
		op_end(m, RPC_FAILED, v, why);
}

/* A worker serving now, by its pid: only a pid in our table is ever acted on. */
static struct slot *op_worker(struct manager *m, uint32_t pid)
{
	struct sv_entry *e = pid > 0 ? svt_by_pid(&m->tab, (pid_t)pid) : NULL;

	return e != NULL && e->sv.state == SV_RUNNING ? (struct slot *)e : NULL;
}

static void op_arm(struct manager *m)
{
	struct timeval tv = clock_tv(m->op.timeout_ms);

	m->op.step_ms = clock_now_ms();
	m->op.killed = 0;
	evtimer_add(&m->op.ev_timeout, &tv);
}

/* Start old's replacement; old drains once it is READY. 0, or -1 (replied). */
static int op_replace(struct manager *m, struct slot *old)
{
	struct pool_op *op = &m->op;

	op->old = old;
	op->old_pid = old->e.sv.pid;
	if ((op->next = slot_new(m)) == NULL) {
		op_abort(m, "could not start a replacement (see the log)");
		return -1;
	}
	op->new_pid = op->next->e.sv.pid;
	op->next->e.sv.restarts = old->e.sv.restarts + 1;
	log_info("replacing worker %d: worker %d started", (int)op->old_pid, (int)op->new_pid);
	op_arm(m);
	return 0;
}

/* restart workers: the next pid of the snapshot still serving, or the final reply. */
static void op_next_worker(struct manager *m)
{
	struct pool_op *op = &m->op;
	int64_t v[MSG_REPLY_VALUES] = {op->nreplaced};

	while (op->itodo < op->ntodo) {
		struct slot *s = op_worker(m, (uint32_t)op->todo[op->itodo++]);

		if (s != NULL) {
			op_replace(m, s);
			return;
		}
	}
	v[1] = (int64_t)(clock_now_ms() - op->start_ms);
	log_info("restarted %u worker%s", op->nreplaced, log_s(op->nreplaced));
	op_end(m, 0, v, NULL);
}

/* The replacement is serving: the old one drains (no connection follows MSG_SHUTDOWN). */
static void op_ready(struct manager *m, struct slot *s)
{
	struct pool_op *op = &m->op;

	if (op->id == 0 || s != op->next)
		return;
	op->next = NULL;
	if (op->old == NULL) {
		event_active(&op->ev_step, EV_TIMEOUT, 1); /* it died meanwhile */
		return;
	}
	log_info("worker %d ready, draining %d", (int)op->new_pid, (int)op->old_pid);
	slot_retire(op->old);
}

/*
 * A worker of the operation was reaped. The replacement before READY:
 * the operation fails, the old one serves on. The old one: this step is
 * done once the replacement is ready (outside the table's hook).
 */
static int op_exited(struct manager *m, struct slot *s, struct svt_exit *x, enum svt_after *after)
{
	struct pool_op *op = &m->op;
	char why[MSG_REPLY_TEXT];

	if (op->id == 0 || (s != op->next && s != op->old))
		return 0;
	if (s == op->next) {
		snprintf(why, sizeof(why), "the replacement %d exited before it was ready (%s)",
		    (int)x->pid, s->e.sv.last_exit);
		op->next = NULL;
		*after = SVT_FREE;
		op_abort(m, why);
		return 1;
	}
	op->old = NULL;
	*after = x->was == SV_DRAINING ? SVT_FINISHED : SVT_FREE; /* replaced either way */
	if (op->next == NULL)
		event_active(&op->ev_step, EV_TIMEOUT, 1);
	return 1;
}

/* For wsctl events: what the daemon asked for, done. */
static void op_note(const struct pool_op *op, int64_t ms)
{
	char detail[96];

	if (op->op == MSG_OP_DRAIN)
		snprintf(detail, sizeof(detail), "asked, in %lld ms%s", (long long)ms,
		    op->killed ? ", killed" : "");
	else
		snprintf(detail, sizeof(detail), "replaced %d in %lld ms%s", (int)op->old_pid,
		    (long long)ms, op->killed ? ", killed" : "");
	manager_event(op->op == MSG_OP_DRAIN ? op->old_pid : op->new_pid, "worker",
	    op->op == MSG_OP_DRAIN ? "drained" : "restarted", detail);
}

/* One worker replaced (or drained): reply, or go on to the next. */
static void op_step_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct pool_op *op = &m->op;
	int64_t ms = (int64_t)(clock_now_ms() - op->step_ms);
	int64_t rv[MSG_REPLY_VALUES] = {op->old_pid, op->new_pid, ms, op->killed};
	int64_t dv[MSG_REPLY_VALUES] = {op->old_pid, ms, op->killed};

	if (op->id == 0 || op->old != NULL || op->next != NULL)
		return;
	evtimer_del(&op->ev_timeout);
	op_note(op, ms);
	if (op->op == MSG_OP_DRAIN) {
		op_end(m, 0, dv, NULL);
	} else if (op->op == MSG_OP_RESTART_WORKER) {
		op_end(m, 0, rv, NULL);
	} else {
		op->nreplaced++;
		op_reply(m, op->id, 0, 1, rv, NULL);
		op_next_worker(m);
	}
}

/*
 * The operation's timeout: a replacement not ready is killed (its exit
 * fails the operation); an old one still draining is killed, and the
 * step ends when it has been reaped.
 */
static void op_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool_op *op = &((struct manager *)arg)->op;

	if (op->next != NULL) {
		log_warnx("worker %d not ready in time, killing it; %d serves on", (int)op->new_pid,
		    (int)op->old_pid);
		kill(op->new_pid, SIGKILL);
	} else if (op->old != NULL) {
		log_warnx("worker %d still draining at the timeout, killing it", (int)op->old_pid);
		op->killed = 1;
		kill(op->old_pid, SIGKILL);
	}
}

/* The worker to retire first: one waiting to be restarted, else the least busy. */
static struct slot *retire_pick(struct manager *m)
{
	struct slot *best = NULL;

	FOREACH_SLOT (m, s) {
		enum sv_state st = s->e.sv.state;

		if (st == SV_STOPPED)
			return s;
		if (st != SV_RUNNING && st != SV_STARTING)
			continue;
		if (best == NULL || s->conns < best->conns)
			best = s;
	}
	return best;
}

/* New bounds, at once: spawn up to min, drain down to max (a busy worker finishes first). */
static void op_scale(struct manager *m, const struct msg_request *rq)
{
	uint32_t min = rq->args[0], max = rq->args[1];
	int64_t v[MSG_REPLY_VALUES] = {0};
	struct slot *s;

	if (min < 1 || min > max || max > m->cfg.pool_limit) {
		op_reply(m, rq->id, RPC_INVALID_PARAMS, 0, NULL, "bounds out of range");
		return;
	}
	m->cfg.pool_min = min;
	m->cfg.pool_max = max;
	pool_fill(m);
	while (pool_size(m) > max && (s = retire_pick(m)) != NULL) {
		log_info("pool above its max %u: retiring worker %d (%u connection%s)", max,
		    (int)s->e.sv.pid, s->conns, log_s(s->conns));
		if (s->e.sv.state == SV_STOPPED)
			svt_free(&s->e);
		else
			slot_retire(s);
	}
	v[0] = pool_size(m);
	log_info("pool bounds %u..%u: %u worker%s", min, max, pool_size(m), log_s(pool_size(m)));
	op_reply(m, rq->id, 0, 0, v, NULL);
	dispatch(m);
}

/* drain: refused if it would take the pool below min. */
static void op_drain(struct manager *m, struct slot *s)
{
	struct pool_op *op = &m->op;
	char why[MSG_REPLY_TEXT];

	if (pool_size(m) <= m->cfg.pool_min) {
		snprintf(why, sizeof(why),
		    "the pool has %u worker%s, pool min is %u: no worker to spare", pool_size(m),
		    log_s(pool_size(m)), m->cfg.pool_min);
		op_abort(m, why);
		return;
	}
	op->old = s;
	op->old_pid = s->e.sv.pid;
	log_info("draining worker %d, asked by the daemon", (int)op->old_pid);
	slot_retire(s);
	op_arm(m);
}

static int op_refused(struct manager *m, const struct msg_request *rq, int code, const char *why)
{
	op_reply(m, rq->id, code, 0, NULL, why);
	return -1;
}

/* Checks common to all but scale; 0, or -1 (replied). */
static int op_check(struct manager *m, const struct msg_request *rq, struct slot **s)
{
	char why[MSG_REPLY_TEXT];

	if (m->op.id != 0)
		return op_refused(m, rq, RPC_BUSY, "busy: another pool operation is in progress");
	if (m->draining || !m->configured)
		return op_refused(m, rq, RPC_FAILED, "the manager is stopping");
	*s = NULL;
	if (rq->op == MSG_OP_RESTART_WORKERS)
		return 0;
	if ((*s = op_worker(m, rq->args[0])) == NULL) {
		snprintf(
		    why, sizeof(why), "pid %u is not a running worker of the pool", rq->args[0]);
		return op_refused(m, rq, RPC_INVALID_PARAMS, why);
	}
	return 0;
}

/* restart workers: the pids serving now, replaced one at a time. */
static void op_restart_all(struct manager *m)
{
	struct pool_op *op = &m->op;

	if ((op->todo = calloc(m->tab.end + 1, sizeof(*op->todo))) == NULL) {
		op_abort(m, "out of memory");
		return;
	}
	FOREACH_SLOT (m, s)
		if (s->e.sv.state == SV_RUNNING)
			op->todo[op->ntodo++] = s->e.sv.pid;
	log_info("restarting %u worker%s, one at a time", op->ntodo, log_s(op->ntodo));
	op_next_worker(m);
}

static void op_request(struct manager *m, const struct msg_request *rq)
{
	struct pool_op *op = &m->op;
	struct slot *s;

	if (rq->op == MSG_OP_SCALE) {
		op_scale(m, rq);
		return;
	}
	if (rq->op < MSG_OP_RESTART_WORKER || rq->op > MSG_OP_DRAIN) {
		op_refused(m, rq, RPC_INVALID_PARAMS, "unknown pool operation");
		return;
	}
	if (op_check(m, rq, &s) == -1)
		return;
	op->id = rq->id;
	op->op = rq->op;
	op->timeout_ms = rq->args[1] ? rq->args[1] : m->cfg.shutdown_timeout_ms;
	op->start_ms = clock_now_ms();
	if (rq->op == MSG_OP_RESTART_WORKER)
		op_replace(m, s);
	else if (rq->op == MSG_OP_DRAIN)
		op_drain(m, s);
	else
		op_restart_all(m);
}

/* ---- the daemon channel ---- */

/* A reopened log: to every worker first, then ours (new workers inherit it). */
static void manager_reopen(struct manager *m, int type, int fd)
{
	svt_send_log(&m->tab, type, fd);
	proc_adopt_log(type, fd);
}

/* Descriptors open now: counted once, at configuration; from then on we keep count. */
static uint32_t fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint32_t n = 0;

	if (d == NULL) {
		log_warn("/proc/self/fd, assuming 32 descriptors open");
		return 32;
	}
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/*
 * A worker holds a socket and, while it sends, a file per connection: keep
 * max_workload within the descriptor limit (the workers' is ours).
 */
static void workload_clamp(struct manager *m)
{
	long most = (msg_fd_limit() - MSG_FD_RESERVE) / 2;

	if (most < 1)
		most = 1;
	if (m->cfg.max_workload <= most)
		return;
	log_warnx("pool.max_workload %u lowered to %ld: the descriptor limit is %ld",
	    m->cfg.max_workload, most, msg_fd_limit());
	m->cfg.max_workload = (uint32_t)most;
}

/*
 * A worker's event, for the daemon's event log. A full channel loses it
 * (the daemon is not reading): events are for people, never for control.
 */
static void manager_event(pid_t pid, const char *role, const char *kind, const char *detail)
{
	struct msg_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.pid = (int32_t)pid;
	snprintf(ev.role, sizeof(ev.role), "%s", role);
	snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
	snprintf(ev.detail, sizeof(ev.detail), "%.*s", (int)sizeof(ev.detail) - 1, detail);
	if (msg_send(FD_PARENT, MSG_EVENT, &ev, sizeof(ev), NULL, 0) == -1 && errno != EAGAIN)
		log_debug(
		    "event %s of %s %d to the daemon: %s", kind, role, (int)pid, strerror(errno));
}

static void slot_event(
    struct sv_entry *e, pid_t pid, const char *kind, const char *detail, void *arg)
{
	manager_event(pid, e->sv.role, kind, detail);
}

static const struct svt_hooks slot_hooks = {
    .event = slot_event,
    .spawn = slot_spawn,
    .restart = slot_restart,
    .ready = slot_ready,
    .draining = slot_draining,
    .msg = slot_msg,
    .exited = worker_exited,
    .release = slot_release,
};

/*
 * A newer generation (a reload): the pool bounds, workload, timeouts, log
 * level and heartbeat settings change live; the timers take the new
 * periods; the workers get it too (new ones get it at start). pool.limit
 * and the access log stay: the daemon replaces us when they change.
 */
static void manager_reconfigure(struct manager *m, const struct msg_config *cfg)
{
	struct sv_limits lim = {
	    cfg->heartbeat_interval_ms, cfg->heartbeat_misses, cfg->startup_timeout_ms};
	struct timeval tv = clock_tv(cfg->heartbeat_interval_ms);
	uint32_t limit = m->cfg.pool_limit, has_access_log = m->cfg.has_access_log;

	if (cfg->generation <= m->cfg.generation)
		return; /* a replacement may find its predecessor's copy queued too */
	log_info("configuration generation %u: pool %u..%u", cfg->generation, cfg->pool_min,
	    cfg->pool_max);
	m->cfg = *cfg;
	m->cfg.pool_limit = limit;
	m->cfg.has_access_log = has_access_log;
	m->cfg.pool_min = cfg->pool_min < limit ? cfg->pool_min : limit;
	m->cfg.pool_max = cfg->pool_max < limit ? cfg->pool_max : limit;
	workload_clamp(m);
	log_setlevel((enum log_level)cfg->log_level);
	svt_relimit(&m->tab, &lim);
	heartbeat_interval(&m->hb, cfg->heartbeat_interval_ms);
	event_add(&m->ev_table, &tv);
	workers_catch_up(m);
	pool_fill(m);
	dispatch(m);
}

/* The new document root: ours (new workers inherit it), then every worker's. */
static void manager_root(struct manager *m, int fd)
{
	if (dup2(fd, FD_ROOT) == -1)
		log_warn("new document root");
	close(fd);
	m->root_gen++;
	workers_catch_up(m);
}

static void manager_configure(struct manager *m, const struct msg_config *cfg)
{
	struct sv_limits lim = {
	    cfg->heartbeat_interval_ms, cfg->heartbeat_misses, cfg->startup_timeout_ms};
	struct timeval tv = clock_tv(cfg->heartbeat_interval_ms);

	if (m->configured) {
		manager_reconfigure(m, cfg);
		return;
	}
	m->cfg = *cfg;
	m->configured = 1;
	workload_clamp(m);
	m->fd_base = fds_open();
	log_setlevel((enum log_level)cfg->log_level);
	if ((m->slots = calloc(cfg->pool_limit, sizeof(*m->slots))) == NULL ||
	    (m->pload = calloc(cfg->pool_limit, sizeof(*m->pload))) == NULL ||
	    (m->prun = calloc(cfg->pool_limit, sizeof(*m->prun))) == NULL)
		fatal("worker table");
	svt_init(&m->tab, m->base, m->slots, sizeof(*m->slots), cfg->pool_limit, &slot_hooks, m,
	    &m->cfg);
	m->tab.pool = 1;
	heartbeat_start(&m->hb, m->base, FD_PARENT, cfg->heartbeat_interval_ms, heartbeat_fill, m);
	svt_watch(&m->tab, &lim);
	event_assign(&m->ev_table, m->base, -1, EV_PERSIST, table_cb, m);
	event_add(&m->ev_table, &tv);
	tv = clock_tv(POOL_TICK_MS);
	event_assign(&m->ev_pool, m->base, -1, EV_PERSIST, pool_tick_cb, m);
	event_add(&m->ev_pool, &tv);
	pool_fill(m);
	listener_interest(m);
}

static void parent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;
	struct msg msg;
	int rc;

	while ((rc = msg_recv(fd, &msg)) == 1) {
		if (msg.hdr.type == MSG_CONFIG)
			manager_configure(m, &msg.u.config);
		else if (msg.hdr.type == MSG_STOPPING)
			manager_stopping(m);
		else if (msg.hdr.type == MSG_SHUTDOWN)
			manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 1);
		else if (msg.hdr.type == MSG_RETIRE) /* the replacement reads the channel */
			manager_drain(m, m->cfg.shutdown_timeout_ms + DEADLINE_MARGIN_MS, 0);
		else if (msg.hdr.type == MSG_LOG_ERROR || msg.hdr.type == MSG_LOG_ACCESS)
			manager_reopen(m, msg.hdr.type, msg.fds[0]);
		else if (msg.hdr.type == MSG_REQUEST)
			op_request(m, &msg.u.req);
		else if (msg.hdr.type == MSG_ROOT)
			manager_root(m, msg.fds[0]);
		else {
			log_warnx("unexpected %s message from daemon", msg_type_name(msg.hdr.type));
			msg_close_fds(&msg);
		}
	}
	if (msg_peer_gone(rc)) {
		event_del(&m->ev_parent);
		log_warnx("daemon channel closed, finishing in-flight requests");
		manager_drain(m, ORPHAN_GRACE_MS, 1);
	} else if (errno == EBADMSG)
		log_warnx("malformed message from daemon, dropped");
}

int manager_main(void)
{
	struct manager m = {0};

	proc_child_init("manager");
	m.ppid = getppid();
	if ((m.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	heartbeat_base_init(m.base);
	event_assign(&m.ev_parent, m.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &m);
	event_add(&m.ev_parent, NULL);
	event_assign(
	    &m.ev_listener, m.base, FD_FROM_LISTENER, EV_READ | EV_PERSIST, listener_cb, &m);
	evsignal_assign(&m.ev_chld, m.base, SIGCHLD, sigchld_cb, &m);
	evsignal_add(&m.ev_chld, NULL);
	evtimer_assign(&m.ev_deadline, m.base, deadline_cb, &m);
	evsignal_assign(&m.ev_term, m.base, SIGTERM, sigterm_cb, &m);
	evsignal_add(&m.ev_term, NULL);
	evtimer_assign(&m.op.ev_timeout, m.base, op_timeout_cb, &m);
	evtimer_assign(&m.op.ev_step, m.base, op_step_cb, &m);
	event_base_dispatch(m.base);
	/* What was taken back from killed workers: closed cleanly, and counted. */
	m.cut += m.qlen;
	queue_abandon(&m);
	heartbeat_send(&m.hb); /* the last figures: what was cut at the deadline */
	log_info("exiting; waited %llu time%s for room in a worker's channel, %llu for descriptors "
	         "in flight",
	    (unsigned long long)m.full_waits, log_s(m.full_waits),
	    (unsigned long long)m.refs_waits);
	event_base_free(m.base); /* before the slots: their events live there */
	free(m.slots);
	free(m.pload);
	free(m.prun);
	free(m.queue);
	free(m.op.todo);
	return 0;
}
