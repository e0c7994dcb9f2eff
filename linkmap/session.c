/* SPDX-License-Identifier: MIT */
/* Session keys over time: the current keypair, the previous one (packets
 * still in flight after a rekey), the next one (master: agreed but not yet
 * used by the slave); when the slave starts a handshake; and the master's
 * defences (MAC before anything, fresh timestamps only, a rate limit
 * before any public-key work). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "linkmap-int.h"

#define HS_BURST 20.0

void lm_sess_init(struct lm_sess *s, bool master, const uint8_t psk[32])
{
	memset(s, 0, sizeof(*s));
	s->master = master;
	memcpy(s->psk, psk, 32);
	lm_hs_mac_key(s->mackey, psk);
	s->tokens = HS_BURST;
	s->rekey_after = LM_REKEY_AFTER;
}

void lm_sess_wipe(struct lm_sess *s)
{
	sodium_memzero(s, sizeof(*s));
}

static bool usable(const struct lm_keypair *kp, double now)
{
	return kp->valid && now - kp->created < LM_REJECT_AFTER;
}

/* A new index for a keypair of ours: not 0, and not that of any keypair
 * we hold (indices have only 32 bits, so a clash is not unthinkable). */
static uint32_t random_index(const struct lm_sess *s)
{
	uint32_t i = 0;

	while (!i || i == s->cur.my_index || i == s->prev.my_index ||
	       i == s->next.my_index)
		randombytes_buf(&i, sizeof(i));
	return i;
}

static void keypair_set(struct lm_keypair *kp, uint32_t mine,
			uint32_t peers, const uint8_t tx[32],
			const uint8_t rx[32], double now)
{
	memset(kp, 0, sizeof(*kp));
	kp->valid = true;
	kp->my_index = mine;
	kp->peer_index = peers;
	memcpy(kp->tx, tx, 32);
	memcpy(kp->rx, rx, 32);
	kp->created = now;
	lm_replay_init(&kp->replay);
}

/* The current keypair moves to prev (still accepted for what is in
 * flight); what was in prev is forgotten. */
static void rotate_in(struct lm_sess *s, const struct lm_keypair *kp)
{
	sodium_memzero(&s->prev, sizeof(s->prev));
	if (s->cur.valid)
		s->prev = s->cur;
	s->cur = *kp;
}

int lm_sess_open(struct lm_sess *s, double now, uint8_t *pkt, size_t len,
		 struct lm_hdr *h, uint8_t **payload, struct lm_keypair **kp,
		 struct lm_stats *st)
{
	struct lm_keypair *cands[] = { &s->cur, &s->prev, &s->next };
	int n;

	if (lm_hdr_decode(h, pkt, len) < 0 || h->type >= LM_HS_INIT) {
		st->malformed++;
		return -1;
	}
	*kp = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(cands) && !*kp; i++)
		if (usable(cands[i], now) && cands[i]->my_index == h->session)
			*kp = cands[i];
	if (!*kp) {
		st->stale_session++;
		return -1;
	}
	/* the wire has the low 32 bits: the rest is the keypair's */
	h->counter = lm_counter_expand((*kp)->replay.top, (uint32_t)h->counter);
	if (!lm_replay_check(&(*kp)->replay, h->counter)) {
		st->replay++;
		return -1;
	}
	n = lm_open((*kp)->rx, h, pkt, len, payload);
	if (n < 0)
		st->auth_fail++;
	return n < 0 ? -1 : n;
}

void lm_sess_commit(struct lm_sess *s, struct lm_keypair *kp,
		    const struct lm_hdr *h, double now)
{
	lm_replay_mark(&kp->replay, h->counter);
	s->last_rx = now;
	if (kp == &s->next) {
		/* the slave uses the new keys: so does the master now */
		rotate_in(s, &s->next);
		sodium_memzero(&s->next, sizeof(s->next));
		log_debug("session: new keys in use");
	}
}

int lm_sess_seal(struct lm_sess *s, double now, uint8_t type,
		 uint16_t link_id, const void *payload, size_t len,
		 uint8_t *out, size_t outlen)
{
	struct lm_keypair *kp = &s->cur;
	struct lm_hdr h = { .version = LM_WIRE_VERSION, .type = type,
			    .link_id = link_id };

	if (!usable(kp, now) || kp->tx_counter >= LM_REJECT_MESSAGES)
		return -ENOTCONN;
	h.session = kp->peer_index;
	h.counter = kp->tx_counter++;
	return lm_seal(kp->tx, &h, payload, len, out, outlen);
}

bool lm_sess_want_handshake(const struct lm_sess *s, double now)
{
	const struct lm_keypair *kp = &s->cur;

	if (s->master)
		return false;
	if (s->pending)
		return now - s->hs_sent >= LM_HS_RETRY;
	return !usable(kp, now) || now - kp->created >= s->rekey_after ||
	       kp->tx_counter >= LM_REKEY_MESSAGES ||
	       now - s->last_rx >= LM_HS_SILENT;
}

int lm_sess_init_make(struct lm_sess *s, double now, uint16_t link_id,
		      uint8_t *out, size_t outlen)
{
	/* One initiation per attempt, sent on every link: the master takes
	 * the first copy and ignores the rest. */
	if (!s->pending || now - s->hs_sent >= LM_HS_RETRY) {
		crypto_box_keypair(s->hs.epub, s->esk);
		s->hs.index = random_index(s);
		lm_hs_timestamp(s->hs.ts);
		s->pending = true;
		s->hs_sent = now;
	}
	return lm_hs_init_make(out, outlen, s->mackey, link_id, &s->hs);
}

/* True the first time the accepted initiation comes in on link_id. */
static bool first_on_link(struct lm_sess *s, uint16_t link_id)
{
	for (unsigned i = 0; i < s->nlast_links; i++)
		if (s->last_links[i] == link_id)
			return false;
	if (s->nlast_links == LM_MAX_LINKS)
		return false;
	s->last_links[s->nlast_links++] = link_id;
	return true;
}

/* Token bucket: HS_BURST at once, LM_HS_RATE per second after that. */
static bool take_token(struct lm_sess *s, double now)
{
	s->tokens += (now - s->tokens_at) * LM_HS_RATE;
	if (s->tokens > HS_BURST)
		s->tokens = HS_BURST;
	s->tokens_at = now;
	if (s->tokens < 1)
		return false;
	s->tokens -= 1;
	return true;
}

int lm_sess_init_in(struct lm_sess *s, double now, const uint8_t *pkt,
		    size_t len, uint16_t *link_id, uint8_t *resp,
		    size_t resplen, struct lm_stats *st)
{
	struct lm_hs_init in;
	struct lm_hs_keys k;
	uint32_t r;
	int n, age;

	if (!s->master || lm_hs_init_parse(pkt, len, s->mackey, &in,
					   link_id) < 0) {
		st->hs_bad++;
		return -1;
	}
	age = memcmp(in.ts, s->last_ts, LM_TS_LEN);
	if (age <= 0) {
		/* the same initiation once on each link is no attack;
		 * anything else is a replay */
		if (age < 0 || in.index != s->last_index ||
		    !first_on_link(s, *link_id))
			st->hs_stale++;
		return -1;
	}
	if (!take_token(s, now)) {
		st->hs_ratelimited++;
		return -1;
	}
	r = random_index(s);
	n = lm_hs_resp_make(resp, resplen, s->psk, s->mackey, pkt, *link_id,
			    r, &in, &k);
	if (n < 0) {
		st->hs_bad++;
		return -1;
	}
	memcpy(s->last_ts, in.ts, LM_TS_LEN);
	s->last_index = in.index;
	s->last_links[0] = *link_id;
	s->nlast_links = 1;
	keypair_set(&s->next, r, in.index, k.m2s, k.s2m, now);
	sodium_memzero(&k, sizeof(k));
	st->hs_init++;
	return n;
}

int lm_sess_resp_in(struct lm_sess *s, double now, const uint8_t *pkt,
		    size_t len, uint16_t *link_id, struct lm_stats *st)
{
	uint8_t init[LM_HS_INIT_LEN];
	struct lm_keypair kp;
	struct lm_hs_keys k;
	uint32_t r, i;

	if (s->master || lm_hs_resp_peek(pkt, len, s->mackey, &r, &i,
					 link_id) < 0) {
		st->hs_bad++;
		return -1;
	}
	if (!s->pending || i != s->hs.index) {
		st->hs_stale++;		/* an answer to an older attempt */
		return -1;
	}
	/* the transcript has the initiation as sent on the answered link */
	lm_hs_init_make(init, sizeof(init), s->mackey, *link_id, &s->hs);
	if (lm_hs_resp_finish(pkt, s->psk, init, s->esk, &k) < 0) {
		st->hs_bad++;
		return -1;
	}
	keypair_set(&kp, s->hs.index, r, k.s2m, k.m2s, now);
	rotate_in(s, &kp);
	sodium_memzero(&kp, sizeof(kp));
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(s->esk, sizeof(s->esk));
	s->pending = false;
	s->last_rx = now;
	st->hs_init++;
	return 0;
}
