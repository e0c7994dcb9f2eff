/* SPDX-License-Identifier: MIT */
/* The peer's sessions: which one is current, which are retired for good,
 * and the open-then-commit order that keeps forged packets from changing
 * any of it. */
#include <string.h>

#include "linkmap-int.h"
#include "log.h"

static bool is_retired(const struct lm_peer *p, uint64_t session)
{
	for (unsigned i = 0; i < LM_RETIRED && i < p->nretired; i++)
		if (p->retired[i] == session)
			return true;
	return false;
}

void lm_peer_init(struct lm_peer *p)
{
	memset(p, 0, sizeof(*p));
}

int lm_peer_open(struct lm_peer *p, const uint8_t psk[32], enum lm_dir dir,
		 double now, uint8_t *pkt, size_t len, struct lm_hdr *h,
		 uint8_t **payload, bool *new_session, struct lm_stats *st)
{
	int n;

	if (lm_hdr_decode(h, pkt, len) < 0) {
		st->malformed++;
		return -1;
	}
	*new_session = false;
	if (p->have && h->session == p->cur.session) {
		if (!lm_replay_check(&p->replay, h->counter)) {
			st->replay++;
			return -1;
		}
		n = lm_open(&p->cur, h, pkt, len, payload);
		if (n < 0)
			st->auth_fail++;
		return n < 0 ? -1 : n;
	}
	if (p->cand.session != h->session)
		lm_session_key_derive(&p->cand, psk, dir, h->session);
	n = lm_open(&p->cand, h, pkt, len, payload);
	if (n < 0) {
		st->auth_fail++;
		return -1;
	}
	/* A newer session (the peer restarted) is taken at once. An older
	 * one only when the current session has gone quiet (the peer's
	 * clock stepped back), and never one that was current before. */
	if (is_retired(p, h->session) ||
	    (p->have && h->session < p->highest &&
	     now - p->last_rx < LM_SESSION_IDLE)) {
		st->stale_session++;
		return -1;
	}
	*new_session = true;
	return n;
}

void lm_peer_commit(struct lm_peer *p, const struct lm_hdr *h,
		    bool new_session, double now)
{
	if (new_session) {
		log_info("peer %s session %016llx",
			 p->have ? "started a new" : "is up with",
			 (unsigned long long)h->session);
		if (p->have)
			p->retired[p->nretired++ % LM_RETIRED] =
				p->cur.session;
		p->cur = p->cand;
		p->have = true;
		if (h->session > p->highest)
			p->highest = h->session;
		lm_replay_init(&p->replay);
	}
	lm_replay_mark(&p->replay, h->counter);
	p->last_rx = now;
}
