/*
 * Integration harness: start the real wsd on an ephemeral loopback port
 * with a temp root, a private log and control socket path; talk real HTTP
 * to it; stop it and prove nothing is left running.
 */
#ifndef WSD_HARNESS_H
#define WSD_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define H_MAXPROCS 64

struct wsd {
	pid_t pid; /* the daemon */
	uint16_t port;
	char dir[PATH_MAX];      /* temp dir holding everything below */
	char root[PATH_MAX + 8]; /* document root: dir/root */
	char log[PATH_MAX + 16]; /* the daemon's log file */
	char conf[PATH_MAX + 16];
	char sock[PATH_MAX + 16]; /* control socket path */
	pid_t seen[H_MAXPROCS];   /* every process of this instance we saw */
	int nseen;
	int lost_min, lost_max; /* "lost child" lines h_stop accepts (h_expect_lost) */
	int term_sent;          /* h_stop_begin sent SIGTERM already */
	/* h_start runs wrap[0] wrap[1]... WSD_BIN -c conf (e.g. setpriv ... --): NULL, none. */
	char *const *wrap;
};

/* Make the temp dir and root (0755, so a dropped-privilege worker can read it). */
void h_init(struct wsd *w);
/* Write a file below the root (mode 0644); returns its path. */
void h_write_file(struct wsd *w, const char *rel, const void *data, size_t len);
/*
 * Start wsd with the config text extra (may be NULL) appended to the
 * harness's own [server]/[log]/[control] settings; wait until it logs ready.
 */
void h_start(struct wsd *w, const char *extra);
/*
 * SIGTERM, wait for exit (returns the exit status), then prove no process
 * of it is left, and fail on a sanitizer report, a fatal line, or a
 * "lost child" line the test did not expect (h_expect_lost).
 */
int h_stop(struct wsd *w);
/* Settings every test's file starts with in this build ("" optimised; a looser heartbeat bound
 * under the sanitizers). */
const char *h_base_conf(void);
/* (Re)write the instance's configuration file: the harness's own settings, then extra. */
void h_write_conf(struct wsd *w, const char *extra);
/* Send the SIGTERM only (h_stop then waits without sending another). */
void h_stop_begin(struct wsd *w);
/* The test causes between min and max lost children on purpose (default: none). */
void h_expect_lost(struct wsd *w, int min, int max);
/* Every process of the instance seen so far is gone within timeout_ms: 1, else 0. */
int h_all_gone(struct wsd *w, int timeout_ms);
/* The harness's own timing bound: ms in the optimised build, more under sanitizers. */
int h_bound_ms(int optimised_ms);
/* Write text to any path (a config file, a fault switch). */
void h_write_text(const char *path, const char *text);
/* Remove the temp dir (h_stop does it when all went well). */
void h_cleanup(struct wsd *w);
/* Run wsd with arguments, collect exit status and output (for flag/config errors). */
int h_run(char *const argv[], char *out, size_t outlen, int timeout_ms);

/* Processes of the instance whose cmdline is exactly "wsd: ROLE". */
int h_count_role(struct wsd *w, const char *role, pid_t *pids, int max);
/*
 * strace -c -f attached to the instance's one worker, its table into out:
 * strace's pid, or 0 when there is no strace or it cannot attach (ptrace
 * refused): the caller then checks nothing. h_strace_end stops it and
 * h_strace_calls reads one syscall's calls ("total": all) from the table.
 */
pid_t h_strace_begin(struct wsd *w, char *out, size_t len);
void h_strace_end(pid_t st);
long h_strace_calls(const char *path, const char *name);
/* The port of [metrics] listen = 127.0.0.1:0, as the daemon logged it. */
uint16_t h_metrics_port(struct wsd *w);
/* Sockets process pid holds at descriptors above min_fd (-1 if it is gone). */
int h_proc_sockets(pid_t pid, int min_fd);
/* Wait until the log contains needle (or timeout): 1 found, 0 not. */
int h_wait_log(struct wsd *w, const char *needle, int timeout_ms);
/* Does the log contain needle now? */
int h_log_has(struct wsd *w, const char *needle);
/* How many times the log contains needle now. */
int h_log_count(struct wsd *w, const char *needle);

/* A connected TCP socket to the instance (blocking, with a receive timeout). */
int h_connect(struct wsd *w);
int h_send(int fd, const char *s);
/* Send exactly len bytes (may hold NULs), however many sends it takes; fails the test on error. */
void h_send_all(int fd, const void *p, size_t len);
/*
 * Raw reader: read until the server closes. The number of bytes that came
 * before the end of file (0 when the answer already read was all there
 * was), -1 on timeout, -2 on a reset (an answer lost to a RST is a bug too).
 */
long h_drain_to_eof(int fd, int timeout_ms);

struct h_response {
	int status;
	char head[8192]; /* status line and headers */
	char *body;      /* malloc'd, body_len bytes */
	size_t body_len;
	long content_length; /* -1 if absent */
	int closed;          /* server closed after this response */
};

/* Read one response; head_only for HEAD (no body expected). 0 ok, -1 error/timeout. */
int h_read_response(int fd, struct h_response *r, int head_only);
void h_response_free(struct h_response *r);
/* Value of a header in r->head (case-insensitive name) into out; 0 found, -1 not. */
int h_header(const struct h_response *r, const char *name, char *out, size_t len);
/* One request on a fresh connection: "GET /path HTTP/1.1" with Host and Connection: close. */
int h_get(struct wsd *w, const char *method, const char *target, struct h_response *r);

/* Until predicate true or timeout; polls every 5 ms. */
int h_wait_until(int (*pred)(void *), void *arg, int timeout_ms);

/* Milliseconds of the monotonic clock. */
uint64_t h_now_ms(void);

#endif
