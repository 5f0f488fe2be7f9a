/*
 * The manager's pool: the policy's decisions (pool.c) acted on, and the
 * operations the daemon asks for (scale, restart worker(s), drain).
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

#include "manager_int.h"

#define FULL_WARN_MS 10000

/* At pool.max with connections waiting: tell the operator (at most every 10 s) why clients wait. */
static void pool_full_warn(struct manager *m, const struct pool_input *in)
{
	uint32_t queue = in->queue;
	uint64_t now = in->now_ms;

	if (queue == 0 || pool_size(m) < m->cfg.pool_max || now - m->full_warned_ms < FULL_WARN_MS)
		return;
	/* A batch caught in the channel between two reads is no sign of a full pool. */
	for (uint32_t i = 0; i < in->nrunning; i++)
		if (in->w[i].conns < m->cfg.max_workload)
			return;
	m->full_warned_ms = now;
	log_warnx("pool full: %u worker%s with %u connection%s each (pool.max, "
	          "pool.max_workload); %u connection%s wait in the listener channel",
	    pool_size(m), log_s(pool_size(m)), m->cfg.max_workload, log_s(m->cfg.max_workload),
	    queue, log_s(queue));
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
	in->emptied = m->queue_emptied;
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
void pool_policy(struct manager *m)
{
	struct pool_params p;
	struct pool_input in;
	struct pool_decision d;

	if (m->draining || !m->configured)
		return;
	policy_params(m, &p);
	policy_input(m, &in);
	m->queue_emptied = 0;
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
	pool_full_warn(m, &in);
}

void pool_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct manager *m = arg;

	pool_policy(m);
	pool_recycle(m);
	dispatch(m);
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

void op_abort(struct manager *m, const char *why)
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
void op_ready(struct manager *m, struct slot *s)
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
int op_exited(struct manager *m, struct slot *s, struct svt_exit *x, enum svt_after *after)
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
void op_step_cb(evutil_socket_t fd, short what, void *arg)
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
void op_timeout_cb(evutil_socket_t fd, short what, void *arg)
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

void op_request(struct manager *m, const struct msg_request *rq)
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
