/*
 * Framing of our own messages between wsd processes, over SOCK_SEQPACKET
 * socketpairs (one recvmsg is one whole message, so a replaced process never
 * starts mid-message). Every message: a header with protocol version, type
 * and payload length; a fixed payload struct per type checked to the byte;
 * and exactly the number of descriptors its type declares.
 */
#ifndef WSD_MSG_H
#define WSD_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MSG_PROTO_VERSION 1
#define MSG_MAXFDS 16 /* a batch (MSG_CONNS, MSG_PARKS) carries up to this many */
#define MSG_MAXPAYLOAD 8192
#define MSG_HIST_BUCKETS 5
#define MSG_FD_RESERVE 64 /* descriptors a process keeps free: stop reading fds this close */
#define MSG_RETRY_MS 10   /* ETOOMANYREFS: no wake-up will come, so retry on a timer */

/* Numbered in ranges by purpose. */
enum msg_type {
	/* 1..19: life cycle, supervisor <-> child */
	MSG_CONFIG = 1,     /* struct msg_config: everything a role needs */
	MSG_READY = 2,      /* child -> supervisor: configured and serving */
	MSG_SHUTDOWN = 3,   /* supervisor -> child: drain and exit */
	MSG_DRAINING = 4,   /* child -> supervisor: told to stop, draining; start my replacement */
	MSG_LOG_ERROR = 5,  /* supervisor -> child + 1 fd: the reopened error log */
	MSG_LOG_ACCESS = 6, /* supervisor -> child + 1 fd: the reopened access log */
	MSG_STOPPING = 7,   /* daemon -> manager: the server stops; take all the listener sends */
	MSG_RETIRE = 8,     /* supervisor -> child: your replacement is ready: drain and exit (no
	                       backlog taken); manager -> worker: retire, parking every connection
	                       (no connection follows) */
	MSG_ROOT = 18, /* daemon -> manager -> workers + 1 fd: the new document root (O_PATH) */
	/* 20..39: heartbeats and figures */
	MSG_HEARTBEAT = 20,    /* struct msg_heartbeat */
	MSG_WORKER_TABLE = 21, /* manager -> daemon: struct msg_worker_page, one page of its pool */
	MSG_EVENT = 22,        /* manager -> daemon: struct msg_event, for the daemon's event log */
	/* 40..59: connections */
	MSG_CONN = 40,      /* struct msg_conn + 1 fd: an accepted client */
	MSG_CONN_DONE = 41, /* worker -> manager: struct msg_conn_done: connections ended */
	MSG_PARK = 42,  /* worker -> listener: struct msg_park + 1 fd: an idle keep-alive client */
	MSG_CONNS = 43, /* struct msg_conns + count fds: several MSG_CONN in one */
	MSG_PARKS = 44, /* retiring listener -> replacement: struct msg_parks + count fds */
	/* 60..79: operations on the pool, daemon <-> manager */
	MSG_REQUEST = 60, /* daemon -> manager: struct msg_request, answered by MSG_REPLY */
	MSG_REPLY = 61,   /* manager -> daemon: struct msg_reply, with the request's id */
	MSG_TYPE_MAX
};

struct msg_hdr {
	uint16_t version;
	uint16_t type;
	uint32_t len; /* payload bytes after the header */
};

#define MSG_PROXY_FROM_MAX 16 /* server.proxy_from: networks at most */

/* One network of server.proxy_from: an address and a prefix length. */
struct msg_cidr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bits;   /* prefix length: 0..32 or 0..128 */
	uint8_t pad[2];
	uint8_t addr[16]; /* network byte order, host bits zero; IPv4 in the first 4 */
};

/*
 * Settings a role needs, sent by its supervisor right after exec, and
 * again with a higher generation after a reload: a running role takes a
 * newer generation (what can change live), ignores an older or equal one.
 */
struct msg_config {
	uint32_t generation; /* 1 at start, one more at each reload that changed something */
	uint32_t pad;
	char root[4096];
	uint32_t pool_min, pool_max, pool_limit, max_workload;
	uint32_t pool_idle_timeout_ms;
	uint32_t pool_scale_up_ppm, pool_scale_down_ppm, pool_spawn_rate_max, pool_max_requests;
	uint32_t keepalive_timeout_ms, header_timeout_ms;
	uint32_t heartbeat_interval_ms, heartbeat_misses;
	uint32_t startup_timeout_ms; /* heartbeat.startup_timeout: fork to first heartbeat */
	uint32_t shutdown_timeout_ms;
	uint32_t log_level;
	uint32_t has_access_log;
	uint32_t park_after_ms; /* http.park_after: 0 = never park */
	uint32_t park_max;      /* http.park_max: 0 = the soft fd limit - 256 */
	uint32_t proxy_from_n;  /* server.proxy_from: networks used; 0 = off */
	uint32_t pad2;
	struct msg_cidr proxy_from[MSG_PROXY_FROM_MAX]; /* must send a PROXY v2 header first */
	/* http.open_file_cache_valid (0 = off) and http.open_file_cache_max (entries per worker) */
	uint32_t open_file_cache_valid_ms, open_file_cache_max;
};

/* Sent every heartbeat.interval from the sender's own event loop, with live figures. */
struct msg_heartbeat {
	uint64_t seq;
	uint64_t connections; /* open now (manager: total workload of its pool) */
	uint64_t accepted;    /* total since start (listener: accepted; worker: taken) */
	uint64_t held;        /* listener: connections it holds */
	uint64_t requests;    /* worker: its own; manager: its workers' sum */
	uint64_t bytes;       /* likewise */
	uint64_t resp_us;     /* summed response time, microseconds */
	uint64_t resp_hist[MSG_HIST_BUCKETS]; /* responses by time: < 1, 10, 100 ms, 1 s, more */
	uint64_t cut;      /* connections closed at a drain deadline (worker: its own; manager:
	                      its workers', including those it killed at its own deadline) */
	uint32_t workers;  /* manager: pool size */
	uint32_t queued;   /* manager: wait queue length */
	uint32_t busy_ppm; /* worker: share of the last interval spent in callbacks, per million */
	uint32_t lag_us;   /* worker: how late this heartbeat's timer fired */
};

/* One worker as the manager sees it, for the daemon's status. */
struct msg_worker_entry {
	int32_t pid;
	uint32_t state; /* enum sv_state */
	uint32_t restarts;
	uint32_t missed;           /* heartbeat intervals missed now */
	uint32_t restart_in_ms;    /* stopped, restart scheduled this far ahead (back-off) */
	uint32_t conns;            /* connections given and not yet done */
	uint32_t busy_ppm, lag_us; /* from its last heartbeat: the pool policy's inputs */
	uint64_t uptime_ms;
	uint64_t hb_age_ms; /* since its last heartbeat */
	uint64_t requests, bytes;
	char last_exit[64];
};

#define MSG_WORKER_PAGE_N 60

/*
 * The worker table travels as fixed-size pages of one generation; the
 * daemon swaps in a generation only once all its pages have arrived.
 */
struct msg_worker_page {
	uint32_t generation;
	uint16_t page, pages; /* this page, of how many (pages >= 1) */
	uint32_t n;           /* entries used in this page */
	uint32_t pad;
	struct msg_worker_entry entries[MSG_WORKER_PAGE_N];
};

/* Something that happened to a worker, for `wsctl events` (the daemon keeps the log). */
struct msg_event {
	int32_t pid;
	char role[16];
	char kind[24];
	char detail[192];
};

/* What a MSG_REQUEST asks of the manager's pool. */
enum msg_op {
	MSG_OP_SCALE = 1,           /* args: min, max */
	MSG_OP_RESTART_WORKER = 2,  /* args: pid, timeout_ms */
	MSG_OP_RESTART_WORKERS = 3, /* args: -, timeout_ms (for each worker) */
	MSG_OP_DRAIN = 4,           /* args: pid, timeout_ms */
};

#define MSG_OP_ARGS 4
#define MSG_REPLY_VALUES 4
#define MSG_REPLY_TEXT 160

struct msg_request {
	uint32_t id; /* the daemon's, never 0; the reply carries it back */
	uint32_t op; /* enum msg_op */
	uint32_t args[MSG_OP_ARGS];
};

/*
 * The answer to one request. A restart of every worker sends one reply
 * with more = 1 per worker replaced, then the final one (more = 0): any
 * pool size fits fixed-size messages.
 */
struct msg_reply {
	uint32_t id;
	int32_t code; /* 0 done, else a control error code (RPC_FAILED...) */
	uint32_t more;
	uint32_t pad;
	int64_t values[MSG_REPLY_VALUES]; /* per op: see docs/architecture.md */
	char text[MSG_REPLY_TEXT];        /* the error's message, NUL-terminated */
};

#define MSG_CONN_RETURNING 1 /* msg_conn.flags: a parked client spoke again: read at once */

struct msg_conn {
	struct sockaddr_storage peer;
	uint32_t peerlen;
	uint32_t flags; /* MSG_CONN_* */
};

/*
 * An idle keep-alive connection handed to the listener to hold. deadline_ms
 * is absolute CLOCK_MONOTONIC (clock_now_ms), counted from the end of the
 * last request: parking does not extend the keep-alive timeout.
 */
struct msg_park {
	uint64_t deadline_ms;
	struct msg_conn conn;
};

/*
 * Batches: count (1..MSG_MAXFDS) entries and as many descriptors, the i-th
 * entry for the i-th descriptor. Only count entries travel: the payload is
 * exactly msg_batch_len(type, count) bytes (offsetof the array + count
 * entries), so the exact-size rule holds for every count.
 */
struct msg_conns {
	uint32_t count;
	uint32_t pad;
	struct msg_conn conn[MSG_MAXFDS];
};

struct msg_parks {
	uint32_t count;
	uint32_t pad;
	struct msg_park park[MSG_MAXFDS];
};

/* Connections that ended since the last report: one message per loop round, not per connection. */
struct msg_conn_done {
	uint32_t count;
};

struct msg {
	struct msg_hdr hdr;
	union {
		struct msg_config config;
		struct msg_heartbeat heartbeat;
		struct msg_worker_page wpage;
		struct msg_event event;
		struct msg_conn conn;
		struct msg_park park;
		struct msg_conns conns;
		struct msg_parks parks;
		struct msg_conn_done done;
		struct msg_request req;
		struct msg_reply reply;
		unsigned char raw[MSG_MAXPAYLOAD];
	} u;
	int fds[MSG_MAXFDS];
	int nfds;
};

/* Payload bytes of a batch type (MSG_CONNS, MSG_PARKS) carrying count entries; 0 if none. */
size_t msg_batch_len(enum msg_type type, uint32_t count);

/* Human name of a type, for logs. */
const char *msg_type_name(uint16_t type);

/*
 * Send one message without blocking. Returns 0, or -1 with errno
 * (EAGAIN: channel full, try again later; EINVAL: payload does not match
 * the type's declared size or fd count).
 */
int msg_send(
    int sock, enum msg_type type, const void *payload, size_t len, const int *fds, int nfds);

/*
 * Receive one message without blocking. Returns 1 for a message, 0 for
 * end-of-file (peer gone), -1 with errno (EAGAIN: nothing now; EBADMSG:
 * malformed - wrong version, type, length, fd count, or truncated control
 * data; any descriptors that came with it are closed). Received fds are
 * close-on-exec.
 */
int msg_recv(int sock, struct msg *m);

/*
 * Receive up to vlen messages with one recvmmsg. Returns how many good
 * messages it put at the start of ms (>= 1), 0 at end-of-file with none,
 * or -1 with errno (EAGAIN: nothing now; EBADMSG: all it read were
 * malformed). Malformed ones (as for msg_recv; truncated control data
 * included) have their descriptors closed and are counted in *bad.
 */
int msg_recv_many(int sock, struct msg *ms, int vlen, unsigned *bad);

/*
 * After msg_recv returned rc: is the peer gone? End-of-file (read only
 * after everything it sent), or an error other than "nothing now" and
 * "malformed".
 */
int msg_peer_gone(int rc);

/* Close any fds a received message still holds. */
void msg_close_fds(struct msg *m);

/*
 * Like msg_recv, but skips (and counts in *bad) malformed messages instead
 * of stopping at the first: for emptying a channel whose reader is gone.
 * Returns 1 for a message, 0 at end-of-file, -1 with errno (EAGAIN: empty).
 */
int msg_recv_skip(int sock, struct msg *m, unsigned *bad);

/*
 * After msg_send failed: may a later attempt succeed? EAGAIN/ENOBUFS
 * (channel full: wait for it to become writable) and ETOOMANYREFS (too
 * many descriptors in flight for our RLIMIT_NOFILE: wait on a timer).
 */
int msg_send_again(int err);

/* The soft RLIMIT_NOFILE, read once (the daemon raised it before exec). */
long msg_fd_limit(void);

/*
 * Close a client connection we will not serve without a reset: send our
 * FIN, discard what it already sent (unread data turns close into a RST),
 * then close.
 */
void msg_conn_abandon(int fd);

/*
 * Close our copies of n descriptors just sent on. Accepted or received
 * together, they are usually consecutive numbers: then one close_range
 * instead of n calls to close.
 */
void msg_close_sent(const int *fds, int n);

#endif
