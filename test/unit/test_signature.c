/* Unit tests: X-Twilio-Signature.  Every vector of TWILIO.md, then the
 * ways a request can be tampered with, and the port quirk both ways. */
#include "unit.h"

#include "arena.h"
#include "form.h"
#include "signature.h"
#include "util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TOKEN "12345"
#define U "https://mycompany.com/myapp.php?foo=1&bar=2"
/* The parameters P of TWILIO.md, form-encoded as Twilio posts them. */
#define P_BODY "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234" \
	"&From=%2B14158675309&To=%2B18005551212"
#define JSON_BODY "{\"property\": \"value\", \"boolean\": true}"
#define JSON_HASH "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

static struct params parse(struct arena *a, const char *body)
{
	struct params p;
	assert_int_equal(form_parse(a, body, strlen(body), NULL, &p), FORM_OK);
	return p;
}

struct vector {
	const char *url;
	const char *body; /* form-encoded parameters, NULL: none */
	const char *sig;
};

/* TWILIO.md's table.  Parameter order in the bodies is shuffled on
 * purpose: the signature must not depend on it. */
static const struct vector vectors[] = {
	{ U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=" },
	{ "https://mycompany.com:443/myapp.php?foo=1&bar=2", P_BODY, "kvajT1Ptam85bY51eRf/AJRuM3w=" },
	{ "http://mycompany.com:80/myapp.php?foo=1&bar=2", P_BODY, "0ZXoZLH/DfblKGATFgpif+LLRf4=" },
	{ "http://mycompany.com:1234/myapp.php?foo=1&bar=2", P_BODY, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=" },
	{ U, "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234",
		"IK+Dwps556ElfBT0I3Rgjkr1wJU=" },
	{ U, "Digits=1234&Digits=5678&SidAccount=AC123&Digits=1234&Sid=CA123",
		"IK+Dwps556ElfBT0I3Rgjkr1wJU=" },
	{ U "&Body=It's+amazing", P_BODY, "dsq4Ehbj6cs+KdTkpF5sSSplOWw=" },
	{ U, "To=%2B18005551212&From=%2B12349013030&Digits=1234&Caller=%2B12349013030"
		"&CallSid=CA1234567890ABCDE", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" },
	{ U "&bodySHA256=" JSON_HASH, NULL, "a9nBmqA0ju/hNViExpshrM61xv4=" },
	/* Names and repeated values in JavaScript's sort order (UTF-16 code
	 * units), as twilio-node sorts them: U+1F600 (a surrogate pair,
	 * 0xD83D 0xDE00) before U+E000 and U+FF01, where byte order puts it
	 * last; the repeated U+1F600 value is signed once.  The signed string
	 * is U "Body\u00e9Body\ud7ffBody\U0001f600Body\ue000Body\uff01"
	 * "\u00e9k3\U0001f600k1\ue000k2"; computed independently with
	 *   python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(
	 *     hmac.new(b"12345", S.encode(), hashlib.sha1).digest()))'
	 * for that S (the names and values ordered by
	 * sorted(..., key=lambda x: x.encode("utf-16-be"))). */
	{ U, "Body=%EF%BC%81&Body=%F0%9F%98%80&Body=%C3%A9&Body=%F0%9F%98%80&Body=%ED%9F%BF"
		"&Body=%EE%80%80&%F0%9F%98%80=k1&%EE%80%80=k2&%C3%A9=k3",
		"nCeAbzKLBrmLMCrUq32MFK55Bq0=" },
};

static void test_vectors_compute(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		struct arena *a = arena_new(0);
		struct params p;
		char sig[SIGNATURE_LEN + 1];
		if (vectors[i].body)
			p = parse(a, vectors[i].body);
		assert_int_equal(signature_compute(TOKEN, vectors[i].url,
			vectors[i].body ? &p : NULL, sig), 0);
		if (strcmp(sig, vectors[i].sig) != 0)
			fail_msg("vector %zu: %s, expected %s", i, sig, vectors[i].sig);
		arena_free(a);
	}
}

static void test_vectors_validate(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		struct arena *a = arena_new(0);
		struct params p = { NULL, 0 };
		int is_form = vectors[i].body != NULL;
		const char *body = is_form ? vectors[i].body : JSON_BODY;
		enum signature_verdict v;
		if (is_form)
			p = parse(a, body);
		v = signature_validate(TOKEN, vectors[i].url, &p, is_form, body, strlen(body),
			vectors[i].sig);
		if (v != SIGNATURE_VALID)
			fail_msg("vector %zu: %s", i, signature_verdict_name(v));
		arena_free(a);
	}
}

/* The official validators accept the URL with and without its port. */
struct port_case {
	const char *signed_url;   /* what the signature was computed over */
	const char *received_url; /* what ringfence rebuilt */
	enum signature_verdict want;
};

static const struct port_case port_cases[] = {
	/* port added by Twilio's side, absent in ours */
	{ "https://mycompany.com:443/myapp.php?foo=1&bar=2", U, SIGNATURE_VALID },
	{ "http://mycompany.com:80/myapp.php?foo=1&bar=2",
		"http://mycompany.com/myapp.php?foo=1&bar=2", SIGNATURE_VALID },
	/* port present in ours, absent in the signed URL */
	{ U, "https://mycompany.com:443/myapp.php?foo=1&bar=2", SIGNATURE_VALID },
	{ "http://mycompany.com/myapp.php?foo=1&bar=2",
		"http://mycompany.com:80/myapp.php?foo=1&bar=2", SIGNATURE_VALID },
	{ "http://127.0.0.1/twilio/voice/reminder_call",
		"http://127.0.0.1:8080/twilio/voice/reminder_call", SIGNATURE_VALID },
	{ "https://mycompany.com/myapp.php", "https://mycompany.com:8443/myapp.php", SIGNATURE_VALID },
	/* scheme case does not hide the default port */
	{ "HTTPS://mycompany.com:443/x", "HTTPS://mycompany.com/x", SIGNATURE_VALID },
	/* no path, only a query, and IPv6 literals */
	{ "https://mycompany.com:443", "https://mycompany.com", SIGNATURE_VALID },
	{ "https://mycompany.com:443?a=1", "https://mycompany.com?a=1", SIGNATURE_VALID },
	{ "http://[::1]:80/x", "http://[::1]/x", SIGNATURE_VALID },
	{ "http://[::1]/x", "http://[::1]:8080/x", SIGNATURE_VALID },
	/* credentials in the URL: the port is the host's, not the password */
	{ "https://user:pw@mycompany.com:443/x", "https://user:pw@mycompany.com/x", SIGNATURE_VALID },
	{ "https://user:pw@mycompany.com/x", "https://user:pw@mycompany.com:443/x", SIGNATURE_VALID },
	/* only the default port is added, and only for its own scheme */
	{ "https://mycompany.com:80/myapp.php", "https://mycompany.com/myapp.php", SIGNATURE_INVALID },
	{ "http://mycompany.com:443/myapp.php", "http://mycompany.com/myapp.php", SIGNATURE_INVALID },
	{ "https://mycompany.com:8443/myapp.php", "https://mycompany.com/myapp.php", SIGNATURE_INVALID },
	/* a port is never moved between two explicit values */
	{ "https://mycompany.com:443/x", "https://mycompany.com:8443/x", SIGNATURE_INVALID },
	/* a colon in the path or query is not a port */
	{ "https://mycompany.com:443/a:b", "https://mycompany.com/a:b", SIGNATURE_VALID },
	{ "https://mycompany.com/a:443", "https://mycompany.com/a", SIGNATURE_INVALID },
	{ "https://mycompany.com/x?p=:443", "https://mycompany.com/x?p=", SIGNATURE_INVALID },
	/* the host is not confused with something else */
	{ "https://evil.com:443/x", "https://mycompany.com/x", SIGNATURE_INVALID },
};

static void test_port_quirk(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(port_cases); i++) {
		const struct port_case *c = &port_cases[i];
		struct arena *a = arena_new(0);
		struct params p = parse(a, P_BODY);
		char sig[SIGNATURE_LEN + 1];
		enum signature_verdict v;
		assert_int_equal(signature_compute(TOKEN, c->signed_url, &p, sig), 0);
		v = signature_validate(TOKEN, c->received_url, &p, 1, P_BODY, strlen(P_BODY), sig);
		if (v != c->want)
			fail_msg("port case %zu (%s signed, %s received): %s", i, c->signed_url,
				c->received_url, signature_verdict_name(v));
		arena_free(a);
	}
}

/* Everything that must not validate: each changes one thing about the
 * first vector. */
struct tamper_case {
	const char *what;
	const char *token;
	const char *url;
	const char *body;
	const char *header;
	enum signature_verdict want;
};

static const struct tamper_case tamper_cases[] = {
	{ "untouched", TOKEN, U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_VALID },
	{ "tampered param", TOKEN, U, "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235"
		"&From=%2B14158675309&To=%2B18005551212", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "added param", TOKEN, U, P_BODY "&Extra=1", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "added empty param", TOKEN, U, P_BODY "&Extra", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "removed param", TOKEN, U, "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
		"&From=%2B14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "name/value boundary is not signed (Twilio's scheme)", TOKEN, U, "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits1=234"
		"&From=%2B14158675309&To=%2B18005551212", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_VALID },
	{ "tampered URL path", TOKEN, "https://mycompany.com/myapp.php2?foo=1&bar=2", P_BODY,
		"RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "tampered URL query", TOKEN, "https://mycompany.com/myapp.php?foo=2&bar=2", P_BODY,
		"RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "re-sorted URL query", TOKEN, "https://mycompany.com/myapp.php?bar=2&foo=1", P_BODY,
		"RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "tampered host", TOKEN, "https://evil.com/myapp.php?foo=1&bar=2", P_BODY,
		"RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "http instead of https", TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", P_BODY,
		"RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "wrong token", "12346", U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "empty token", "", U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "no token", NULL, U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "missing header", TOKEN, U, P_BODY, NULL, SIGNATURE_MISSING },
	{ "empty header", TOKEN, U, P_BODY, "", SIGNATURE_MISSING },
	{ "header one char off", TOKEN, U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", SIGNATURE_INVALID },
	{ "header truncated", TOKEN, U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8", SIGNATURE_INVALID },
	{ "header with extra", TOKEN, U, P_BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8==", SIGNATURE_INVALID },
	{ "header with space", TOKEN, U, P_BODY, " RSOYDt4T1cUTdK1PDd93/VVr8B8=", SIGNATURE_INVALID },
	{ "header lower-cased", TOKEN, U, P_BODY, "rsoydt4t1cutdk1pdd93/vvr8b8=", SIGNATURE_INVALID },
	{ "header is another vector", TOKEN, U, P_BODY, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", SIGNATURE_INVALID },
};

static void test_tampering(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(tamper_cases); i++) {
		const struct tamper_case *c = &tamper_cases[i];
		struct arena *a = arena_new(0);
		struct params p = parse(a, c->body);
		enum signature_verdict v = signature_validate(c->token, c->url, &p, 1, c->body,
			strlen(c->body), c->header);
		if (v != c->want)
			fail_msg("case '%s': %s, expected %s", c->what, signature_verdict_name(v),
				signature_verdict_name(c->want));
		arena_free(a);
	}
}

/* The HMAC is keyed once per token and kept: a token that changes (a
 * reload, a rotated token), then changes back, or is a prefix of the
 * other, signs with the token given each time, never the kept one. */
static void test_token_change(void **state)
{
	static const char *const tokens[] = { TOKEN, "12346", TOKEN, TOKEN "5", TOKEN, "" };
	struct arena *a = arena_new(0);
	struct params p = parse(a, P_BODY);
	char sig[SIGNATURE_LEN + 1], first[SIGNATURE_LEN + 1];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(tokens); i++) {
		const char *t = tokens[i];
		if (t[0] == '\0') {
			assert_int_equal(signature_compute(t, U, &p, sig), -1);
			assert_int_equal(signature_validate(t, U, &p, 1, P_BODY, strlen(P_BODY), first),
				SIGNATURE_INVALID);
			continue;
		}
		assert_int_equal(signature_compute(t, U, &p, sig), 0);
		if (i == 0)
			memcpy(first, sig, sizeof(sig));
		if ((strcmp(t, TOKEN) == 0) != (strcmp(sig, first) == 0))
			fail_msg("token %zu (%s) signed %s; the test token signs %s", i, t, sig, first);
		assert_int_equal(signature_validate(t, U, &p, 1, P_BODY, strlen(P_BODY), sig),
			SIGNATURE_VALID);
		assert_int_equal(signature_validate(strcmp(t, TOKEN) ? TOKEN : "12346", U, &p, 1,
			P_BODY, strlen(P_BODY), sig), SIGNATURE_INVALID);
	}
	assert_string_equal(first, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
	arena_free(a);
}

/* HMAC-SHA1 of exactly s with the test token, base64: an independent
 * statement of the string to sign, to compare signature_compute against. */
static void reference(const char *s, char out[SIGNATURE_LEN + 1])
{
	unsigned char mac[20];
	unsigned int n = 0;
	assert_non_null(HMAC(EVP_sha1(), TOKEN, 5, (const unsigned char *)s, strlen(s), mac, &n));
	assert_int_equal(n, 20);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, mac, 20), SIGNATURE_LEN);
}

struct string_case {
	const char *what;
	const char *body;
	const char *signed_string; /* after the URL */
};

static const struct string_case string_cases[] = {
	/* byte order: upper case before lower case, '_' (0x5F) between
	 * them, so strcasecmp or a locale's collation would order these
	 * differently */
	{ "byte order", "b=1&B=2&_=3&a=4&A=5", "A5B2_3a4b1" },
	{ "byte order, prefixes", "ab=1&a=2&aB=3&a_=4", "a2aB3a_4ab1" },
	/* bytes above 0x7F sort after ASCII (unsigned), not before */
	{ "high bytes last", "%C3%A9=1&z=2&Z=3", "Z3z2\xc3\xa9" "1" },
	/* a repeated name: values sorted, each once */
	{ "repeated values sorted", "d=b&d=a&d=c", "dadbdc" },
	/* UTF-16 code-unit order (twilio-node sorts with JavaScript's
	 * default comparison): a character above U+FFFF (UTF-8 F0..F4, a
	 * surrogate pair in UTF-16) sorts before U+E000-U+FFFF (UTF-8
	 * EE..EF) although its bytes are greater; below U+D800 the order is
	 * the bytes' */
	{ "UTF-16 order of values", "d=%EF%BC%81&d=%F0%9F%98%80&d=%EE%80%80&d=%ED%9F%BF",
		"d\xed\x9f\xbf" "d\xf0\x9f\x98\x80" "d\xee\x80\x80" "d\xef\xbc\x81" },
	{ "UTF-16 order of names", "%EF%BC%81=1&%F0%9F%98%80=2&%ED%9F%BF=3",
		"\xed\x9f\xbf" "3" "\xf0\x9f\x98\x80" "2" "\xef\xbc\x81" "1" },
	{ "UTF-16 order, common prefix", "d=a%EF%BC%81&d=a%F0%9F%98%80&d=a",
		"da" "da\xf0\x9f\x98\x80" "da\xef\xbc\x81" },
	{ "two characters above U+FFFF by code point", "d=%F0%9F%98%81&d=%F0%90%80%80&d=%F4%8F%BF%BF",
		"d\xf0\x90\x80\x80" "d\xf0\x9f\x98\x81" "d\xf4\x8f\xbf\xbf" },
	{ "repeated value above U+FFFF signed once", "d=%F0%9F%98%80&d=%F0%9F%98%80", "d\xf0\x9f\x98\x80" },
	{ "repeated identical value", "d=1&d=1&e=2", "d1e2" },
	{ "repeated empty values", "d&d=&d=0", "dd0" },
	{ "value prefix of another", "d=12&d=1", "d1d12" },
	/* '&' and '=' inside values are signed decoded */
	{ "ampersand and equals in value", "Body=a%26b%3Dc&To=x", "Bodya&b=cTox" },
	{ "plus is a space", "Body=It%27s+amazing", "BodyIt's amazing" },
	{ "no params", "", "" },
};

static void test_signed_string(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(string_cases); i++) {
		const struct string_case *c = &string_cases[i];
		struct arena *a = arena_new(0);
		struct params p = parse(a, c->body);
		char got[SIGNATURE_LEN + 1], want[SIGNATURE_LEN + 1];
		char *s = xasprintf("%s%s", U, c->signed_string);
		reference(s, want);
		assert_int_equal(signature_compute(TOKEN, U, &p, got), 0);
		if (strcmp(got, want) != 0)
			fail_msg("case '%s': signed something other than '%s'", c->what, s);
		assert_int_equal(signature_validate(TOKEN, U, &p, 1, c->body, strlen(c->body), want),
			SIGNATURE_VALID);
		free(s);
		arena_free(a);
	}
}

/* NULL params and empty params sign the URL alone. */
static void test_url_alone(void **state)
{
	char a[SIGNATURE_LEN + 1], b[SIGNATURE_LEN + 1], c[SIGNATURE_LEN + 1];
	struct params none = { NULL, 0 };
	(void)state;
	reference(U, c);
	assert_int_equal(signature_compute(TOKEN, U, NULL, a), 0);
	assert_int_equal(signature_compute(TOKEN, U, &none, b), 0);
	assert_string_equal(a, c);
	assert_string_equal(b, c);
	assert_int_equal(signature_compute("", U, NULL, a), -1);
	assert_string_equal(a, "");
	assert_int_equal(signature_compute(NULL, U, NULL, a), -1);
}

/* Non-form bodies: bodySHA256 must match the body exactly. */
struct body_case {
	const char *what;
	const char *url;
	const char *body;
	size_t body_len; /* 0: strlen(body) */
	enum signature_verdict want;
};

static const struct body_case body_cases[] = {
	{ "matching", U "&bodySHA256=" JSON_HASH, JSON_BODY, 0, SIGNATURE_VALID },
	/* twilio-node compares the value with a lower-case hex digest, so
	 * any upper-case letter is a mismatch */
	{ "upper-case hash", U "&bodySHA256=0A1FF7634D9AB3B95DB5C9A2DFE9416E41502B283A80C7CF19632632F96E6620",
		JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "one upper-case letter in the hash",
		U "&bodySHA256=0A1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620",
		JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "first in query", "https://mycompany.com/myapp.php?bodySHA256=" JSON_HASH "&foo=1",
		JSON_BODY, 0, SIGNATURE_VALID },
	{ "tampered body", U "&bodySHA256=" JSON_HASH, "{\"property\": \"value\", \"boolean\": false}",
		0, SIGNATURE_BODY_MISMATCH },
	{ "body with trailing newline", U "&bodySHA256=" JSON_HASH, JSON_BODY "\n", 0,
		SIGNATURE_BODY_MISMATCH },
	{ "truncated body", U "&bodySHA256=" JSON_HASH, JSON_BODY, sizeof(JSON_BODY) - 2,
		SIGNATURE_BODY_MISMATCH },
	{ "empty body", U "&bodySHA256=" JSON_HASH, "", 0, SIGNATURE_BODY_MISMATCH },
	{ "short hash", U "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e662",
		JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "long hash", U "&bodySHA256=" JSON_HASH "0", JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "empty hash", U "&bodySHA256=", JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "non-hex hash", U "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e662g",
		JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "hash of nothing, empty body",
		U "&bodySHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "", 0,
		SIGNATURE_VALID },
	/* Only the URL is covered then, so a body would be unauthenticated. */
	{ "body without bodySHA256", U, JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
	{ "no body, no bodySHA256", U, "", 0, SIGNATURE_VALID },
	/* a name that only contains bodySHA256 is not it */
	{ "xbodySHA256", U "&xbodySHA256=" JSON_HASH, JSON_BODY, 0, SIGNATURE_BODY_MISMATCH },
};

static void test_body_hash(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(body_cases); i++) {
		const struct body_case *c = &body_cases[i];
		char sig[SIGNATURE_LEN + 1];
		size_t len = c->body_len ? c->body_len : strlen(c->body);
		enum signature_verdict v;
		assert_int_equal(signature_compute(TOKEN, c->url, NULL, sig), 0);
		v = signature_validate(TOKEN, c->url, NULL, 0, c->body, len, sig);
		if (v != c->want)
			fail_msg("case '%s': %s, expected %s", c->what, signature_verdict_name(v),
				signature_verdict_name(c->want));
	}
	/* A forged URL is "invalid" even when the body hash is also wrong. */
	assert_int_equal(signature_validate(TOKEN, U "&bodySHA256=" JSON_HASH, NULL, 0, "x", 1,
		"a9nBmqA0ju/hNViExpshrM61xv4X"), SIGNATURE_INVALID);
	/* A form body is signed as parameters; bodySHA256 plays no part. */
	{
		struct arena *a = arena_new(0);
		struct params p = parse(a, P_BODY);
		char sig[SIGNATURE_LEN + 1];
		const char *url = U "&bodySHA256=" JSON_HASH;
		assert_int_equal(signature_compute(TOKEN, url, &p, sig), 0);
		assert_int_equal(signature_validate(TOKEN, url, &p, 1, P_BODY, strlen(P_BODY), sig),
			SIGNATURE_VALID);
		/* and the same request taken as non-form does not validate */
		assert_int_equal(signature_validate(TOKEN, url, &p, 0, P_BODY, strlen(P_BODY), sig),
			SIGNATURE_INVALID);
		arena_free(a);
	}
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(signature_verdict_name(SIGNATURE_VALID), "valid");
	assert_string_equal(signature_verdict_name(SIGNATURE_MISSING), "missing");
	assert_string_equal(signature_verdict_name(SIGNATURE_INVALID), "invalid");
	assert_string_equal(signature_verdict_name(SIGNATURE_BODY_MISMATCH), "body_mismatch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_compute),
		cmocka_unit_test(test_vectors_validate),
		cmocka_unit_test(test_port_quirk),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_token_change),
		cmocka_unit_test(test_signed_string),
		cmocka_unit_test(test_url_alone),
		cmocka_unit_test(test_body_hash),
		cmocka_unit_test(test_verdict_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
