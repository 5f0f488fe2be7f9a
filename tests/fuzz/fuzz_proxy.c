/*
 * libFuzzer: arbitrary bytes as the start of a connection from an address
 * in server.proxy_from, through proxy_parse (every prefix length the
 * worker could see, and a few buffer sizes), proxy_apply, and, as text,
 * through the server.proxy_from list parser and matcher. ASan catches any
 * read outside the input; the checks below catch answers in bounds but
 * wrong.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "proxyproto.h"

static const size_t maxes[] = {16, 28, 64, 232, 16896, 70000};

/* What a result promises, and that it agrees with every shorter input. */
static void check_parse(const uint8_t *p, size_t len, size_t max)
{
	struct proxy_hdr h;
	int rc = proxy_parse(p, len, max, &h), again;

	CHECK(rc >= PROXY_ERR_TOO_LONG);
	if (rc <= 0)
		return;
	CHECK((size_t)rc <= len && (size_t)rc <= max && rc >= PROXY_V2_FIXED);
	CHECK(rc == PROXY_V2_FIXED + (p[14] << 8 | p[15]));
	CHECK(h.srclen == 0 || h.srclen == sizeof(struct sockaddr_in) ||
	    h.srclen == sizeof(struct sockaddr_in6));
	CHECK(h.srclen == 0 ||
	    h.src.ss_family == (h.srclen == sizeof(struct sockaddr_in) ? AF_INET : AF_INET6));
	CHECK(!h.local || h.srclen == 0);
	/* truncated is "need more", never an error and never a header */
	CHECK(proxy_parse(p, (size_t)rc - 1, max, &h) == 0);
	again = proxy_parse(p, len, max, &h);
	CHECK(again == rc);
}

static void check_apply(const uint8_t *p, size_t len)
{
	static char buf[70000];
	struct sockaddr_storage peer = {.ss_family = AF_INET};
	struct proxy_hdr h;
	int rc;

	if (len > sizeof(buf))
		return;
	memcpy(buf, p, len);
	if ((rc = proxy_parse(buf, len, sizeof(buf), &h)) <= 0)
		return;
	CHECK(proxy_apply(buf, len, (size_t)rc, &h, &peer) == len - (size_t)rc);
	CHECK(memcmp(buf, p + rc, len - (size_t)rc) == 0);
	CHECK(peer.ss_family == (h.srclen ? h.src.ss_family : AF_INET));
}

/* Networks parsed have sane prefixes and no host bits; matching never reads past them. */
static void check_from(const uint8_t *p, size_t len)
{
	static char s[4096];
	struct msg_cidr nets[MSG_PROXY_FROM_MAX];
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char why[160];
	int n;

	if (len >= sizeof(s))
		return;
	memcpy(s, p, len);
	s[len] = '\0';
	if ((n = proxy_from_parse(s, nets, MSG_PROXY_FROM_MAX, why, sizeof(why))) < 0) {
		CHECK(why[0] != '\0');
		return;
	}
	CHECK(n <= MSG_PROXY_FROM_MAX);
	for (int i = 0; i < n; i++) {
		unsigned width = nets[i].family == AF_INET ? 32 : 128;

		CHECK(nets[i].family == AF_INET || nets[i].family == AF_INET6);
		CHECK(nets[i].bits <= width);
		for (unsigned b = nets[i].bits; b < width; b++)
			CHECK((nets[i].addr[b / 8] & (0x80 >> (b % 8))) == 0);
		/* a network's own address is in it */
		memcpy(&sin6.sin6_addr, nets[i].addr, 16);
		memcpy(&sin.sin_addr, nets[i].addr, 4);
		CHECK(proxy_from_match(nets, (size_t)n,
		    nets[i].family == AF_INET6 ? (struct sockaddr *)&sin6 :
		                                 (struct sockaddr *)&sin));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++)
		check_parse(data, size, maxes[i]);
	check_apply(data, size);
	check_from(data, size);
	return 0;
}
