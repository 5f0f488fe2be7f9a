/* The PROXY protocol v2 and server.proxy_from: see proxyproto.h. */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "log.h"

static const unsigned char sig[12] = {
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

enum { CMD_LOCAL = 0x0, CMD_PROXY = 0x1 };
enum { FAM_UNSPEC = 0x0, FAM_INET = 0x1, FAM_INET6 = 0x2, FAM_UNIX = 0x3 };
enum { PROTO_UNSPEC = 0x0, PROTO_STREAM = 0x1, PROTO_DGRAM = 0x2 };

#define ADDR_INET 12  /* two IPv4 addresses, two ports */
#define ADDR_INET6 36 /* two IPv6 addresses, two ports */
#define ADDR_UNIX 216 /* two sun_path */
#define TLV_HEAD 3    /* type, length (2) */

/* The bytes so far are a prefix of the signature: 1, else 0. */
static int sig_prefix(const unsigned char *p, size_t len)
{
	return memcmp(p, sig, len < sizeof(sig) ? len : sizeof(sig)) == 0;
}

/* The address bytes a PROXY command's family needs; -1: not defined by the spec. */
static int addr_len(unsigned fam, unsigned proto)
{
	static const int lens[] = {0, ADDR_INET, ADDR_INET6, ADDR_UNIX};

	if (fam > FAM_UNIX || proto > PROTO_DGRAM)
		return -1;
	return fam == FAM_UNSPEC || proto == PROTO_UNSPEC ? 0 : lens[fam];
}

/* TLVs must tile p[0..len) exactly; their contents are not ours to read. */
static int tlvs_ok(const unsigned char *p, size_t len)
{
	size_t off = 0, vlen;

	while (off < len) {
		if (len - off < TLV_HEAD)
			return 0;
		vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (vlen > len - off - TLV_HEAD)
			return 0;
		off += TLV_HEAD + vlen;
	}
	return 1;
}

/* The source address of a TCP header into h; anything else keeps the real peer. */
static void take_source(const unsigned char *a, unsigned fam, unsigned proto, struct proxy_hdr *h)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&h->src;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&h->src;

	if (proto != PROTO_STREAM)
		return; /* UNSPEC, or DGRAM: not a connection of ours to name */
	if (fam == FAM_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		memcpy(&sin->sin_port, a + 8, 2);
		h->srclen = sizeof(*sin);
	} else if (fam == FAM_INET6) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		memcpy(&sin6->sin6_port, a + 32, 2);
		h->srclen = sizeof(*sin6);
	}
}

/* The address block and TLVs of a whole PROXY header (body: blen bytes after the fixed 16). */
static int parse_proxy(const unsigned char *p, size_t blen, struct proxy_hdr *h)
{
	unsigned fam = p[13] >> 4, proto = p[13] & 0xf;
	int need = addr_len(fam, proto);

	if (need < 0)
		return PROXY_ERR_FAMILY;
	if (blen < (size_t)need)
		return PROXY_ERR_SHORT;
	if (need > 0 && !tlvs_ok(p + PROXY_V2_FIXED + need, blen - (size_t)need))
		return PROXY_ERR_TLV;
	take_source(p + PROXY_V2_FIXED, fam, proto, h);
	return 0;
}

int proxy_parse(const void *buf, size_t len, size_t max, struct proxy_hdr *h)
{
	const unsigned char *p = buf;
	size_t blen, total;
	int rc;

	memset(h, 0, sizeof(*h));
	if (!sig_prefix(p, len))
		return PROXY_ERR_SIGNATURE;
	if (len <= sizeof(sig))
		return 0;
	if (p[12] >> 4 != 2)
		return PROXY_ERR_VERSION;
	if ((p[12] & 0xf) > CMD_PROXY)
		return PROXY_ERR_COMMAND;
	if (len < PROXY_V2_FIXED)
		return 0;
	blen = (size_t)p[14] << 8 | p[15];
	total = PROXY_V2_FIXED + blen;
	if (total > max)
		return PROXY_ERR_TOO_LONG;
	if (len < total)
		return 0;
	h->local = (p[12] & 0xf) == CMD_LOCAL;
	if (!h->local && (rc = parse_proxy(p, blen, h)) < 0)
		return rc; /* LOCAL: the block, family included, is ignored */
	return (int)total;
}

const char *proxy_strerror(int rc)
{
	switch (rc) {
	case PROXY_ERR_SIGNATURE:
		return "no PROXY v2 header";
	case PROXY_ERR_VERSION:
		return "PROXY header version is not 2";
	case PROXY_ERR_COMMAND:
		return "PROXY header command is neither LOCAL nor PROXY";
	case PROXY_ERR_FAMILY:
		return "PROXY header has an unknown address family or protocol";
	case PROXY_ERR_SHORT:
		return "PROXY header address block is too short for its family";
	case PROXY_ERR_TLV:
		return "PROXY header has a malformed TLV";
	case PROXY_ERR_TOO_LONG:
		return "PROXY header is too long";
	default:
		return "PROXY header refused";
	}
}

size_t proxy_apply(
    char *buf, size_t len, size_t n, const struct proxy_hdr *h, struct sockaddr_storage *peer)
{
	if (h->srclen > 0) {
		memset(peer, 0, sizeof(*peer));
		memcpy(peer, &h->src, h->srclen);
	}
	memmove(buf, buf + n, len - n);
	return len - n;
}

/* ---- server.proxy_from ---- */

/* Clear the host bits past the prefix. */
static void cidr_mask(struct msg_cidr *c)
{
	size_t nbytes = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < nbytes; i++) {
		unsigned keep = c->bits >= (i + 1) * 8 ? 8 : c->bits > i * 8 ? c->bits - i * 8 : 0;

		c->addr[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* Peers are compared as IPv4 when mapped (proxy_from_match): so are such networks. */
static void v4mapped_as_v4(struct msg_cidr *c)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (c->family != AF_INET6 || c->bits < 96 || memcmp(c->addr, prefix, 12) != 0)
		return;
	c->family = AF_INET;
	c->bits -= 96;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
}

/* "/N" after an address: 0 with *bits, -1 when it is no number up to maxbits. */
static int parse_bits(const char *s, unsigned maxbits, unsigned *bits)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > maxbits)
		return -1;
	*bits = (unsigned)v;
	return 0;
}

/* One "ADDR" or "ADDR/BITS" token into c; -1 with why. */
static int parse_one(const char *tok, struct msg_cidr *c, char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);
	unsigned bits;

	memset(c, 0, sizeof(*c));
	if (alen >= sizeof(addr))
		return snprintf(why, whylen, "'%.64s' is not an address", tok), -1;
	memcpy(addr, tok, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = AF_INET6;
	else
		return snprintf(why, whylen, "'%.64s' is not an IPv4 or IPv6 address", addr), -1;
	bits = c->family == AF_INET ? 32 : 128;
	if (slash && parse_bits(slash + 1, bits, &bits) == -1)
		return snprintf(why, whylen, "'%.64s': the prefix length must be 0..%u", tok,
		           c->family == AF_INET ? 32 : 128),
		       -1;
	c->bits = (uint8_t)bits;
	v4mapped_as_v4(c);
	cidr_mask(c);
	return 0;
}

int proxy_from_parse(const char *s, struct msg_cidr *out, size_t max, char *why, size_t whylen)
{
	char tok[128];
	size_t n = 0, len;

	if (strcmp(s, "off") == 0)
		return 0;
	for (s += strspn(s, " \t,"); *s != '\0'; s += strspn(s, " \t,")) {
		len = strcspn(s, " \t,");
		if (len >= sizeof(tok))
			return snprintf(why, whylen, "'%.64s...' is not an address", s), -1;
		memcpy(tok, s, len);
		tok[len] = '\0';
		if (n == max)
			return snprintf(why, whylen, "more than %zu addresses", max), -1;
		if (parse_one(tok, &out[n], why, whylen) == -1)
			return -1;
		n++;
		s += len;
	}
	return (int)n;
}

/* The first bits of a and b are equal. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask = (uint8_t)(0xff00u >> rest);

	return memcmp(a, b, whole) == 0 && (rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0);
}

/* The peer's family and address bytes; IPv4-mapped IPv6 as IPv4. 0: not an IP peer. */
static int peer_bytes(const struct sockaddr *sa, const uint8_t **addr)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		*addr = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		*addr = sin6->sin6_addr.s6_addr + 12;
		return AF_INET;
	}
	*addr = sin6->sin6_addr.s6_addr;
	return AF_INET6;
}

int proxy_from_match(const struct msg_cidr *nets, size_t n, const struct sockaddr *sa)
{
	const uint8_t *addr = NULL;
	int fam;

	if (n == 0 || (fam = peer_bytes(sa, &addr)) == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (nets[i].family == fam && prefix_eq(nets[i].addr, addr, nets[i].bits))
			return 1;
	return 0;
}

/* ---- the refusal log ---- */

static const char *peer_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if ((ss->ss_family != AF_INET && ss->ss_family != AF_INET6) ||
	    inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		return "-";
	return buf;
}

void proxy_log_refused(
    struct proxy_loglimit *l, const struct sockaddr_storage *peer, int rc, time_t now)
{
	char addr[INET6_ADDRSTRLEN];

	if (now != l->sec) {
		if (l->dropped > 0)
			log_warnx("%u more PROXY refusal lines suppressed", l->dropped);
		l->sec = now;
		l->n = l->dropped = 0;
	}
	if (l->n++ >= PROXY_LOG_PER_SEC) {
		l->dropped++;
		return;
	}
	log_warnx("connection from %s (in server.proxy_from) refused with 400: %s",
	    peer_str(peer, addr, sizeof(addr)), proxy_strerror(rc));
}
