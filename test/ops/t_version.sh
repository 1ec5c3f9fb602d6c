#!/usr/bin/env bash
# Every binary says which release it is (include/version.h): the
# checkout's `git describe`, the same for both binaries.
. "$ROOT/test/ops/lib.sh"

want=$(git -C "$ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
got=$("$ROOT/bin/ringfence" --version 2>&1)
if [ "$got" = "ringfence $want" ]; then
	ok "ringfence --version names the checkout ($want)"
else
	not_ok "ringfence --version says '$got', the checkout is '$want'"
fi
got=$("$ROOT/bin/ringfence-sim" --version 2>&1)
if [ "$got" = "ringfence-sim $want" ]; then
	ok "ringfence-sim --version names the same release"
else
	not_ok "ringfence-sim --version says '$got', the checkout is '$want'"
fi
tap_done
