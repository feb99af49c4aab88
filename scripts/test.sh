#!/bin/sh
# `npm test`: type-check and build (incremental, so quick when nothing changed), then run every
# test. Extra arguments go to vitest (a path filter, reporters).
set -e
tsc -b
exec vitest run "$@"
