/* The daemon's side of the control plane: see ctlops.h. */
#include "ctlops.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "control.h"
#include "ctlpath.h"
#include "daemon_int.h"
#include "jsonrpc.h"
#include "log.h"
#include "metrics.h"
#include "status.h"

#define FOLLOWERS_MAX CONTROL_MAX_CLIENTS

struct ctlops {
	struct daemon *d;
	struct control *ctl;
	/* The one mutating operation at a time: its name and since when. */
	const char *busy;
	int64_t busy_since_ms;
	/* Clients following events (events -f). */
	struct control_reply *follow[FOLLOWERS_MAX];
	unsigned nfollow;
};

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- the one operation at a time ---- */

/* 0 and marked busy, or -1 answered with RPC_BUSY (or RPC_STOPPING). */
static int take_turn(struct ctlops *c, const char *op, struct control_reply *r)
{
	cJSON *data;
	char since[32];

	if (daemon_stopping(c->d)) {
		control_reply_error(r, RPC_STOPPING, "the server is stopping", NULL);
		return -1;
	}
	if (c->busy == NULL) {
		c->busy = op;
		c->busy_since_ms = wall_ms();
		return 0;
	}
	data = cJSON_CreateObject();
	status_time(c->busy_since_ms, since, sizeof(since));
	cJSON_AddStringToObject(data, "operation", c->busy);
	cJSON_AddStringToObject(data, "since", since);
	control_reply_error(r, RPC_BUSY, "busy: another operation is in progress", data);
	return -1;
}

static void end_turn(struct ctlops *c) { c->busy = NULL; }

/* ---- read-only methods ---- */

static void do_status(struct ctlops *c, struct control_reply *r)
{
	size_t max = daemon_status_rows(c->d);
	struct status_proc *rows = calloc(max, sizeof(*rows));
	struct status_view v;

	if (rows == NULL) {
		control_reply_error(r, RPC_INTERNAL, "out of memory", NULL);
		return;
	}
	daemon_status(c->d, &v, rows, max);
	control_reply_result(r, status_json(&v));
	free(rows);
}

/* metrics: the same text GET /metrics serves (one builder for both). */
static void do_metrics(struct ctlops *c, struct control_reply *r)
{
	size_t len = 0;
	char *text = daemon_metrics(c->d, &len);
	cJSON *o = cJSON_CreateObject();

	if (text == NULL || o == NULL ||
	    cJSON_AddStringToObject(o, "content_type", METRICS_CONTENT_TYPE) == NULL ||
	    cJSON_AddStringToObject(o, "text", text) == NULL) {
		cJSON_Delete(o);
		free(text);
		control_reply_error(r, RPC_INTERNAL, "out of memory", NULL);
		return;
	}
	free(text);
	control_reply_result(r, o);
}

static void follow_add(struct ctlops *c, struct control_reply *r)
{
	if (c->nfollow == FOLLOWERS_MAX) {
		control_reply_end(r);
		return;
	}
	c->follow[c->nfollow++] = r;
}

static void follow_drop(struct ctlops *c, unsigned i)
{
	control_reply_end(c->follow[i]);
	c->follow[i] = c->follow[--c->nfollow];
}

/* events {since, follow}: what the log holds after since, then (follow) every new one. */
static void do_events(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	struct elog *l = daemon_events(c->d);
	int64_t since = cmd_get_int(params, "since", 0);
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "events");

	for (const struct elog_rec *e = elog_since(l, (uint64_t)since + 1); e; e = elog_next(l, e))
		cJSON_AddItemToArray(list, status_event_json(e));
	cJSON_AddNumberToObject(res, "last_seq", (double)(l->next_seq - 1));
	if (!cmd_get_bool(params, "follow", 0)) {
		control_reply_result(r, res);
		return;
	}
	if (control_reply_follow(r, res) == 0)
		follow_add(c, r);
}

/* The event log's hook: push each new event to every follower. */
static int follow_index(const struct ctlops *c, const struct control_reply *r)
{
	for (unsigned i = 0; i < c->nfollow; i++)
		if (c->follow[i] == r)
			return (int)i;
	return -1;
}

/*
 * The event log's hook: push each new event to every follower. A push can
 * close its client, and with it the client's other followers (gone()
 * drops them from the array meanwhile): walk a copy, and find each handle
 * afresh before using it.
 */
static void event_added(const struct elog_rec *e, void *arg)
{
	struct ctlops *c = arg;
	struct control_reply *snap[FOLLOWERS_MAX];
	unsigned n = c->nfollow;
	int at;

	memcpy(snap, c->follow, n * sizeof(snap[0]));
	for (unsigned i = 0; i < n; i++) {
		if (follow_index(c, snap[i]) < 0)
			continue; /* its client went away during this walk */
		if (control_push(snap[i], "event", status_event_json(e)) == 0)
			continue;
		if ((at = follow_index(c, snap[i])) >= 0)
			follow_drop(c, (unsigned)at);
	}
}

/* ---- mutating methods ---- */

static void do_log_reopen(struct ctlops *c, struct control_reply *r)
{
	const char *reopened[3];
	cJSON *res, *list;

	if (take_turn(c, "log-reopen", r) == -1)
		return;
	daemon_log_reopen(c->d, reopened);
	res = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(res, "reopened");
	for (int i = 0; reopened[i]; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(reopened[i]));
	end_turn(c);
	control_reply_result(r, res);
}

static void stop_done(void *arg, const struct daemon_stop_report *rep)
{
	cJSON *res = cJSON_CreateObject();
	cJSON *stopped = cJSON_AddArrayToObject(res, "stopped");
	cJSON *killed = cJSON_AddArrayToObject(res, "killed");

	cJSON_AddNumberToObject(res, "seconds", (double)rep->ms / 1000);
	for (unsigned i = 0; i < rep->n; i++) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "role", rep->procs[i].role);
		cJSON_AddNumberToObject(p, "pid", rep->procs[i].pid);
		cJSON_AddItemToArray(rep->procs[i].killed ? killed : stopped, p);
	}
	cJSON_AddNumberToObject(res, "connections_cut", (double)rep->cut);
	control_reply_result(arg, res);
}

/* stop {timeout}: never refused as busy; the reply comes once every child has gone. */
static void do_stop(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	const struct ctl_peer *p = control_reply_peer(r);
	double timeout = cmd_get_num(params, "timeout", 0);
	char why[64];

	snprintf(why, sizeof(why), "stop asked by uid %d pid %d", (int)p->uid, (int)p->pid);
	if (daemon_stop_by(c->d, why, (uint32_t)(timeout * 1000), stop_done, r) == -1)
		control_reply_error(r, RPC_STOPPING, "the server is stopping", NULL);
}

struct restart_call {
	struct ctlops *c;
	struct control_reply *r;
};

static void restart_done(void *arg, const struct daemon_restart_report *rep)
{
	struct restart_call *rc = arg;
	cJSON *o = cJSON_CreateObject();

	end_turn(rc->c);
	cJSON_AddStringToObject(o, "target", rep->role);
	cJSON_AddNumberToObject(o, "old_pid", rep->old_pid);
	if (rep->failed) {
		cJSON_AddStringToObject(o, "cause", rep->cause);
		control_reply_error(rc->r, RPC_FAILED, rep->cause, o);
	} else {
		cJSON_AddNumberToObject(o, "new_pid", rep->new_pid);
		cJSON_AddNumberToObject(o, "seconds", (double)rep->ms / 1000);
		cJSON_AddBoolToObject(o, "killed", rep->killed);
		control_reply_result(rc->r, o);
	}
	free(rc);
}

static void pool_restart(struct ctlops *c, const cJSON *params, struct control_reply *r);

/* restart {target, pid, timeout}: the listener or the manager here; workers go to the manager. */
static int do_restart(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	const char *target = cmd_get_str(params, "target", "");
	double timeout = cmd_get_num(params, "timeout", 0);
	struct restart_call *rc;
	char err[128];

	if (strcmp(target, "workers") == 0 || strcmp(target, "worker") == 0) {
		pool_restart(c, params, r);
		return 0;
	}
	if (strcmp(target, "listener") != 0 && strcmp(target, "manager") != 0)
		return -1;
	if (take_turn(c, "restart", r) == -1)
		return 0;
	if ((rc = malloc(sizeof(*rc))) == NULL) {
		end_turn(c);
		control_reply_error(r, RPC_INTERNAL, "out of memory", NULL);
		return 0;
	}
	*rc = (struct restart_call){c, r};
	if (daemon_restart_role(c->d, target, (uint32_t)(timeout * 1000), restart_done, rc, err,
	        sizeof(err)) == -1) {
		end_turn(c);
		free(rc);
		control_reply_error(r, RPC_FAILED, err, NULL);
	}
	return 0;
}

/* ---- the worker pool: scale, restart worker(s), drain (the manager answers) ---- */

struct pool_call {
	struct ctlops *c;
	struct control_reply *r;
	enum msg_op op;
	struct daemon_bounds old, now; /* scale */
};

static cJSON *bounds_json(const struct daemon_bounds *b)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "min", b->min);
	cJSON_AddNumberToObject(o, "max", b->max);
	return o;
}

static cJSON *scale_json(const struct daemon_bounds *old, const struct daemon_bounds *now)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToObject(o, "old", bounds_json(old));
	cJSON_AddItemToObject(o, "new", bounds_json(now));
	return o;
}

/* One replacement: values {old_pid, new_pid, ms, killed}. */
static cJSON *replaced_json(cJSON *o, const int64_t *v)
{
	cJSON_AddNumberToObject(o, "old_pid", (double)v[0]);
	cJSON_AddNumberToObject(o, "new_pid", (double)v[1]);
	cJSON_AddNumberToObject(o, "seconds", (double)v[2] / 1000);
	cJSON_AddBoolToObject(o, "killed", v[3] != 0);
	return o;
}

/* restart workers: every replacement, in order, then the total time (values {n, ms}). */
static cJSON *workers_json(const struct poolreq_result *res)
{
	cJSON *o = cJSON_CreateObject(), *list;

	cJSON_AddStringToObject(o, "target", "workers");
	cJSON_AddNumberToObject(o, "seconds", (double)res->values[1] / 1000);
	list = cJSON_AddArrayToObject(o, "replaced");
	for (unsigned i = 0; i < res->nitems; i++)
		cJSON_AddItemToArray(
		    list, replaced_json(cJSON_CreateObject(), res->items[i].values));
	return o;
}

static cJSON *pool_result_json(const struct pool_call *pc, const struct poolreq_result *res)
{
	cJSON *o;

	switch (pc->op) {
	case MSG_OP_SCALE:
		return scale_json(&pc->old, &pc->now);
	case MSG_OP_RESTART_WORKERS:
		return workers_json(res);
	case MSG_OP_RESTART_WORKER:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "target", "worker");
		return replaced_json(o, res->values);
	default: /* drain: values {pid, ms, killed} */
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", (double)res->values[0]);
		cJSON_AddNumberToObject(o, "seconds", (double)res->values[1] / 1000);
		cJSON_AddBoolToObject(o, "killed", res->values[2] != 0);
		return o;
	}
}

/* An error: the cause, the pid concerned, and what a rolling restart had replaced already. */
static void pool_error(const struct pool_call *pc, const struct poolreq_result *res)
{
	cJSON *data = pc->op == MSG_OP_RESTART_WORKERS ? workers_json(res) : cJSON_CreateObject();

	cJSON_AddStringToObject(data, "cause", res->text);
	if (pc->op == MSG_OP_SCALE) /* held all the same: the next manager starts with them */
		cJSON_AddItemToObject(data, "new", bounds_json(&pc->now));
	else if (res->values[0] > 0)
		cJSON_AddNumberToObject(data, "old_pid", (double)res->values[0]);
	control_reply_error(pc->r, res->code, res->text, data);
}

static void pool_done(void *arg, const struct poolreq_result *res)
{
	struct pool_call *pc = arg;

	end_turn(pc->c);
	if (res->code != 0)
		pool_error(pc, res);
	else
		control_reply_result(pc->r, pool_result_json(pc, res));
	free(pc);
}

/* The turn taken and a call record, or NULL (answered). */
static struct pool_call *pool_call_new(
    struct ctlops *c, const char *name, enum msg_op op, struct control_reply *r)
{
	struct pool_call *pc;

	if (take_turn(c, name, r) == -1)
		return NULL;
	if ((pc = calloc(1, sizeof(*pc))) == NULL) {
		end_turn(c);
		control_reply_error(r, RPC_INTERNAL, "out of memory", NULL);
		return NULL;
	}
	*pc = (struct pool_call){.c = c, .r = r, .op = op};
	return pc;
}

static void pool_refused(struct pool_call *pc, int code, const char *err)
{
	end_turn(pc->c);
	control_reply_error(pc->r, code, err, NULL);
	free(pc);
}

/* scale {min, max}: either may be left out (it keeps its value in effect). */
static void do_scale(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	struct pool_call *pc = pool_call_new(c, "scale", MSG_OP_SCALE, r);
	char err[128];
	int rc;

	if (pc == NULL)
		return;
	rc = daemon_scale(c->d, (uint32_t)cmd_get_int(params, "min", 0),
	    (uint32_t)cmd_get_int(params, "max", 0), &pc->old, &pc->now, pool_done, pc, err,
	    sizeof(err));
	if (rc == -1)
		pool_refused(pc, RPC_INVALID_PARAMS, err);
	else if (rc == 1) { /* no manager to tell now: the next one starts with them */
		end_turn(c);
		control_reply_result(r, scale_json(&pc->old, &pc->now));
		free(pc);
	}
}

static void pool_send_op(struct pool_call *pc, uint32_t pid, const cJSON *params)
{
	double timeout = cmd_get_num(params, "timeout", 0);
	char err[128];

	if (daemon_pool_op(pc->c->d, pc->op, pid, (uint32_t)(timeout * 1000), pool_done, pc, err,
	        sizeof(err)) == -1)
		pool_refused(pc, RPC_FAILED, err);
}

/* restart {target: workers} (rolling) or {target: worker, pid}. */
static void pool_restart(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	int one = strcmp(cmd_get_str(params, "target", ""), "worker") == 0;
	struct pool_call *pc = pool_call_new(
	    c, "restart", one ? MSG_OP_RESTART_WORKER : MSG_OP_RESTART_WORKERS, r);

	if (pc != NULL)
		pool_send_op(pc, (uint32_t)cmd_get_int(params, "pid", 0), params);
}

/* drain {pid}: retire one worker without a replacement, never below min. */
static void do_drain(struct ctlops *c, const cJSON *params, struct control_reply *r)
{
	struct pool_call *pc = pool_call_new(c, "drain", MSG_OP_DRAIN, r);

	if (pc != NULL)
		pool_send_op(pc, (uint32_t)cmd_get_int(params, "pid", 0), params);
}

/* ---- reload ---- */

/* The refusal: -32002 with every error line in data.errors. */
static void reload_refused(struct control_reply *r, const struct daemon_reload_report *rep)
{
	cJSON *data = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(data, "errors");
	char msg[64];

	for (const char *l = rep->errors, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		char line[CONFIG_ERRLEN + PATH_MAX];

		snprintf(line, sizeof(line), "%.*s", (int)(nl - l), l);
		cJSON_AddItemToArray(list, cJSON_CreateString(line));
	}
	snprintf(msg, sizeof(msg), "reload refused: %d error%s", rep->nerrors, log_s(rep->nerrors));
	control_reply_error(r, RPC_FAILED, msg, data);
}

static void reload_done(void *arg, const struct daemon_reload_report *rep)
{
	struct restart_call *rc = arg;
	cJSON *res, *list;

	end_turn(rc->c);
	if (rc->r == NULL || strcmp(rep->result, "refused") == 0) {
		if (rc->r != NULL)
			reload_refused(rc->r, rep);
		free(rc);
		return;
	}
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "result", rep->result);
	cJSON_AddNumberToObject(res, "generation", rep->generation);
	list = cJSON_AddArrayToObject(res, "changes");
	for (int i = 0; i < rep->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "key", rep->changes[i].c.key);
		cJSON_AddStringToObject(o, "old", rep->changes[i].c.from);
		cJSON_AddStringToObject(o, "new", rep->changes[i].c.to);
		cJSON_AddStringToObject(o, "applied", rep->changes[i].applied);
		cJSON_AddItemToArray(list, o);
	}
	control_reply_result(rc->r, res);
	free(rc);
}

/* reload, or SIGHUP (r NULL: the outcome goes to the log only); 0, or -1 when refused now. */
static int reload_start(struct ctlops *c, const char *why, struct control_reply *r)
{
	struct restart_call *rc = malloc(sizeof(*rc));

	if (rc == NULL) {
		end_turn(c);
		return -1;
	}
	*rc = (struct restart_call){c, r};
	if (daemon_reload(c->d, why, reload_done, rc) == -1) {
		end_turn(c);
		free(rc);
		return -1;
	}
	return 0;
}

static void do_reload(struct ctlops *c, struct control_reply *r)
{
	const struct ctl_peer *p = control_reply_peer(r);
	char why[64];

	if (take_turn(c, "reload", r) == -1)
		return;
	snprintf(why, sizeof(why), "asked by uid %d pid %d", (int)p->uid, (int)p->pid);
	if (reload_start(c, why, r) == -1)
		control_reply_error(
		    r, RPC_FAILED, "reload not started: a restart is in progress", NULL);
}

void ctlops_reload_signal(struct ctlops *c)
{
	if (daemon_stopping(c->d))
		return;
	if (c->busy != NULL) {
		log_warnx("SIGHUP: reload not started: busy with %s", c->busy);
		return;
	}
	c->busy = "reload";
	c->busy_since_ms = wall_ms();
	if (reload_start(c, "SIGHUP", NULL) == -1)
		log_warnx("SIGHUP: reload not started: a restart is in progress");
}

/* ---- dispatch ---- */

static int call(void *ctx, const struct cmd *cmd, const cJSON *params, struct control_reply *r)
{
	struct ctlops *c = ctx;

	if (strcmp(cmd->name, "status") == 0)
		do_status(c, r);
	else if (strcmp(cmd->name, "events") == 0)
		do_events(c, params, r);
	else if (strcmp(cmd->name, "metrics") == 0)
		do_metrics(c, r);
	else if (strcmp(cmd->name, "log-reopen") == 0)
		do_log_reopen(c, r);
	else if (strcmp(cmd->name, "stop") == 0)
		do_stop(c, params, r);
	else if (strcmp(cmd->name, "restart") == 0)
		return do_restart(c, params, r);
	else if (strcmp(cmd->name, "scale") == 0)
		do_scale(c, params, r);
	else if (strcmp(cmd->name, "drain") == 0)
		do_drain(c, params, r);
	else if (strcmp(cmd->name, "reload") == 0)
		do_reload(c, r);
	else
		return -1; /* not available in this server yet */
	return 0;
}

/* A follower's client went away: release its handle now. */
static void gone(void *ctx, struct control_reply *r)
{
	struct ctlops *c = ctx;

	for (unsigned i = 0; i < c->nfollow; i++)
		if (c->follow[i] == r) {
			follow_drop(c, i);
			return;
		}
}

static void refused(void *ctx, const struct ctl_peer *p)
{
	struct ctlops *c = ctx;

	elog_add(daemon_events(c->d), "client refused", "control", p->pid, "uid %d", (int)p->uid);
}

static const struct control_ops ops = {call, gone, refused};

/* ---- the socket ---- */

static int settings_of(
    const struct wsd_config *cfg, struct control_settings *s, char *path, size_t len)
{
	int dflt = cfg->control_socket[0] == '\0';

	if (dflt && ctlpath_default(geteuid(), getenv("XDG_RUNTIME_DIR"), path, len) == -1)
		return -1;
	if (!dflt)
		snprintf(path, len, "%s", cfg->control_socket);
	control_settings_defaults(s, path);
	s->default_path = dflt;
	s->mode = (mode_t)cfg->control_mode;
	s->group = cfg->control_gid;
	s->readonly_group = cfg->control_ro_gid;
	return 0;
}

int ctlops_open(struct daemon *d, struct ctlops **out)
{
	char path[CTLPATH_MAX + 1], err[256];
	struct control_settings s;
	struct ctlops *c;
	int fd;

	*out = NULL;
	if (d->cfg.control_off)
		return 0;
	if (settings_of(&d->cfg, &s, path, sizeof(path)) == -1) {
		log_error("control.socket: the default path is too long; set control.socket");
		return 1;
	}
	if ((fd = control_open(&s, err, sizeof(err))) < 0) {
		log_error("control socket %s: %s%s", path, err,
		    fd == CONTROL_ELIVE ? ": is another wsd running? exiting" : ", exiting");
		return fd == CONTROL_ECONFIG ? 1 : 3;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ctl = control_new(d->base, fd, &s, &ops, c)) == NULL) {
		log_error("control socket %s: out of memory", path);
		free(c);
		close(fd);
		return 3;
	}
	c->d = d;
	d->events->added = event_added;
	d->events->arg = c;
	log_info("control socket %s", path);
	*out = c;
	return 0;
}

void ctlops_free(struct ctlops *c)
{
	while (c->nfollow > 0)
		follow_drop(c, 0);
	control_free(c->ctl);
	c->d->events->added = NULL;
	free(c);
}
