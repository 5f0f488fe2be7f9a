/* Client load threads: see load.h. */
#include "load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define CLIENT_TIMEOUT_S 5

struct worker_arg {
	struct load *l;
	int keepalive;
	int idle_ms; /* between requests */
};

static int dial(struct load *l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(l->port)};
	struct timeval tv = {CLIENT_TIMEOUT_S, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno == ECONNREFUSED)
			l->refused++;
		close(fd);
		return -1;
	}
	return fd;
}

/* One request; 1 answered and the connection may be reused, 0 answered and closed, -1 failed. */
static int one_request(struct load *l, int fd, int keepalive)
{
	char req[256];
	struct h_response r;
	int rc;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: load\r\n%s\r\n", l->path,
	    keepalive ? "" : "Connection: close\r\n");
	if (h_send(fd, req) == -1 || h_read_response(fd, &r, 0) == -1)
		return -1;
	rc = r.status == 200 && r.content_length == l->body_len &&
	        r.body_len == (size_t)l->body_len ?
	    (r.closed ? 0 : 1) :
	    -1;
	h_response_free(&r);
	return rc;
}

/* Wait idle on a keep-alive connection; the server closing it meanwhile is counted. */
static void client_idle(struct load *l, int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;

	if (poll(&p, 1, ms) == 1 && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
		l->server_closed++; /* the next request fails too, and is counted as failed */
}

static void *client(void *arg)
{
	struct worker_arg *a = arg;
	struct load *l = a->l;
	int fd = -1, rc;

	while (!l->stop) {
		if (fd < 0 && (fd = dial(l)) < 0) {
			poll(NULL, 0, 10);
			continue;
		}
		rc = one_request(l, fd, a->keepalive);
		if (rc >= 0)
			l->ok++;
		else
			l->failed++;
		if (rc == 0 && a->keepalive)
			l->server_closed++; /* "Connection: close" we did not ask for */
		if (rc <= 0 || !a->keepalive) {
			close(fd);
			fd = -1;
		} else if (a->idle_ms > 0)
			client_idle(l, fd, a->idle_ms);
	}
	if (fd >= 0)
		close(fd);
	free(a);
	return NULL;
}

static void load_begin(struct load *l, uint16_t port, const char *path, long body_len, int nkeep,
    int nshort, int nidle, int idle_ms)
{
	memset(l, 0, sizeof(*l));
	l->port = port;
	l->path = path;
	l->body_len = body_len;
	l->nkeep = nkeep + nidle;
	for (int i = 0; i < nkeep + nshort + nidle && i < LOAD_MAXTHREADS; i++) {
		struct worker_arg *a = malloc(sizeof(*a));

		a->l = l;
		a->keepalive = i < nkeep || i >= nkeep + nshort;
		a->idle_ms = i >= nkeep + nshort ? idle_ms : 0;
		if (pthread_create(&l->th[l->nthreads], NULL, client, a) == 0)
			l->nthreads++;
		else
			free(a);
	}
}

void load_start(
    struct load *l, uint16_t port, const char *path, long body_len, int nkeep, int nshort)
{
	load_begin(l, port, path, body_len, nkeep, nshort, 0, 0);
}

void load_start_idle(struct load *l, uint16_t port, const char *path, long body_len, int nkeep,
    int nidle, int idle_ms)
{
	load_begin(l, port, path, body_len, nkeep, 0, nidle, idle_ms);
}

void load_stop(struct load *l)
{
	l->stop = 1;
	for (int i = 0; i < l->nthreads; i++)
		pthread_join(l->th[i], NULL);
	l->nthreads = 0;
}

struct more {
	struct load *l;
	unsigned long target;
};

static int more_pred(void *arg)
{
	struct more *m = arg;
	return m->l->ok >= m->target;
}

int load_wait_more(struct load *l, unsigned long n, int timeout_ms)
{
	struct more m = {l, l->ok + n};
	return h_wait_until(more_pred, &m, timeout_ms);
}
