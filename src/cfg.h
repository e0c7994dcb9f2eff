/* SPDX-License-Identifier: MIT */
/* Configuration: read once from a libconfig file into plain structs. */
#ifndef BRAID_CFG_H
#define BRAID_CFG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tundev.h"

#define CFG_MAX_LINKS 32
#define CFG_NAME_LEN 32
#define CFG_ERR_LEN 512

enum cfg_link_type { CFG_LINK_UDP, CFG_LINK_SOCKS5, CFG_LINK_SOCKS5_TCP };

struct cfg_link {
	char name[CFG_NAME_LEN];
	enum cfg_link_type type;
	uint16_t id;
	unsigned weight;
	bool backup;			/* only when the others are down/full */
	char ifname[IFNAMSIZ];		/* "" = any interface */
	struct sockaddr_storage bind;	/* bind_len 0 = any source */
	socklen_t bind_len;
	/* socks5 and socks5-tcp */
	struct sockaddr_storage proxy;
	socklen_t proxy_len;
	char username[256], password[256];	/* "" = no auth */
	bool fallback;			/* socks5: CONNECT if UDP fails */
};

struct cfg {
	bool master;
	uint8_t key[32];
	char tun_name[IFNAMSIZ];
	struct tun_addr addrs[TUN_MAX_ADDRS];
	size_t naddrs;
	unsigned mtu;
	/* master: listen address; slave: the master's address */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char addr_str[256];
	double keepalive;
	double dead_time;
	double rekey;			/* slave: seconds between handshakes */
	bool listen_tcp;		/* master: take CONNECT streams */
	bool roundrobin;		/* scheduler = "roundrobin" */
	bool redundant;			/* bonding = "redundant" */
	uint16_t redundant_ports[16];	/* or only UDP/TCP on these */
	size_t n_redundant_ports;
	char control[108];
	char user[64];			/* runs as this user after set-up */
	struct cfg_link links[CFG_MAX_LINKS];
	size_t nlinks;
};

/* Reads and validates path into c. On failure returns -1 and writes a
 * message naming the file, line and setting into err. Touches nothing
 * outside the process. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);

/* "host:port", "[v6]:port" or ":port" (every address, IPv4 and IPv6) into
 * a socket address; names are resolved. Returns 0 or -1 with err set. */
int cfg_addr_hostport(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len, char *err, size_t errlen);
/* A numeric IPv4 or IPv6 address, port 0. Returns 0 or -1. */
int cfg_addr_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
