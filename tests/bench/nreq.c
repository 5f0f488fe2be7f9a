/*
 * nreq: send exactly N GET requests to 127.0.0.1:PORT over C connections
 * and check that every response is complete, for the per-request figures
 * of tests/bench/cost.sh (a fixed amount of work, unlike wrk's fixed time).
 *
 *   nreq [-n N] [-c C] [-d DEPTH] [-x] PORT PATH
 *
 * -d sends DEPTH requests back to back before reading (pipelining, default
 * 1); -x sends "Connection: close", one request per connection, and waits
 * for the server's close before opening the next. Every response must be
 * "HTTP/1.1 200" with a Content-Length, and exactly that many body bytes.
 * Exit 0 when all N were answered, 1 otherwise (with the cause), 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define HEAD_MAX 8192
#define TIMEOUT_MS 10000

struct cl {
	int fd;
	int awaiting;    /* responses still due on this batch */
	long body_left;  /* -1: reading a head */
	size_t head_len; /* bytes of head buffered */
	char head[HEAD_MAX];
};

static struct cl cls[MAX_CONNS];
static long unsent, done, total;
static int depth = 1, closing;
static uint16_t port;
static char req[512];
static size_t req_len;

static void die(const char *what)
{
	fprintf(stderr, "nreq: %s after %ld of %ld responses\n", what, done, total);
	exit(1);
}

static int dial(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect failed");
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Claim the next batch and send it whole (a few hundred bytes: fits). */
static void send_batch(struct cl *c)
{
	char buf[sizeof(req) * 64];
	int k = unsent < depth ? (int)unsent : depth;

	for (int i = 0; i < k; i++)
		memcpy(buf + (size_t)i * req_len, req, req_len);
	if (send(c->fd, buf, (size_t)k * req_len, MSG_NOSIGNAL) != (ssize_t)((size_t)k * req_len))
		die("short send");
	unsent -= k;
	c->awaiting = k;
	c->body_left = -1;
	c->head_len = 0;
}

/* A complete head in c->head: check it, start its body. */
static size_t take_head(struct cl *c, const char *end)
{
	size_t hl = (size_t)(end - c->head) + 4;
	char *cl;

	c->head[hl - 1] = '\0';
	if (strncmp(c->head, "HTTP/1.1 200", 12) != 0)
		die("a response that is not HTTP/1.1 200");
	if (!(cl = strcasestr(c->head, "\r\ncontent-length:")))
		die("a response without Content-Length");
	c->body_left = strtol(cl + 17, NULL, 10);
	return hl;
}

/* Consume n bytes of responses: heads checked, bodies counted. */
static void consume(struct cl *c, const char *p, size_t n)
{
	while (n > 0) {
		if (c->awaiting == 0)
			die("bytes after the last response");
		if (c->body_left >= 0) {
			size_t k = (size_t)c->body_left < n ? (size_t)c->body_left : n;
			c->body_left -= (long)k;
			p += k;
			n -= k;
		} else {
			size_t k = HEAD_MAX - 1 - c->head_len < n ? HEAD_MAX - 1 - c->head_len : n;
			memcpy(c->head + c->head_len, p, k);
			c->head_len += k;
			c->head[c->head_len] = '\0';
			char *end = strstr(c->head, "\r\n\r\n");
			if (!end && c->head_len == HEAD_MAX - 1)
				die("a response head over 8 KiB");
			if (!end)
				return;
			size_t used = take_head(c, end) - (c->head_len - k);
			p += used;
			n -= used;
			c->head_len = 0;
		}
		if (c->body_left == 0) {
			c->awaiting--;
			done++;
			c->body_left = -1;
		}
	}
}

/* The batch is answered: next batch, or (closing) wait for EOF first. */
static void next(struct cl *c)
{
	if (closing)
		return;
	if (unsent > 0)
		send_batch(c);
}

static void on_readable(struct cl *c)
{
	char buf[65536];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n < 0)
		die("recv failed");
	if (n == 0) {
		if (!closing || c->awaiting)
			die("the server closed a connection early");
		close(c->fd);
		c->fd = -1;
		if (unsent > 0) {
			c->fd = dial();
			send_batch(c);
		}
		return;
	}
	consume(c, buf, (size_t)n);
	if (c->awaiting == 0)
		next(c);
}

static void run(int nconn)
{
	struct pollfd pf[MAX_CONNS];

	for (int i = 0; i < nconn && unsent > 0; i++) {
		cls[i].fd = dial();
		send_batch(&cls[i]);
	}
	while (done < total) {
		for (int i = 0; i < nconn; i++)
			pf[i] = (struct pollfd){.fd = cls[i].fd, .events = POLLIN};
		int r = poll(pf, (nfds_t)nconn, TIMEOUT_MS);
		if (r == 0)
			die("no progress for 10 s");
		for (int i = 0; i < nconn; i++)
			if (pf[i].revents)
				on_readable(&cls[i]);
	}
}

int main(int argc, char **argv)
{
	int nconn = 1, opt;

	total = 1000;
	while ((opt = getopt(argc, argv, "n:c:d:x")) != -1) {
		if (opt == 'n')
			total = atol(optarg);
		else if (opt == 'c')
			nconn = atoi(optarg);
		else if (opt == 'd')
			depth = atoi(optarg);
		else if (opt == 'x')
			closing = 1;
		else
			return 2;
	}
	if (argc - optind != 2 || total < 1 || nconn < 1 || nconn > MAX_CONNS || depth < 1 ||
	    depth > 64 || (closing && depth != 1)) {
		fprintf(stderr,
		    "usage: nreq [-n N] [-c 1..%d] [-d 1..64] [-x] PORT PATH "
		    "(-x with -d 1)\n",
		    MAX_CONNS);
		return 2;
	}
	port = (uint16_t)atoi(argv[optind]);
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
	    argv[optind + 1], closing ? "Connection: close\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		return 2;
	req_len = (size_t)n;
	for (int i = 0; i < MAX_CONNS; i++)
		cls[i].fd = -1;
	unsent = total;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	run(nconn);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("nreq: %ld responses complete over %d connection(s) in %.3f s\n", done, nconn, s);
	return 0;
}
