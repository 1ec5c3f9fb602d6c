/* multipart: a strict multipart/form-data parser (RFC 7578, RFC 2046
 * section 5.1) for the dashboard's file uploads.
 *
 * The body becomes form pairs (params.h), so that the route's declared
 * form fields validate it exactly as they validate a urlencoded form: a
 * part's name is the pair's name and its content the pair's value; a
 * file part (one with a filename) gives its bytes as the value (any
 * bytes: value_len counts them) and, when its filename is not empty, a
 * second pair "<name>.filename" with the file's name as the browser sent
 * it.  Everything is copied into the caller's arena.
 *
 * Strict means refused, never guessed at: the body must begin with the
 * first delimiter (no preamble), lines end in CRLF, every part has one
 * Content-Disposition: form-data with a name, header lines are not
 * folded, the close delimiter ends the body (at most a CRLF after it),
 * and nothing is skipped.  Names and the values of fields that are not
 * files are UTF-8 without control characters (values may hold \t \r \n);
 * sizes and the number of parts are capped. */
#ifndef RF_MULTIPART_H
#define RF_MULTIPART_H

#include <stddef.h>

#include "params.h"

struct arena;

struct multipart_limits {
	size_t max_parts;      /* parts in the body */
	size_t max_name;       /* bytes of a part's name */
	size_t max_filename;   /* bytes of a filename */
	size_t max_value;      /* bytes of a field that is not a file */
	size_t max_header;     /* bytes of one header line */
	size_t max_headers;    /* header lines of one part */
};

/* 32 parts, 64-byte names, 255-byte filenames, 16 KiB field values,
 * 1 KiB header lines, 8 header lines a part.  A file is bounded only by
 * the body, which the caller caps (the route's body_max). */
extern const struct multipart_limits multipart_default_limits;

enum multipart_err {
	MULTIPART_OK = 0,
	MULTIPART_BAD_TYPE,     /* not multipart/form-data, or no usable boundary */
	MULTIPART_MALFORMED,    /* delimiters, CRLF, headers or disposition wrong */
	MULTIPART_TOO_MANY,     /* more parts or header lines than the limits */
	MULTIPART_TOO_LARGE,    /* a name, filename, field or header over its limit */
	MULTIPART_BAD_ENCODING, /* a name, filename or field not UTF-8 or with controls */
};

/* The boundary of a Content-Type "multipart/form-data; boundary=..."
 * (quoted or not; 1 to 70 characters of RFC 2046's bchars, not ending in
 * a space) into out (at least 71 bytes).  0, or -1 when content_type is
 * another type or has no valid boundary. */
int multipart_boundary(const char *content_type, char out[71]);

/* Parses the len bytes of body sent with content_type into out.  lim
 * NULL means multipart_default_limits.  On error nothing is returned in
 * out (it is emptied). */
enum multipart_err multipart_parse(struct arena *a, const char *content_type, const char *body,
	size_t len, const struct multipart_limits *lim, struct params *out);

/* A short English description of err ("the upload is malformed"). */
const char *multipart_strerror(enum multipart_err err);

#endif
