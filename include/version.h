/* version: the release this binary was built from.
 *
 * rf_version is `git describe --always --dirty` of the checkout at build
 * time (or make's VERSION=...; "unknown" outside git), generated into
 * build/gen/version.c by the Makefile.  `ringfence --version` prints it;
 * the heartbeats, /metrics (ringfence_build_info) and `ringfence doctor`
 * show it, so that an operator can tell which release each process runs. */
#ifndef RF_VERSION_H
#define RF_VERSION_H

extern const char rf_version[];

#endif
