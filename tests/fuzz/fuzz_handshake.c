/* SPDX-License-Identifier: MIT */
/* Fuzz target: the handshake and session keys — the master taking
 * initiations, the slave taking responses, data under fresh keys. Raw
 * input first; then messages built from the input with valid MACs, so the
 * fuzzer gets past the MAC to X25519, the timestamp and index rules and
 * the confirm check. */
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "linkmap-int.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return sodium_init() < 0;
}

static void remac(uint8_t *pkt, size_t at, const uint8_t mackey[32])
{
	crypto_generichash(pkt + at, 16, pkt, at, mackey, 32);
}

/* input: mode byte, then fields or raw bytes */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lm_sess ms, sl;
	uint8_t pkt[512], resp[LM_HS_RESP_LEN], init[LM_HS_INIT_LEN];
	struct lm_stats st = { 0 };
	struct lm_hs_init in;
	struct lm_keypair *kp;
	struct lm_hdr h;
	uint8_t *payload;
	uint16_t id;
	int n;

	if (size < 1 || size > sizeof(pkt) + 1)
		return 0;
	lm_sess_init(&ms, true, fuzz_key);
	lm_sess_init(&sl, false, fuzz_key);
	memcpy(pkt, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:		/* raw bytes at the master */
		n = lm_sess_init_in(&ms, 10, pkt, size - 1, &id, resp,
				    sizeof(resp), &st);
		FUZZ_CHECK(n < 0 || n == LM_HS_RESP_LEN);
		break;
	case 1:		/* raw bytes at a slave waiting for a response */
		lm_sess_init_make(&sl, 10, 1, init, sizeof(init));
		FUZZ_CHECK(lm_sess_resp_in(&sl, 10, pkt, size - 1, &id,
					   &st) < 0);
		break;
	case 2:		/* an initiation with a valid MAC, any contents */
		if (size < 1 + 2 + 4 + 32 + LM_TS_LEN)
			return 0;
		memcpy(&id, data + 1, 2);
		memcpy(&in.index, data + 3, 4);
		memcpy(in.epub, data + 7, 32);
		memcpy(in.ts, data + 39, LM_TS_LEN);
		if (!id || !in.index)
			return 0;
		lm_hs_init_make(init, sizeof(init), ms.mackey, id, &in);
		n = lm_sess_init_in(&ms, 10, init, sizeof(init), &id, resp,
				    sizeof(resp), &st);
		/* taken only if X25519 with that point worked */
		FUZZ_CHECK(n < 0 || (n == LM_HS_RESP_LEN && ms.next.valid));
		break;
	default:	/* a real handshake, its response altered and re-MACed */
		lm_sess_init_make(&sl, 10, 3, init, sizeof(init));
		n = lm_sess_init_in(&ms, 10, init, sizeof(init), &id, resp,
				    sizeof(resp), &st);
		FUZZ_CHECK(n == LM_HS_RESP_LEN);
		for (size_t i = 1; i < size && i - 1 < LM_HS_RESP_LEN - 16; i++)
			resp[i - 1] ^= data[i];
		remac(resp, LM_HS_RESP_LEN - 16, sl.mackey);
		n = lm_sess_resp_in(&sl, 10, resp, sizeof(resp), &id, &st);
		if (n == 0) {
			/* then it was the master's own response (or one the
			 * confirm cannot tell apart): the keys must agree */
			FUZZ_CHECK(!memcmp(sl.cur.tx, ms.next.rx, 32));
			n = lm_sess_seal(&sl, 10, 1, id, data, size > 64 ? 64 :
					 size, pkt, sizeof(pkt));
			FUZZ_CHECK(n > 0);
			FUZZ_CHECK(lm_sess_open(&ms, 10, pkt, n, &h, &payload,
						&kp, &st) >= 0);
		}
		break;
	}
	lm_sess_wipe(&ms);
	lm_sess_wipe(&sl);
	return 0;
}
