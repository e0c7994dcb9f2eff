/* SPDX-License-Identifier: MIT */
/* Configuration: read once from a libconfig file into plain structs. */
#ifndef BRAID_CFG_H
#define BRAID_CFG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "multiplexer.h"
#include "tundev.h"

#define CFG_MAX_LINKS 32
#define CFG_NAME_LEN 32
#define CFG_ERR_LEN 512

/* The scheduler setting's words, by enum mux_sched; NULL after. */
extern const char *const cfg_sched_names[];

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
	double rate;			/* cap, bytes/s; 0: none */
	bool id_set;			/* id given, not the position */
	uint8_t secret_hash[16];	/* of username and password */
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
	enum mux_sched sched;		/* scheduler */
	bool redundant;			/* bonding = "redundant" */
	bool compress;			/* header_compression */
	bool measure;			/* measure_links */
	uint16_t redundant_ports[16];	/* or only UDP/TCP on these */
	size_t n_redundant_ports;
	char control[108];
	/* routing (route_default: slave only) */
	bool route_default;
	struct tun_addr routes[TUN_MAX_ROUTES];
	size_t nroutes;
	uint32_t fwmark, route_table;
	char on_up[1024], on_down[1024];	/* shell commands, "" none */
	struct sockaddr_storage metrics;	/* metrics_len 0: off */
	socklen_t metrics_len;
	char metrics_str[64];
	char user[64];			/* runs as this user after set-up */
	struct cfg_link links[CFG_MAX_LINKS];
	size_t nlinks;
};

/* Reads and validates path into c. On failure returns -1 and writes a
 * message naming the file, line and setting into err. Touches nothing
 * outside the process. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);

/* The whole file, NUL-terminated (at most 1 MiB, no NUL inside); NULL
 * with err set. The caller frees it. */
char *cfg_read_text(const char *path, char *err, size_t errlen);

/* As cfg_load, for a SIGHUP, from text (path's contents, read by the
 * keeper, which is still root; wiped): the key is not read again, the
 * running daemon keeps its own, nor is the master's name resolved again
 * if it has not changed (a reload must not wait for DNS). */
int cfg_reload_text(struct cfg *c, const struct cfg *running,
		    const char *path, char *text, char *err, size_t errlen);

/* The control socket a config names, without validating the rest (for
 * the clients). Returns 0 or -1 with err. */
int cfg_control_path(const char *path, char *out, size_t len, char *err,
		     size_t errlen);

/* A link from a `link-add` request (keys and types as in the file),
 * checked against c's links (names, ids). Returns 0 or -1 with err. */
int cfg_link_from_json(const struct cfg *c, struct json_object *o,
		       struct cfg_link *out, char *err, size_t errlen);
/* Applies a `link-set` request (weight, backup, rate) to l; on error l
 * is unchanged. */
int cfg_link_set_json(struct cfg_link *l, struct json_object *set, char *err,
		      size_t errlen);
/* Whether two links use the same transport (a change means a rebuild). */
bool cfg_link_same_transport(const struct cfg_link *a,
			     const struct cfg_link *b);
/* "20mbit", "512kbit", "1.5gbit", "64000" (bit/s) into bytes/s. */
int cfg_rate_parse(const char *s, double *bytes);

/* "host:port", "[v6]:port" or ":port" (every address, IPv4 and IPv6) into
 * a socket address; names are resolved. Returns 0 or -1 with err set. */
int cfg_addr_hostport(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len, char *err, size_t errlen);
/* A numeric IPv4 or IPv6 address, port 0. Returns 0 or -1. */
int cfg_addr_ip(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
