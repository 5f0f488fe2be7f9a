/*
 * The access log: one line per request in the combined log format, with
 * the request time in microseconds appended:
 *
 *   1.2.3.4 - - [10/Oct/2000:13:55:36 +0200] "GET /a HTTP/1.1" 200 2326 "REF" "UA" 1234
 *
 * Lines are formatted by the caller's thread (the event loop) into an
 * in-memory buffer; a writer thread of this module writes the buffer out
 * with write(2). The event loop never waits for the disk: when the buffer
 * is full the line is dropped and counted (accesslog_dropped()), and the
 * writer thread warns about drops in the error log at most once a second.
 * Lines reach the file within about 100 ms, sooner under load.
 *
 * Several processes may append to one file: the descriptor is expected to
 * be O_APPEND, every write(2) holds whole lines only, and a line is never
 * longer than ACCESSLOG_LINE_MAX (= PIPE_BUF), so lines do not interleave
 * even when the log is a pipe (writes to anything but a regular file are
 * cut into whole-line pieces of at most PIPE_BUF).
 *
 * Threads: the module starts a thread, so it must be opened in the process
 * that uses it, after any fork (a worker opens it after its exec). The
 * writer thread blocks all signals. accesslog_write() may be called from
 * any thread, but open and close must not race with it.
 *
 * Format decisions:
 *  - %h: the peer's numeric address; IPv4-mapped IPv6 is shown as IPv4;
 *    no or a non-IP peer gives "-". Ident and user are always "-".
 *  - %t: local time with its UTC offset, as Apache does; English month
 *    names whatever the locale. The time zone is read at accesslog_open().
 *  - %r: method, target as received, and the version as received (or
 *    HTTP/1.minor when none is given); "-" when minor < 0 (the request
 *    line could not be parsed). A request refused for a header or its
 *    version keeps its request line.
 *  - %b: body bytes; "-" when 0, as Apache's %b.
 *  - Referer and User-Agent: "-" when absent (NULL), "" when empty.
 *  - %D: request time in microseconds.
 *  - Anything the client sent is escaped: '"' and '\' as \" and \\, bytes
 *    below 0x20 or from 0x7f as \xHH, so no one can forge a line. Long
 *    fields are cut and end in "..." (see the ACCESSLOG_MAX_* limits, in
 *    escaped bytes).
 */
#ifndef WSD_ACCESSLOG_H
#define WSD_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#define ACCESSLOG_LINE_MAX 4096 /* PIPE_BUF on Linux */
#define ACCESSLOG_MAX_METHOD 32
#define ACCESSLOG_MAX_TARGET 2048
#define ACCESSLOG_MAX_VERSION 16
#define ACCESSLOG_MAX_REFERER 768
#define ACCESSLOG_MAX_UA 768
#define ACCESSLOG_BUFSIZE (64 * 1024) /* default per buffer */

struct accesslog_entry {
	const struct sockaddr *peer; /* NULL: "-" */
	time_t when;                 /* the request started */
	const char *method;          /* with minor < 0: unused */
	size_t method_len;
	const char *target; /* as received */
	size_t target_len;
	int minor;           /* HTTP/1.minor; < 0: "-" */
	const char *version; /* as received ("HTTP/1.2"); NULL: HTTP/1.minor */
	size_t version_len;
	int status;
	uint64_t bytes;      /* body bytes sent */
	const char *referer; /* NULL: "-" */
	size_t referer_len;
	const char *user_agent; /* NULL: "-" */
	size_t user_agent_len;
	uint64_t usec; /* request time */
};

/*
 * Start logging to fd (not closed by this module). bufsize is the size of
 * each of the two buffers, 0 for ACCESSLOG_BUFSIZE; a line longer than
 * bufsize is always dropped. Returns 0, or -1 with errno set (logged).
 */
int accesslog_open(int fd, size_t bufsize);

/* Queue one line. Never waits for I/O; does nothing when not open. */
void accesslog_write(const struct accesslog_entry *e);

/* Lines dropped because the buffer was full, since accesslog_open(). */
uint64_t accesslog_dropped(void);

/* 1 between accesslog_open() and accesslog_close(). */
int accesslog_active(void);

/*
 * Write out every queued line, stop the thread. Waits for the disk (for a
 * process on its way out); a no-op when not open.
 */
void accesslog_close(void);

/*
 * Format e into out (at least ACCESSLOG_LINE_MAX bytes), ending in '\n'.
 * Returns the length. For tests and for the writer itself.
 */
size_t accesslog_format(const struct accesslog_entry *e, char *out);

#endif
