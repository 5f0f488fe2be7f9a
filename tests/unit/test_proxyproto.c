/* The PROXY v2 parser and server.proxy_from: every branch with a good and a bad case. */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "proxyproto.h"

static const unsigned char sig[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static unsigned char buf[70000];
static struct proxy_hdr h;

/* A header: the signature, ver_cmd, fam, then body (blen bytes); its total length. */
static size_t make(unsigned ver_cmd, unsigned fam, const void *body, size_t blen)
{
	memcpy(buf, sig, sizeof(sig));
	buf[12] = (unsigned char)ver_cmd;
	buf[13] = (unsigned char)fam;
	buf[14] = (unsigned char)(blen >> 8);
	buf[15] = (unsigned char)blen;
	if (blen > 0)
		memcpy(buf + 16, body, blen);
	return 16 + blen;
}

/* TCP over IPv4, 192.0.2.7:5678 -> 198.51.100.1:80, then extra bytes. */
static size_t make_inet(unsigned ver_cmd, const void *extra, size_t elen)
{
	unsigned char b[12 + 64] = {192, 0, 2, 7, 198, 51, 100, 1, 0x16, 0x2e, 0, 80};

	memcpy(b + 12, extra, elen);
	return make(ver_cmd, 0x11, b, 12 + elen);
}

static int parse(size_t len) { return proxy_parse(buf, len, sizeof(buf), &h); }

static void assert_src4(const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&h.src;
	char got[INET_ADDRSTRLEN];

	ck_assert_uint_eq(h.srclen, sizeof(*sin));
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_str_eq(inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got)), addr);
	ck_assert_uint_eq(ntohs(sin->sin_port), port);
}

START_TEST(test_inet_stream)
{
	size_t n = make_inet(0x21, "", 0);

	ck_assert_uint_eq(n, 28);
	ck_assert_int_eq(parse(n), 28);
	ck_assert_int_eq(h.local, 0);
	assert_src4("192.0.2.7", 5678);
}
END_TEST

START_TEST(test_inet6_stream)
{
	unsigned char b[36] = {0};
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&h.src;
	char got[INET6_ADDRSTRLEN];

	inet_pton(AF_INET6, "2001:db8::42", b);
	inet_pton(AF_INET6, "2001:db8::1", b + 16);
	b[32] = 0x04;
	b[33] = 0xd2; /* 1234 */
	ck_assert_int_eq(parse(make(0x21, 0x21, b, sizeof(b))), 52);
	ck_assert_uint_eq(h.srclen, sizeof(*sin6));
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_str_eq(inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof(got)), "2001:db8::42");
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 1234);
}
END_TEST

/* Bytes that cannot start a signature are refused at once, even one of them. */
START_TEST(test_garbage_refused_at_once)
{
	ck_assert_int_eq(proxy_parse("G", 1, 100, &h), PROXY_ERR_SIGNATURE);
	ck_assert_int_eq(proxy_parse("GET / HTTP/1.1\r\n\r\n", 18, 100, &h), PROXY_ERR_SIGNATURE);
	/* v1's text form is not accepted: v2 only */
	ck_assert_int_eq(
	    proxy_parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, 100, &h), PROXY_ERR_SIGNATURE);
	/* a signature broken in its 12th byte */
	make_inet(0x21, "", 0);
	buf[11] = 'X';
	ck_assert_int_eq(parse(11), 0);
	ck_assert_int_eq(parse(12), PROXY_ERR_SIGNATURE);
	ck_assert_int_eq(parse(28), PROXY_ERR_SIGNATURE);
}
END_TEST

/* Every strict prefix of a valid header is "need more"; a split anywhere works. */
START_TEST(test_truncated_needs_more)
{
	size_t n = make_inet(0x21, "\x04\x00\x02zz", 5);

	ck_assert_int_eq(proxy_parse(buf, 0, sizeof(buf), &h), 0);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_eq(parse(i), 0);
	ck_assert_int_eq(parse(n), (int)n);
}
END_TEST

START_TEST(test_version_nibble)
{
	ck_assert_int_eq(parse(make_inet(0x11, "", 0)), PROXY_ERR_VERSION);
	ck_assert_int_eq(parse(make_inet(0x31, "", 0)), PROXY_ERR_VERSION);
	ck_assert_int_eq(parse(make_inet(0x01, "", 0)), PROXY_ERR_VERSION);
	/* known as soon as the 13th byte is there */
	make_inet(0x11, "", 0);
	ck_assert_int_eq(parse(13), PROXY_ERR_VERSION);
}
END_TEST

START_TEST(test_command_nibble)
{
	ck_assert_int_eq(parse(make_inet(0x22, "", 0)), PROXY_ERR_COMMAND);
	ck_assert_int_eq(parse(make_inet(0x2f, "", 0)), PROXY_ERR_COMMAND);
	make_inet(0x22, "", 0);
	ck_assert_int_eq(parse(13), PROXY_ERR_COMMAND);
}
END_TEST

/* LOCAL: the block is skipped whatever it holds, family included; the real peer stays. */
START_TEST(test_local)
{
	ck_assert_int_eq(parse(make(0x20, 0x00, NULL, 0)), 16);
	ck_assert_int_eq(h.local, 1);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x20, 0xff, "abcde", 5)), 21);
	ck_assert_int_eq(h.local, 1);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make_inet(0x20, "", 0)), 28);
	ck_assert_int_eq(h.local, 1);
	ck_assert_uint_eq(h.srclen, 0);
}
END_TEST

/* UNSPEC, UNIX and DGRAM with PROXY: accepted, addresses ignored (the real peer stays). */
START_TEST(test_unspec_and_fallbacks)
{
	unsigned char unix_addrs[216] = {0};
	unsigned char inet[12] = {0};

	ck_assert_int_eq(parse(make(0x21, 0x00, NULL, 0)), 16);
	ck_assert_int_eq(h.local, 0);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x21, 0x00, "xyz", 3)), 19);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x21, 0x10, "xyz", 3)), 19); /* INET, UNSPEC protocol */
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x21, 0x31, unix_addrs, sizeof(unix_addrs))), 232);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x21, 0x32, unix_addrs, sizeof(unix_addrs))), 232);
	ck_assert_uint_eq(h.srclen, 0);
	ck_assert_int_eq(parse(make(0x21, 0x12, inet, sizeof(inet))), 28); /* UDP */
	ck_assert_uint_eq(h.srclen, 0);
}
END_TEST

START_TEST(test_unknown_family_or_protocol)
{
	unsigned char b[40] = {0};

	ck_assert_int_eq(parse(make(0x21, 0x41, b, 12)), PROXY_ERR_FAMILY);
	ck_assert_int_eq(parse(make(0x21, 0xf1, b, 12)), PROXY_ERR_FAMILY);
	ck_assert_int_eq(parse(make(0x21, 0x13, b, 12)), PROXY_ERR_FAMILY);
	ck_assert_int_eq(parse(make(0x21, 0x03, b, 12)), PROXY_ERR_FAMILY);
}
END_TEST

START_TEST(test_address_block_too_short)
{
	unsigned char b[40] = {0};

	ck_assert_int_eq(parse(make(0x21, 0x11, b, 11)), PROXY_ERR_SHORT);
	ck_assert_int_eq(parse(make(0x21, 0x11, b, 0)), PROXY_ERR_SHORT);
	ck_assert_int_eq(parse(make(0x21, 0x21, b, 35)), PROXY_ERR_SHORT);
	ck_assert_int_eq(parse(make(0x21, 0x21, b, 12)), PROXY_ERR_SHORT);
	ck_assert_int_eq(parse(make(0x21, 0x31, b, 40)), PROXY_ERR_SHORT);
}
END_TEST

START_TEST(test_tlvs_skipped)
{
	/* NOOP with 3 bytes, then AUTHORITY with none, then ALPN "h2" */
	static const char tlvs[] = "\x04\x00\x03"
	                           "abc\x02\x00\x00\x01\x00\x02"
	                           "h2";
	size_t n = make_inet(0x21, tlvs, sizeof(tlvs) - 1);

	ck_assert_int_eq(parse(n), (int)n);
	assert_src4("192.0.2.7", 5678);
}
END_TEST

START_TEST(test_tlvs_malformed)
{
	/* a TLV head cut short */
	ck_assert_int_eq(parse(make_inet(0x21, "\x04\x00", 2)), PROXY_ERR_TLV);
	ck_assert_int_eq(parse(make_inet(0x21, "\x04", 1)), PROXY_ERR_TLV);
	/* a value longer than what is left */
	ck_assert_int_eq(parse(make_inet(0x21,
	                     "\x04\x00\x04"
	                     "abc",
	                     6)),
	    PROXY_ERR_TLV);
	/* a good one, then a bad one */
	ck_assert_int_eq(parse(make_inet(0x21, "\x04\x00\x00\x04\x01\x00", 6)), PROXY_ERR_TLV);
}
END_TEST

/* The length field is checked against max as soon as it arrives. */
START_TEST(test_length_bounds)
{
	unsigned char big[300] = {0};
	size_t n = make(0x21, 0x11, big, sizeof(big)); /* 316 bytes */

	/* (after the address, 96 TLVs of type 0 and length 0) */
	ck_assert_int_eq(proxy_parse(buf, n, n, &h), (int)n);
	ck_assert_int_eq(proxy_parse(buf, n, n - 1, &h), PROXY_ERR_TOO_LONG);
	ck_assert_int_eq(proxy_parse(buf, 16, n - 1, &h), PROXY_ERR_TOO_LONG);
	ck_assert_int_eq(proxy_parse(buf, 15, n - 1, &h), 0);
	/* the largest a header can say: 16 + 65535 */
	buf[14] = buf[15] = 0xff;
	ck_assert_int_eq(proxy_parse(buf, 16, 16 + 65534, &h), PROXY_ERR_TOO_LONG);
	ck_assert_int_eq(proxy_parse(buf, 16, 16 + 65535, &h), 0);
}
END_TEST

/* The request after the header stays in the buffer; LOCAL keeps the peer. */
START_TEST(test_apply)
{
	char in[128];
	struct sockaddr_storage peer;
	struct sockaddr_in *sin = (struct sockaddr_in *)&peer;
	size_t n = make_inet(0x21, "", 0), left;
	int rc;

	memcpy(in, buf, n);
	memcpy(in + n, "GET / HTTP/1.1\r\n\r\n", 18);
	memset(&peer, 0, sizeof(peer));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = proxy_parse(in, n + 18, sizeof(in), &h);
	ck_assert_int_eq(rc, 28);
	left = proxy_apply(in, n + 18, (size_t)rc, &h, &peer);
	ck_assert_uint_eq(left, 18);
	ck_assert(memcmp(in, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0xc0000207);
	ck_assert_uint_eq(ntohs(sin->sin_port), 5678);

	n = make(0x20, 0, NULL, 0);
	memcpy(in, buf, n);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = proxy_parse(in, n, sizeof(in), &h);
	ck_assert_int_eq(rc, 16);
	ck_assert_uint_eq(proxy_apply(in, n, (size_t)rc, &h, &peer), 0);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
}
END_TEST

START_TEST(test_strerror)
{
	for (int rc = PROXY_ERR_TOO_LONG; rc <= PROXY_ERR_SIGNATURE; rc++)
		ck_assert_str_ne(proxy_strerror(rc), proxy_strerror(-100));
	ck_assert_str_eq(proxy_strerror(PROXY_ERR_SIGNATURE), "no PROXY v2 header");
}
END_TEST

/* ---- server.proxy_from ---- */

static struct msg_cidr nets[MSG_PROXY_FROM_MAX];
static char why[160];

static int from(const char *s) { return proxy_from_parse(s, nets, 4, why, sizeof(why)); }

START_TEST(test_from_parse)
{
	ck_assert_int_eq(from("off"), 0);
	ck_assert_int_eq(from(""), 0);
	ck_assert_int_eq(from(" , "), 0);
	ck_assert_int_eq(from("127.0.0.1"), 1);
	ck_assert_int_eq(nets[0].family, AF_INET);
	ck_assert_int_eq(nets[0].bits, 32);
	ck_assert_int_eq(from("10.1.2.3/8, ::1  fd00::1/8,192.168.7.255/23"), 4);
	ck_assert_int_eq(nets[0].bits, 8);
	ck_assert(memcmp(nets[0].addr, "\x0a\x00\x00\x00", 4) == 0); /* host bits cleared */
	ck_assert_int_eq(nets[1].family, AF_INET6);
	ck_assert_int_eq(nets[1].bits, 128);
	ck_assert_int_eq(nets[2].bits, 8);
	ck_assert_int_eq(nets[2].addr[0], 0xfd);
	ck_assert_int_eq(nets[2].addr[15], 0);
	ck_assert(memcmp(nets[3].addr, "\xc0\xa8\x06\x00", 4) == 0);
	ck_assert_int_eq(from("0.0.0.0/0 ::/0"), 2);
	/* an IPv4-mapped entry is kept as IPv4, as peers are compared */
	ck_assert_int_eq(from("::ffff:10.1.2.3/112 ::ffff:0:0/95"), 2);
	ck_assert_int_eq(nets[0].family, AF_INET);
	ck_assert_int_eq(nets[0].bits, 16);
	ck_assert(memcmp(nets[0].addr, "\x0a\x01\x00\x00", 4) == 0);
	ck_assert_int_eq(nets[1].family, AF_INET6);
	ck_assert_int_eq(nets[1].bits, 95);
}
END_TEST

START_TEST(test_from_errors)
{
	ck_assert_int_eq(from("localhost"), -1);
	ck_assert_str_eq(why, "'localhost' is not an IPv4 or IPv6 address");
	ck_assert_int_eq(from("10.0.0.0/33"), -1);
	ck_assert_str_eq(why, "'10.0.0.0/33': the prefix length must be 0..32");
	ck_assert_int_eq(from("::/129"), -1);
	ck_assert_str_eq(why, "'::/129': the prefix length must be 0..128");
	ck_assert_int_eq(from("10.0.0.0/"), -1);
	ck_assert_int_eq(from("10.0.0.0/x"), -1);
	ck_assert_int_eq(from("10.0.0.0/-1"), -1);
	ck_assert_int_eq(from("10.0.0.0/8/8"), -1);
	ck_assert_int_eq(from("1.2.3.4 1.2.3.5 1.2.3.6 1.2.3.7 1.2.3.8"), -1);
	ck_assert_str_eq(why, "more than 4 addresses");
	ck_assert_int_eq(from("1111111111111111111111111111111111111111111111111111111111111111111"
	                      "11111111111111111111111111111111111111111111111111111111111111111"),
	    -1);
	ck_assert_int_eq(from("[::1]"), -1);
}
END_TEST

static struct sockaddr_storage peer_of(int family, const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	else if (family == AF_INET6)
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	return ss;
}

static int match(int n, int family, const char *addr)
{
	struct sockaddr_storage ss = peer_of(family, addr);

	return proxy_from_match(nets, (size_t)n, (struct sockaddr *)&ss);
}

START_TEST(test_from_match)
{
	int n = from("127.0.0.1, 10.16.0.0/12 2001:db8::/33");

	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(match(n, AF_INET, "127.0.0.1"), 1);
	ck_assert_int_eq(match(n, AF_INET, "127.0.0.2"), 0);
	ck_assert_int_eq(match(n, AF_INET, "10.16.0.1"), 1);
	ck_assert_int_eq(match(n, AF_INET, "10.31.255.255"), 1);
	ck_assert_int_eq(match(n, AF_INET, "10.32.0.0"), 0);
	ck_assert_int_eq(match(n, AF_INET, "10.15.255.255"), 0);
	/* a dual-stack listener sees IPv4 peers as mapped addresses */
	ck_assert_int_eq(match(n, AF_INET6, "::ffff:127.0.0.1"), 1);
	ck_assert_int_eq(match(n, AF_INET6, "::ffff:127.0.0.3"), 0);
	ck_assert_int_eq(match(n, AF_INET6, "2001:db8:7fff::1"), 1);
	ck_assert_int_eq(match(n, AF_INET6, "2001:db8:8000::1"), 0);
	ck_assert_int_eq(match(n, AF_INET6, "::1"), 0);
	ck_assert_int_eq(match(n, AF_UNIX, ""), 0);
	ck_assert_int_eq(match(0, AF_INET, "127.0.0.1"), 0);
	n = from("0.0.0.0/0");
	ck_assert_int_eq(match(n, AF_INET, "203.0.113.9"), 1);
	ck_assert_int_eq(match(n, AF_INET6, "::1"), 0);
	n = from("::ffff:192.0.2.0/120");
	ck_assert_int_eq(match(n, AF_INET, "192.0.2.200"), 1);
	ck_assert_int_eq(match(n, AF_INET6, "::ffff:192.0.2.1"), 1);
	ck_assert_int_eq(match(n, AF_INET, "192.0.3.1"), 0);
}
END_TEST

/* Ten lines a second, the rest counted and reported with the next second's first. */
START_TEST(test_log_limit)
{
	struct proxy_loglimit l = {0};
	struct sockaddr_storage p = peer_of(AF_INET, "127.0.0.1");

	for (int i = 0; i < 15; i++)
		proxy_log_refused(&l, &p, PROXY_ERR_SIGNATURE, 1000);
	ck_assert_uint_eq(l.n, 15);
	ck_assert_uint_eq(l.dropped, 5);
	proxy_log_refused(&l, &p, PROXY_ERR_TLV, 1001);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.dropped, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_inet_stream);
	tcase_add_test(tc, test_inet6_stream);
	tcase_add_test(tc, test_garbage_refused_at_once);
	tcase_add_test(tc, test_truncated_needs_more);
	tcase_add_test(tc, test_version_nibble);
	tcase_add_test(tc, test_command_nibble);
	tcase_add_test(tc, test_local);
	tcase_add_test(tc, test_unspec_and_fallbacks);
	tcase_add_test(tc, test_unknown_family_or_protocol);
	tcase_add_test(tc, test_address_block_too_short);
	tcase_add_test(tc, test_tlvs_skipped);
	tcase_add_test(tc, test_tlvs_malformed);
	tcase_add_test(tc, test_length_bounds);
	tcase_add_test(tc, test_apply);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_from_parse);
	tcase_add_test(tc, test_from_errors);
	tcase_add_test(tc, test_from_match);
	tcase_add_test(tc, test_log_limit);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
