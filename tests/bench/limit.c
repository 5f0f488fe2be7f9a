/*
 * limit: the ceiling for this machine in tests/bench/bench.sh. N forked
 * processes share one listening socket on 127.0.0.1 (one epoll each, the
 * listener added with EPOLLEXCLUSIVE) and answer every request with one
 * canned 200 response of 1 KiB body. Nothing is parsed beyond finding each
 * "\r\n\r\n" (one response per request terminator, so pipelining works)
 * and looking for "Connection: close" in a read, after which the responses
 * say so and the connection is closed once they are written.
 *
 *   limit [-p PORT] [-w PROCESSES]     (default port 0: any; 1 process)
 *
 * Prints "port N" on stdout once listening; runs until SIGTERM/SIGINT,
 * which the parent passes on to its children before exiting 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BODY 1024
#define MAX_FD 65536
#define MAX_CHILD 64

struct conn {
	char *out; /* responses not yet written */
	size_t len, cap, off;
	unsigned tail; /* how many bytes of "\r\n\r\n" the last read ended in */
	int closing;
	int want_out; /* EPOLLOUT is armed */
};

static struct conn conns[MAX_FD];
static char resp_ka[BODY + 128], resp_close[BODY + 128];
static size_t len_ka, len_close;

static size_t make_resp(char *buf, size_t cap, const char *conn_hdr)
{
	int n = snprintf(buf, cap,
	    "HTTP/1.1 200 OK\r\nServer: limit\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Length: %d\r\n%s\r\n",
	    BODY, conn_hdr);

	if (n < 0 || (size_t)n + BODY > cap) {
		fprintf(stderr, "limit: response does not fit\n");
		exit(1);
	}
	memset(buf + n, 'x', BODY);
	return (size_t)n + BODY;
}

static int listen_on(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t sl = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 || listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1) {
		perror("limit: listen");
		exit(1);
	}
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

static void drop(int fd)
{
	free(conns[fd].out);
	memset(&conns[fd], 0, sizeof(conns[fd]));
	close(fd);
}

/* Queue n responses; out grows to fit. */
static int queue(struct conn *c, unsigned n)
{
	const char *r = c->closing ? resp_close : resp_ka;
	size_t rl = c->closing ? len_close : len_ka;

	if (c->len + n * rl > c->cap) {
		size_t cap = c->len + n * rl;
		char *p = realloc(c->out, cap);
		if (!p)
			return -1;
		c->out = p;
		c->cap = cap;
	}
	for (; n > 0; n--, c->len += rl)
		memcpy(c->out + c->len, r, rl);
	return 0;
}

/* Count request terminators, one that spans reads included. */
static unsigned count_ends(struct conn *c, const char *b, size_t n)
{
	static const char end[4] = "\r\n\r\n";
	unsigned found = 0;

	for (size_t i = 0; i < n; i++) {
		if (b[i] == end[c->tail])
			c->tail++;
		else
			c->tail = b[i] == '\r' ? 1 : 0;
		if (c->tail == 4) {
			found++;
			c->tail = 0;
		}
	}
	return found;
}

/* Write what is queued: 1 done, 0 blocked, -1 error. */
static int flush(int fd, struct conn *c)
{
	while (c->off < c->len) {
		ssize_t w = send(fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)w;
	}
	c->off = c->len = 0;
	return 1;
}

static void on_data(int ep, int fd)
{
	struct conn *c = &conns[fd];
	char buf[16384];
	ssize_t n;
	unsigned reqs = 0;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (memmem(buf, (size_t)n, "Connection: close", 17))
			c->closing = 1;
		reqs += count_ends(c, buf, (size_t)n);
		if ((size_t)n < sizeof(buf))
			break;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN) || (reqs && queue(c, reqs) == -1)) {
		drop(fd);
		return;
	}
	int pending = c->len > 0, f = flush(fd, c);
	if (f == -1 || (f == 1 && c->closing && pending)) {
		drop(fd);
		return;
	}
	if (c->want_out == !f)
		return; /* interest unchanged: no epoll_ctl on the common path */
	c->want_out = !f;
	struct epoll_event ev = {.events = EPOLLIN | (f ? 0 : EPOLLOUT), .data.fd = fd};
	epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void on_accept(int ep, int lfd)
{
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		if (fd >= MAX_FD) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			close(fd);
	}
}

static void serve(int lfd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd}, evs[256];
	int ep = epoll_create1(0);

	if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("limit: epoll");
		exit(1);
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd)
				on_accept(ep, lfd);
			else
				on_data(ep, evs[i].data.fd);
		}
		if (n < 0 && errno != EINTR) {
			perror("limit: epoll_wait");
			exit(1);
		}
	}
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

int main(int argc, char **argv)
{
	int port = 0, nproc = 1, opt;
	pid_t kids[MAX_CHILD];

	while ((opt = getopt(argc, argv, "p:w:")) != -1) {
		if (opt == 'p')
			port = atoi(optarg);
		else if (opt == 'w')
			nproc = atoi(optarg);
		else
			return 2;
	}
	if (nproc < 1 || nproc > MAX_CHILD) {
		fprintf(stderr, "limit: -w wants 1..%d\n", MAX_CHILD);
		return 2;
	}
	len_ka = make_resp(resp_ka, sizeof(resp_ka), "");
	len_close = make_resp(resp_close, sizeof(resp_close), "Connection: close\r\n");
	int lfd = listen_on(port);
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: wait() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < nproc; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			serve(lfd);
		}
	}
	while (!stop && wait(NULL) != -1)
		;
	for (int i = 0; i < nproc; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
