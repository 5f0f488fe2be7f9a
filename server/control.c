/*
 * The control socket server: clients, limits, request dispatch, replies.
 * Every client error is answered or ends that client only; nothing here
 * ends the daemon. Reply handles outlive their client (the daemon may
 * still hold one for a restart in progress): a client that goes away
 * detaches its handles, and answering a detached handle sends nothing.
 */
#include "control.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctlpath.h"
#include "jsonrpc.h"
#include "log.h"

#define ACCEPT_PAUSE_MS 100 /* out of descriptors: wait, do not spin */
#define ACCEPT_BURST 16
#define PEER_GROUPS 64 /* on the stack; more are read into a heap buffer */

struct control_reply {
	struct ctl_client *client; /* NULL once detached */
	LIST_ENTRY(control_reply) entry;
	cJSON *id; /* NULL: a notification, nothing is sent */
	const struct cmd *cmd;
	struct ctl_peer peer;
	uint64_t started_ms;
	int answered; /* following: the result went out, pushes may follow */
};

struct ctl_client {
	struct control *ctl;
	TAILQ_ENTRY(ctl_client) entry;
	struct bufferevent *bev;
	struct ctl_peer peer;
	enum ctl_access access;
	uint64_t last_ms; /* last line read or output drained */
	LIST_HEAD(, control_reply) replies;
	int closing; /* read side done: free once replies are answered and sent */
	int in_cb;   /* inside one of its callbacks: freeing waits for the end */
	int dead;
};

struct control {
	struct event_base *base;
	struct control_settings set;
	char path[CTLPATH_MAX + 1];
	dev_t dev;
	ino_t ino;
	int fd;
	struct event *accept_ev, *pause_ev;
	struct control_ops ops;
	void *ctx;
	struct ctl_policy policy;
	TAILQ_HEAD(, ctl_client) clients;
	unsigned nclients;
};

static void client_free(struct ctl_client *c);

unsigned control_nclients(const struct control *ctl) { return ctl->nclients; }

static int client_waiting(const struct ctl_client *c) { return !LIST_EMPTY(&c->replies); }

/* Closing and nothing left to send or wait for: free it. */
static void client_maybe_done(struct ctl_client *c)
{
	if (c->closing && !client_waiting(c) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

/* Queue one line; a client over its output cap is closed (-1). */
static int client_send(struct ctl_client *c, char *line)
{
	struct evbuffer *out;
	size_t len;

	if (line == NULL) {
		log_warnx("control: uid %u pid %d: out of memory for a reply", c->peer.uid,
		    (int)c->peer.pid);
		return 0;
	}
	len = strlen(line); /* NUL-terminated, and JSON has no raw NUL */
	out = bufferevent_get_output(c->bev);
	if (c->dead || evbuffer_get_length(out) + len > c->ctl->set.max_output) {
		if (!c->dead)
			log_warnx(
			    "control: uid %u pid %d: closed: over %zu bytes of replies unread",
			    c->peer.uid, (int)c->peer.pid, c->ctl->set.max_output);
		free(line);
		client_free(c);
		return -1;
	}
	bufferevent_write(c->bev, line, len);
	free(line);
	return 0;
}

static void send_error(
    struct ctl_client *c, const cJSON *id, int code, const char *msg, cJSON *data)
{
	size_t len = 0;

	client_send(c, rpc_error_line(id, code, msg, data, &len));
}

/* Detach r from its client (if any); the client may be finished by it. */
static void reply_detach(struct control_reply *r)
{
	struct ctl_client *c = r->client;

	if (c == NULL)
		return;
	LIST_REMOVE(r, entry);
	r->client = NULL;
	client_maybe_done(c);
}

static void reply_free(struct control_reply *r)
{
	reply_detach(r);
	cJSON_Delete(r->id);
	free(r);
}

/* Mutating calls are logged with the caller and the outcome. */
static void reply_log(const struct control_reply *r, const char *outcome)
{
	if (r->cmd->flags & CMD_ADMIN)
		log_info("control: uid %u pid %d: %s: %s after %llu ms", r->peer.uid,
		    (int)r->peer.pid, r->cmd->name, outcome,
		    (unsigned long long)(clock_now_ms() - r->started_ms));
}

/*
 * Send a line to r's client from the daemon's side. When that closed the
 * client (output cap), r is detached first, without gone(): the caller
 * learns it from the -1.
 */
static int reply_send(struct control_reply *r, char *line)
{
	struct ctl_client *c = r->client;

	c->in_cb++;
	client_send(c, line);
	c->in_cb--;
	if (!c->dead)
		return 0;
	LIST_REMOVE(r, entry);
	r->client = NULL;
	if (c->in_cb == 0)
		client_free(c);
	return -1;
}

void control_reply_result(struct control_reply *r, cJSON *result)
{
	size_t len = 0;

	if (r->client != NULL && r->id != NULL && !r->answered)
		reply_send(r, rpc_result_line(r->id, result, &len));
	else
		cJSON_Delete(result);
	if (!r->answered)
		reply_log(r, "done");
	reply_free(r);
}

void control_reply_error(struct control_reply *r, int code, const char *message, cJSON *data)
{
	char what[RPC_ERRLEN];
	size_t len = 0;

	if (r->client != NULL && r->id != NULL && !r->answered)
		reply_send(r, rpc_error_line(r->id, code, message, data, &len));
	else
		cJSON_Delete(data);
	snprintf(what, sizeof(what), "error %d: %s", code, message);
	if (!r->answered)
		reply_log(r, what);
	reply_free(r);
}

int control_reply_follow(struct control_reply *r, cJSON *result)
{
	size_t len = 0;

	if (r->client == NULL) {
		cJSON_Delete(result);
		reply_free(r);
		return -1;
	}
	r->answered = 1;
	if (r->id == NULL) {
		cJSON_Delete(result);
		return 0;
	}
	if (reply_send(r, rpc_result_line(r->id, result, &len)) < 0) {
		reply_free(r);
		return -1;
	}
	return 0;
}

int control_push(struct control_reply *r, const char *method, cJSON *params)
{
	size_t len = 0;

	if (r->client == NULL) {
		cJSON_Delete(params);
		return -1;
	}
	return reply_send(r, rpc_notify_line(method, params, &len));
}

void control_reply_end(struct control_reply *r)
{
	if (!r->answered)
		control_reply_error(r, RPC_INTERNAL, "the server dropped this request", NULL);
	else
		reply_free(r);
}

const struct ctl_peer *control_reply_peer(const struct control_reply *r) { return &r->peer; }
int control_reply_gone(const struct control_reply *r) { return r->client == NULL; }

static struct control_reply *reply_new(
    struct ctl_client *c, const struct rpc_request *req, const struct cmd *cmd)
{
	struct control_reply *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (req->id != NULL && (r->id = cJSON_Duplicate(req->id, 1)) == NULL) {
		free(r);
		return NULL;
	}
	r->client = c;
	r->cmd = cmd;
	r->peer = c->peer;
	r->started_ms = clock_now_ms();
	LIST_INSERT_HEAD(&c->replies, r, entry);
	return r;
}

/* help and version need nothing from the daemon. */
static cJSON *builtin(const struct cmd *cmd, const cJSON *params, char *err, size_t errlen)
{
	cJSON *o;
	const char *name;
	const struct cmd *one = NULL;

	if (strcmp(cmd->name, "version") == 0) {
		if ((o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "version", WSD_VERSION);
			cJSON_AddNumberToObject(o, "protocol", RPC_PROTOCOL);
		}
		return o;
	}
	if ((name = cmd_get_str(params, "command", NULL)) != NULL &&
	    (one = cmd_find(name)) == NULL) {
		snprintf(err, errlen, "unknown command: %s", name);
		return NULL;
	}
	return cmd_help_json(one);
}

static int is_builtin(const struct cmd *cmd)
{
	return strcmp(cmd->name, "help") == 0 || strcmp(cmd->name, "version") == 0;
}

/* Answer help or version at once. */
static void run_builtin(struct ctl_client *c, const struct rpc_request *req, const struct cmd *cmd)
{
	char err[RPC_ERRLEN] = "out of memory";
	cJSON *res = builtin(cmd, req->params, err, sizeof(err));
	size_t len = 0;

	if (req->notification) {
		cJSON_Delete(res);
		return;
	}
	if (res == NULL)
		send_error(c, req->id, RPC_INVALID_PARAMS, err, NULL);
	else
		client_send(c, rpc_result_line(req->id, res, &len));
}

static cJSON *denied_data(const struct ctl_client *c, const struct cmd *cmd)
{
	cJSON *d = cJSON_CreateObject();

	if (d != NULL) {
		cJSON_AddNumberToObject(d, "uid", c->peer.uid);
		cJSON_AddStringToObject(d, "method", cmd->name);
		cJSON_AddStringToObject(d, "access", ctlauth_name(c->access));
	}
	return d;
}

static void deny(struct ctl_client *c, const struct rpc_request *req, const struct cmd *cmd)
{
	char msg[RPC_ERRLEN];

	if (c->access == CTL_ACCESS_READONLY) {
		log_warnx("control: uid %u pid %d: refused %s: read-only access", c->peer.uid,
		    (int)c->peer.pid, cmd->name);
		snprintf(msg, sizeof(msg),
		    "permission denied: %s changes the server; uid %u may "
		    "only run read-only methods",
		    cmd->name, c->peer.uid);
	} else {
		snprintf(msg, sizeof(msg),
		    "permission denied: uid %u may not use this control socket", c->peer.uid);
	}
	if (!req->notification)
		send_error(c, req->id, RPC_DENIED, msg, denied_data(c, cmd));
}

/* Hand a valid, permitted request to the daemon. */
static void call_daemon(struct ctl_client *c, const struct rpc_request *req, const struct cmd *cmd)
{
	struct control *ctl = c->ctl;
	struct control_reply *r = reply_new(c, req, cmd);
	char *p;

	if (r == NULL) {
		send_error(c, req->id, RPC_INTERNAL, "out of memory", NULL);
		return;
	}
	if (cmd->flags & CMD_ADMIN) {
		p = req->params ? cJSON_PrintUnformatted(req->params) : NULL;
		log_info("control: uid %u pid %d: %s %s", c->peer.uid, (int)c->peer.pid, cmd->name,
		    p ? p : "{}");
		free(p);
	}
	if (ctl->ops.call(ctl->ctx, cmd, req->params, r) < 0)
		control_reply_error(r, RPC_UNAVAILABLE, "not available in this server yet", NULL);
}

static void dispatch(struct ctl_client *c, const struct rpc_request *req)
{
	const struct cmd *cmd = cmd_find(req->method);
	char err[CMD_ERRLEN];
	cJSON *data;

	if (cmd == NULL) {
		if (req->notification)
			return;
		if ((data = cJSON_CreateObject()) != NULL)
			cJSON_AddStringToObject(data, "method", req->method);
		send_error(c, req->id, RPC_METHOD_NOT_FOUND, "method not found (see help)", data);
	} else if (!ctlauth_allows(c->access, cmd)) {
		deny(c, req, cmd);
	} else if (cmd_validate(cmd, req->params, err, sizeof(err)) < 0) {
		if (!req->notification)
			send_error(c, req->id, RPC_INVALID_PARAMS, err, NULL);
	} else if (is_builtin(cmd)) {
		run_builtin(c, req, cmd);
	} else {
		call_daemon(c, req, cmd);
	}
}

static void client_line(struct ctl_client *c, const char *line, size_t len)
{
	struct rpc_request req;
	char err[RPC_ERRLEN];
	int code;

	c->last_ms = clock_now_ms();
	code = rpc_parse_request(line, len, &req, err, sizeof(err));
	if (code != 0)
		send_error(c, req.id, code, err, NULL); /* even a notification: its id is unknown */
	else
		dispatch(c, &req);
	rpc_request_free(&req);
}

/* Refuse the rest of the input and close once the error is out. */
static void client_too_long(struct ctl_client *c)
{
	struct control *ctl = c->ctl;
	cJSON *data = cJSON_CreateObject();

	log_warnx("control: uid %u pid %d: closed: a line over %zu bytes", c->peer.uid,
	    (int)c->peer.pid, ctl->set.max_line);
	if (data != NULL)
		cJSON_AddNumberToObject(data, "limit", (double)ctl->set.max_line);
	send_error(c, NULL, RPC_TOO_LONG, "request line too long", data);
	if (c->dead)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	evbuffer_drain(
	    bufferevent_get_input(c->bev), evbuffer_get_length(bufferevent_get_input(c->bev)));
	client_maybe_done(c);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;
	char *line;

	c->in_cb++;
	while (!c->dead && !c->closing && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		if (len > c->ctl->set.max_line)
			client_too_long(c);
		else
			client_line(c, line, len);
		free(line);
	}
	if (!c->dead && !c->closing && evbuffer_get_length(in) > c->ctl->set.max_line)
		client_too_long(c);
	if (--c->in_cb == 0 && c->dead)
		client_free(c);
}

static void client_drained(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	c->last_ms = clock_now_ms();
	c->in_cb++;
	client_maybe_done(c);
	if (--c->in_cb == 0 && c->dead)
		client_free(c);
}

/*
 * The peer closed. Only its writing side (socat at the end of its input):
 * answer what is pending, then close; no more follows. Both sides (POLLHUP):
 * it is gone, now.
 */
static void client_eof(struct ctl_client *c)
{
	struct pollfd p = {bufferevent_getfd(c->bev), POLLOUT, 0};
	struct control_reply *r, *next;

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
		client_free(c);
		return;
	}
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	for (r = LIST_FIRST(&c->replies); r != NULL; r = next) {
		next = LIST_NEXT(r, entry);
		if (r->answered) {
			LIST_REMOVE(r, entry);
			r->client = NULL;
			if (c->ctl->ops.gone != NULL)
				c->ctl->ops.gone(c->ctl->ctx, r);
		}
	}
	client_maybe_done(c);
}

static void client_timeout(struct ctl_client *c, short what)
{
	if ((what & BEV_EVENT_READING) && client_waiting(c)) {
		bufferevent_enable(c->bev, EV_READ); /* waiting for us, not idle */
		return;
	}
	log_warnx("control: uid %u pid %d: closed: %s for %u ms", c->peer.uid, (int)c->peer.pid,
	    (what & BEV_EVENT_READING) ? "idle" : "not reading its replies", c->ctl->set.idle_ms);
	client_free(c);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *c = arg;

	c->in_cb++;
	if (what & BEV_EVENT_TIMEOUT)
		client_timeout(c, what);
	else if (what & BEV_EVENT_EOF)
		client_eof(c);
	else if (what & BEV_EVENT_ERROR) {
		log_debug("control: uid %u pid %d: %s", c->peer.uid, (int)c->peer.pid,
		    strerror(EVUTIL_SOCKET_ERROR()));
		client_free(c);
	}
	if (--c->in_cb == 0 && c->dead)
		client_free(c);
}

/* Detach every handle (telling the daemon), then free; deferred while in a callback. */
static void client_free(struct ctl_client *c)
{
	struct control *ctl = c->ctl;
	struct control_reply *r;

	if (c->in_cb > 0) {
		c->dead = 1;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	while ((r = LIST_FIRST(&c->replies)) != NULL) {
		LIST_REMOVE(r, entry);
		r->client = NULL;
		if (ctl->ops.gone != NULL)
			ctl->ops.gone(ctl->ctx, r);
	}
	TAILQ_REMOVE(&ctl->clients, c, entry);
	ctl->nclients--;
	bufferevent_free(c->bev);
	free(c);
}

/* At the limit: close the client idle longest, preferring one nobody waits on. */
static void evict_one(struct control *ctl)
{
	struct ctl_client *c, *victim = NULL;
	uint64_t now = clock_now_ms();

	TAILQ_FOREACH(c, &ctl->clients, entry)
	{
		if (victim == NULL || client_waiting(victim) > client_waiting(c) ||
		    (client_waiting(victim) == client_waiting(c) && c->last_ms < victim->last_ms))
			victim = c;
	}
	if (victim == NULL)
		return;
	log_warnx("control: %u clients: closed uid %u pid %d, idle %llu ms, to make room",
	    ctl->nclients, victim->peer.uid, (int)victim->peer.pid,
	    (unsigned long long)(now - victim->last_ms));
	client_free(victim);
}

/* Who is on the other end, from the kernel; groups only to decide access. */
static int peer_identify(struct control *ctl, int fd, struct ctl_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t stack[PEER_GROUPS], *groups = stack;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	c->peer = (struct ctl_peer){.uid = cred.uid, .gid = cred.gid, .pid = cred.pid};
	len = sizeof(stack);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE) { /* a kernel without it: the primary group only */
			log_debug("control: SO_PEERGROUPS: %s", strerror(errno));
			len = 0;
		} else if ((groups = malloc(len)) == NULL ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return -1;
		}
	}
	c->peer.groups = groups;
	c->peer.ngroups = len / sizeof(gid_t);
	c->access = ctlauth_access(&c->peer, &ctl->policy);
	c->peer.groups = NULL, c->peer.ngroups = 0;
	if (groups != stack)
		free(groups);
	return 0;
}

static void client_start(struct control *ctl, int fd)
{
	struct ctl_client *c = calloc(1, sizeof(*c));
	struct timeval idle = clock_tv(ctl->set.idle_ms);

	if (c == NULL || peer_identify(ctl, fd, c) < 0 ||
	    (c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warn("control: cannot take a client");
		free(c);
		close(fd);
		return;
	}
	if (ctl->nclients >= ctl->set.max_clients)
		evict_one(ctl);
	c->ctl = ctl;
	c->last_ms = clock_now_ms();
	LIST_INIT(&c->replies);
	TAILQ_INSERT_TAIL(&ctl->clients, c, entry);
	ctl->nclients++;
	bufferevent_setcb(c->bev, client_read, client_drained, client_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ);
	if (c->access == CTL_ACCESS_NONE) {
		log_warnx("control: refused uid %u pid %d: not root, not uid %u, not in a control "
		          "group",
		    c->peer.uid, (int)c->peer.pid, ctl->policy.self_uid);
		if (ctl->ops.refused != NULL)
			ctl->ops.refused(ctl->ctx, &c->peer);
	}
}

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	event_add(ctl->accept_ev, NULL);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct control *ctl = arg;
	struct timeval pause = clock_tv(ACCEPT_PAUSE_MS);

	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			client_start(ctl, fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("control: accept: pausing %d ms", ACCEPT_PAUSE_MS);
			event_del(ctl->accept_ev);
			event_add(ctl->pause_ev, &pause);
		} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			log_warn("control: accept");
		}
		return;
	}
}

struct control *control_new(struct event_base *base, int fd, const struct control_settings *s,
    const struct control_ops *ops, void *ctx)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	struct stat st;

	if (ctl == NULL)
		return NULL;
	ctl->base = base, ctl->set = *s, ctl->fd = fd, ctl->ops = *ops, ctl->ctx = ctx;
	snprintf(ctl->path, sizeof(ctl->path), "%s", s->path);
	ctl->set.path = ctl->path;
	if (lstat(ctl->path, &st) == 0)
		ctl->dev = st.st_dev, ctl->ino = st.st_ino;
	ctl->policy = (struct ctl_policy){geteuid(), s->group, s->readonly_group};
	TAILQ_INIT(&ctl->clients);
	ctl->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, ctl);
	ctl->pause_ev = evtimer_new(base, accept_resume, ctl);
	if (ctl->accept_ev == NULL || ctl->pause_ev == NULL ||
	    event_add(ctl->accept_ev, NULL) < 0) {
		control_free(ctl);
		return NULL;
	}
	return ctl;
}

/*
 * What is queued (a stop's reply) goes out now if the socket takes it: the
 * loop will not run again. The bufferevent keeps its output frozen at the
 * front, so write a copy rather than drain it.
 */
static void client_flush(struct ctl_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t n = evbuffer_get_length(out);

	if (n > 0 && write(bufferevent_getfd(c->bev), evbuffer_pullup(out, -1), n) < 0)
		log_debug("control: uid %u pid %d: last reply not sent: %s", c->peer.uid,
		    (int)c->peer.pid, strerror(errno));
}

void control_free(struct control *ctl)
{
	struct ctl_client *c;
	struct stat st;

	while ((c = TAILQ_FIRST(&ctl->clients)) != NULL) {
		client_flush(c);
		c->in_cb = 0;
		client_free(c);
	}
	if (ctl->accept_ev != NULL)
		event_free(ctl->accept_ev);
	if (ctl->pause_ev != NULL)
		event_free(ctl->pause_ev);
	/* Unlink only our own socket, not one a newer daemon bound since. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	close(ctl->fd);
	free(ctl);
}
