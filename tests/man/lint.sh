#!/usr/bin/env bash
# Lints the manual page kmod/linuxaio.4 with mandoc at level "warning": any message
# (warning, error, unsupported) fails the check.
#
#   tests/man/lint.sh [PAGE...]      default: kmod/linuxaio.4
#
# Needs Debian's mandoc; installs it when it is missing and this runs as root,
# otherwise prints the command to run and exits 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$#" -eq 0 ]; then
	set -- "$root/kmod/linuxaio.4"
fi

if ! command -v mandoc >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "man lint: installing mandoc"
		export DEBIAN_FRONTEND=noninteractive
		# Without a fresh package index the install may fail; then update and retry.
		if ! apt-get install -y -q mandoc >/dev/null 2>&1; then
			apt-get update -q >/dev/null || true
			apt-get install -y -q mandoc >/dev/null || true
		fi
		if ! command -v mandoc >/dev/null 2>&1; then
			echo "man lint: could not install mandoc; run: apt-get update && apt-get install -y mandoc" >&2
			exit 1
		fi
	else
		echo "man lint: mandoc is missing; run as root:" >&2
		echo "  apt-get update && apt-get install -y mandoc" >&2
		exit 1
	fi
fi

status=0
for page in "$@"; do
	if [ ! -f "$page" ]; then
		echo "man lint: $page: no such file" >&2
		status=1
		continue
	fi
	# -Tlint prints nothing for a clean page; its exit status is 0 only then (at the
	# chosen level). Either sign of a message fails the check.
	rc=0
	out=$(mandoc -Tlint -W warning "$page" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		printf '%s\n' "$out"
		echo "man lint: $page: FAILED (mandoc exit status $rc)" >&2
		status=1
	else
		echo "man lint: $page: ok"
	fi
done
exit "$status"
