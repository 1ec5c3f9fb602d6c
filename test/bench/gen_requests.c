/* gen_requests: the signed webhook requests `make bench` replays with wrk.
 *
 *   gen_requests FLOW PRESS_EVERY < tokens > requests.tsv
 *
 * Reads call tokens (32 lowercase hex, one a line, from the calls the
 * benchmark inserted) and writes, for each call, the first webhook Twilio
 * sends when the call is answered (POST /twilio/voice/FLOW?c=TOKEN), and
 * for every PRESS_EVERY-th call also the Gather action of the start state
 * with Digits=1 (?c=TOKEN&s=announce&n=0: the caller pressed 1).  Each
 * output line is "URI<TAB>X-Twilio-Signature<TAB>form body".  Requests
 * come in blocks of BLOCK calls, first webhooks before key presses, so
 * that the two requests of one call are never in flight together.
 *
 * Signatures are computed with the library's own signature_compute over
 * RINGFENCE_PUBLIC_URL + URI with TWILIO_AUTH_TOKEN, the same way Twilio
 * signs; TWILIO_ACCOUNT_SID goes into AccountSid.  Built by bench/run
 * against the library objects of `make`. */
#include "buf.h"
#include "form.h"
#include "signature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_LEN 32
#define BLOCK 64
#define START_STATE "announce"

struct bench_env {
	const char *public_url;
	const char *auth_token;
	const char *account_sid;
	const char *flow;
};

static int is_token(const char *s)
{
	if (strlen(s) != TOKEN_LEN)
		return 0;
	for (size_t i = 0; i < TOKEN_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Writes one signed request for call number i with token tok; digits is
 * NULL for the call's first webhook.  Returns 0, or -1 when the
 * signature cannot be computed. */
static int emit(const struct bench_env *env, long i, const char *tok, const char *digits)
{
	char call_sid[2 + TOKEN_LEN + 1], to[16], uri[160], url[512];
	char sig[SIGNATURE_LEN + 1];
	/* Reused for every line; the generator's whole run owns it. */
	static struct buf body = BUF_INIT;
	struct param pv[8];
	struct params params = { pv, 0 };
	const char *names[] = { "AccountSid", "ApiVersion", "CallSid", "CallStatus",
		"Direction", "From", "To", "Digits" };
	const char *values[8];
	size_t nparams = digits ? 8 : 7;

	/* The CallSid is derived from the token so that it is unique and
	 * stable across runs of the generator. */
	snprintf(call_sid, sizeof(call_sid), "CA%.*s", TOKEN_LEN, tok);
	snprintf(to, sizeof(to), "+1415555%04ld", i % 10000);
	if (digits)
		snprintf(uri, sizeof(uri), "/twilio/voice/%s?c=%s&s=%s&n=0", env->flow, tok,
			START_STATE);
	else
		snprintf(uri, sizeof(uri), "/twilio/voice/%s?c=%s", env->flow, tok);
	snprintf(url, sizeof(url), "%s%s", env->public_url, uri);

	values[0] = env->account_sid;
	values[1] = "2010-04-01";
	values[2] = call_sid;
	values[3] = "in-progress";
	values[4] = "outbound-api";
	values[5] = "+15005550006";
	values[6] = to;
	values[7] = digits;
	for (size_t k = 0; k < nparams; k++) {
		pv[k].name = names[k];
		pv[k].value = values[k];
		pv[k].value_len = strlen(values[k]);
	}
	params.n = nparams;
	if (signature_compute(env->auth_token, url, &params, sig) < 0)
		return -1;

	/* The body through the product's one encoder (form_encode_params). */
	buf_reset(&body);
	form_encode_params(&body, &params);
	printf("%s\t%s\t%s\n", uri, sig, buf_str(&body));
	return 0;
}

/* Writes the requests of one block of calls: every first webhook, then
 * the key presses of the chosen ones.  first is the index of tokens[0]. */
static int emit_block(const struct bench_env *env, char (*tokens)[TOKEN_LEN + 1], int n,
	long first, long press_every, long *presses)
{
	for (int k = 0; k < n; k++)
		if (emit(env, first + k, tokens[k], NULL) < 0)
			return -1;
	for (int k = 0; k < n; k++) {
		if (press_every == 0 || (first + k) % press_every != 0)
			continue;
		if (emit(env, first + k, tokens[k], "1") < 0)
			return -1;
		(*presses)++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_env env;
	char tokens[BLOCK][TOKEN_LEN + 1];
	char line[256];
	long press_every, calls = 0, presses = 0;
	int n = 0, rc = 1;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_requests FLOW PRESS_EVERY < tokens > requests.tsv\n");
		return 2;
	}
	env.flow = argv[1];
	press_every = strtol(argv[2], &end, 10);
	env.public_url = getenv("RINGFENCE_PUBLIC_URL");
	env.auth_token = getenv("TWILIO_AUTH_TOKEN");
	env.account_sid = getenv("TWILIO_ACCOUNT_SID");
	if (*end || press_every < 0) {
		fprintf(stderr, "gen_requests: PRESS_EVERY must be a number >= 0 (0: never)\n");
		return 2;
	}
	if (!env.public_url || !env.auth_token || !env.account_sid) {
		fprintf(stderr, "gen_requests: needs RINGFENCE_PUBLIC_URL, TWILIO_AUTH_TOKEN "
			"and TWILIO_ACCOUNT_SID\n");
		return 2;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (!is_token(line)) {
			fprintf(stderr, "gen_requests: not a call token: '%s'\n", line);
			goto out;
		}
		memcpy(tokens[n++], line, TOKEN_LEN + 1);
		if (n == BLOCK) {
			if (emit_block(&env, tokens, n, calls, press_every, &presses) < 0)
				goto sig_failed;
			calls += n;
			n = 0;
		}
	}
	if (n > 0 && emit_block(&env, tokens, n, calls, press_every, &presses) < 0)
		goto sig_failed;
	calls += n;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("gen_requests: write");
		goto out;
	}
	fprintf(stderr, "gen_requests: %ld calls, %ld requests (%ld first webhooks, "
		"%ld key presses)\n", calls, calls + presses, calls, presses);
	rc = 0;
	goto out;
sig_failed:
	fprintf(stderr, "gen_requests: cannot compute a signature\n");
out:
	return rc;
}
