#!/bin/sh
# On a FreeBSD 14 or 15 host (amd64, as root): build linuxaio.ko from this tree with
# the system's own module rules (kmod/Makefile), then run a payload made on a Linux
# machine (`make vm-payload` there, then copy build/vm/payload here) with that module:
# load, the Linux programs, the refused unload, unload. The conformance rules are
# compared with Linux's when python3 is installed.
#
#   sh vm-harness/check-freebsd.sh PAYLOAD_DIR        (or: make check-freebsd PAYLOAD=...)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
payload=${1:-}
if [ "$(uname -s)" != FreeBSD ]; then
	echo "check-freebsd: this is for a FreeBSD host; on Linux use make vm-test" >&2
	exit 77
fi
if [ -z "$payload" ] || [ ! -f "$payload/run.sh" ]; then
	echo "check-freebsd: give a payload made on Linux with make vm-payload (PAYLOAD=dir)" >&2
	exit 2
fi
major=$(uname -r | cut -d. -f1)
make -C "$root/kmod"
work=$(mktemp -d /tmp/linuxaio-check.XXXXXX)
cp -R "$payload/" "$work/payload"
mkdir -p "$work/payload/modules/freebsd$major"
cp "$root/kmod/linuxaio.ko" "$work/payload/modules/freebsd$major/linuxaio.ko"
kldstat -q -n linuxaio && kldunload linuxaio
set +e
sh "$work/payload/run.sh" "$work/payload" "$work/out" | tee "$work/console.log"
set -e
if command -v python3 >/dev/null; then
	cd "$root/vm-harness" && python3 - "$work" <<'PY'
import os, sys
from vmharness import payload, results
work = sys.argv[1]
report = results.parse(open(os.path.join(work, "console.log")).read())
allowed = results.parse_differences(open(os.path.join(work, "payload", "differences.txt")).read())
rules = results.compare_rules(report, payload.expected_rules(os.path.join(work, "payload")), allowed)
print(results.table(report, rules))
sys.exit(results.verdict(report, rules))
PY
else
	echo "check-freebsd: python3 is not installed; the rules were not compared with Linux's" >&2
	grep -q '@@LINUXAIO@@ END [0-9]* 0 ' "$work/console.log"
fi
