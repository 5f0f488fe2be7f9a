/*
 * The control socket: a Unix stream socket on the daemon's libevent loop
 * that speaks JSON-RPC 2.0, one object per line (docs/control-protocol.md).
 * This module accepts, identifies each client from the kernel
 * (SO_PEERCRED, SO_PEERGROUPS), enforces the limits, parses and validates
 * every request against the command table, answers help and version
 * itself and hands every other method to the daemon through struct
 * control_ops. It knows nothing of the daemon's state.
 */
#ifndef WSD_CONTROL_H
#define WSD_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "ctlauth.h"

struct event_base;
struct control;
struct control_reply;

#define CONTROL_MAX_CLIENTS 64
#define CONTROL_IDLE_MS 30000
#define CONTROL_MAX_OUTPUT (4u * 1024 * 1024)

struct control_settings {
	const char *path;     /* at most CTLPATH_MAX bytes */
	int default_path;     /* path came from the default rule: check (and make) its directory */
	mode_t mode;          /* of the socket, 0660 by default */
	gid_t group;          /* control.group: full access, socket's group; CTLAUTH_NOGROUP */
	gid_t readonly_group; /* control.readonly_group: read-only; CTLAUTH_NOGROUP */
	unsigned max_clients; /* at the limit, the client idle longest is closed for a new one */
	uint32_t idle_ms;     /* a client with nothing to wait for, silent this long, is closed */
	size_t max_line;      /* a longer request line: error reply, then close */
	size_t max_output;    /* more pending output than this (not reading): closed */
};

/* Defaults: mode 0660, no groups, 64 clients, 30 s, 64 KiB lines, 4 MiB output. */
void control_settings_defaults(struct control_settings *s, const char *path);

/* control_open() failures. */
enum control_open_error {
	CONTROL_ESYS = -1,    /* a system call failed: cannot start (exit 3) */
	CONTROL_ECONFIG = -2, /* the path is unusable as configured (exit 1) */
	CONTROL_ELIVE = -3    /* a live server answers on the path: refuse to start (exit 3) */
};

/*
 * Create the listening socket (server/ctlsock.c): check the path length;
 * for a default path, make its directory (0700, or 0710 with the socket's
 * group) and refuse it unless ours; then under an flock on PATH.lock
 * probe the path with connect() (a live server: CONTROL_ELIVE), unlink a
 * stale socket (never anything that is not a socket), bind under umask
 * 0177, chmod mode, chown to group, listen. Returns the non-blocking,
 * close-on-exec descriptor, or a negative enum control_open_error with
 * the reason in err.
 */
int control_open(const struct control_settings *s, char *err, size_t errlen);

/*
 * What the daemon implements. call() gets every valid, permitted request
 * for a method other than help and version. It returns 0 when it took the
 * reply handle r: it must then answer exactly once, now or later, with
 * control_reply_result(), control_reply_error() or control_reply_follow()
 * (then control_reply_end() when done pushing). It returns -1, without
 * touching r, for a method it does not implement: the client gets
 * RPC_UNAVAILABLE. params is valid only during the call (copy what a
 * deferred answer needs).
 */
struct control_ops {
	int (*call)(void *ctx, const struct cmd *cmd, const cJSON *params, struct control_reply *r);
	/*
	 * Optional. The client of a handle the daemon still holds went away;
	 * r stays valid until answered or ended (answering then sends nothing).
	 */
	void (*gone)(void *ctx, struct control_reply *r);
	/* Optional. A client with no access connected (for the event log). */
	void (*refused)(void *ctx, const struct ctl_peer *peer);
};

/*
 * Serve on fd (from control_open) on base. NULL only when out of memory.
 * The process must ignore SIGPIPE (the daemon does): a client that goes
 * away mid-reply is noticed as a write error.
 */
struct control *control_new(struct event_base *base, int fd, const struct control_settings *s,
    const struct control_ops *ops, void *ctx);

/*
 * Close every client (each handle still held gets gone() and stays valid,
 * detached), the listening socket and unlink the path if it is still ours.
 */
void control_free(struct control *ctl);

unsigned control_nclients(const struct control *ctl);

/* Answer and release r. result/data are consumed (NULL: null / none). */
void control_reply_result(struct control_reply *r, cJSON *result);
void control_reply_error(struct control_reply *r, int code, const char *message, cJSON *data);

/*
 * Answer with result but keep r to push notifications on the same
 * connection (events follow). 0; or -1 when the client has already gone:
 * then r is released, do not keep it.
 */
int control_reply_follow(struct control_reply *r, cJSON *result);

/*
 * Push one notification line {"jsonrpc":"2.0","method":...,"params":...}
 * (params consumed). 0, or -1 when the client has gone (or was closed for
 * not reading): release r with control_reply_end().
 */
int control_push(struct control_reply *r, const char *method, cJSON *params);

/* Release a handle kept by control_reply_follow() (or any unanswered one). */
void control_reply_end(struct control_reply *r);

/* The caller's identity (groups not kept), and whether it is still there. */
const struct ctl_peer *control_reply_peer(const struct control_reply *r);
int control_reply_gone(const struct control_reply *r);

#endif
