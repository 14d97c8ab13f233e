#!/usr/bin/env bash
# libaio's own test harness (Debian's libaio source package, the cases Debian's
# autopkgtest runs: `make partcheck LIBAIO=-laio`), natively on Linux (the oracle) and
# under the test bed with linuxaio.ko for each FreeBSD major. Records a table; fails if
# the test bed itself crashed (a finding of kldhost other than the program's own result),
# or if a case's outcome differs from Linux's where libaio-harness-differences.txt does
# not allow it (or allows a difference that is no longer there).
#
#   tests/thirdparty/libaio-harness.sh KLDHOST BUILD_DIR
set -euo pipefail
kldhost=$(realpath "$1")
build=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$build/thirdparty"
mkdir -p "$work"
cd "$work"

if ! dpkg -s libaio-dev >/dev/null 2>&1 || ! command -v dpkg-source >/dev/null || ! command -v pkill >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q libaio-dev dpkg-dev procps >/dev/null
fi
if [ ! -d libaio-src/harness ]; then
	bash "$root/tests/thirdparty/apt-deb-src.sh"
	rm -rf libaio-fetch && mkdir libaio-fetch
	(cd libaio-fetch && apt-get source -q libaio >/dev/null)
	mv "$(find libaio-fetch -mindepth 1 -maxdepth 1 -type d -name 'libaio-*' | head -n 1)" libaio-src
	rm -rf libaio-fetch
fi
version=$(cd libaio-src && dpkg-parsechangelog -S Version 2>/dev/null || echo unknown)
h=libaio-src/harness

# Build the cases partcheck runs, against the system library (-laio), and its testdir.
cases=$(cd "$h" && ls cases/*.t | sort -V | sed 's/\.t$//' | grep -v -E 'cases/(8|10|23)$')
make -s -C "$h" LIBAIO=-laio CFLAGS="-Wall -g -O2" $(for c in $cases; do echo "$c.p"; done) >/dev/null
# LIBAIO_HARNESS_BUILD_ONLY=1: only fetch and build (the VM harness's payload takes them).
if [ "${LIBAIO_HARNESS_BUILD_ONLY:-}" = 1 ]; then
	echo "libaio harness $version: built in $work/$h"
	exit 0
fi
# The files partcheck makes, afresh before every run (cases write to them).
fresh() { make -s -C "$h" testdir/rofile testdir/rwfile testdir/wofile >/dev/null; }

# Runs a case in a session of its own (setsid), its output to LOG, and kills whatever the
# session still holds when the case is over: case 17's forked child spins on after its
# parent gave up (it writes gigabytes to the log and takes the CPUs of the stages after),
# and `timeout` kills only the process it started.
run_isolated() { # LOG CMD...
	local log=$1 leader status
	shift
	(cd "$h" && exec setsid "$@") >"$log" 2>&1 &
	leader=$!
	wait "$leader"
	status=$?
	pkill -KILL -s "$leader" 2>/dev/null || true
	return "$status"
}

outcome() { # exit status of a case -> word
	case "$1" in 0) echo PASS ;; 3) echo SKIP ;; 124) echo TIMEOUT ;; *) echo "FAIL($1)" ;; esac
}

# What counts as the test bed failing (not the case): a crash in the module or in the
# test bed, a missing report, an INVARIANTS/WITNESS finding, memory left allocated.
crash_pattern='killed by signal .* in the (module|test bed)|ended without a report|INVARIANTS/WITNESS: [^n]|: [1-9][0-9]* bytes in [0-9]+ allocations still allocated'
results="$work/libaio-harness.txt"
crashed=0
# case -> the outcome (PASS, SKIP, FAIL, TIMEOUT) it may have instead of Linux's.
declare -A allowed
while read -r n word rule _; do
	allowed[$n]=$word
	# Every reason lives in the one table of differences.
	grep -q -E "^$rule[[:space:]]" "$root/tests/conformance/differences.txt" ||
		{ echo "libaio-harness-differences.txt: case $n names rule $rule, which differences.txt does not list" >&2; exit 1; }
done < <(grep -v -E '^(#|$)' "$root/tests/thirdparty/libaio-harness-differences.txt")
unexpected=()
{
	echo "libaio harness $version (Debian source package), cases of make partcheck"
	printf '%-6s %-10s %-22s %-22s\n' case "Linux" "FreeBSD 14 test bed" "FreeBSD 15 test bed"
} >"$results"
for c in $cases; do
	n=${c#cases/}
	set +e
	fresh
	run_isolated "$work/harness-$n-linux.log" timeout 300 "./$c.p"
	native=$(outcome $?)
	row=$(printf '%-6s %-10s' "$n" "$native")
	for major in 14 15; do
		log="$work/harness-$n-freebsd$major.log"
		fresh
		# 300 s, as natively: a guard against a hang only. Case 11 makes 4 million
		# system calls, each a trap into the test bed (about 100 s here; natively 6).
		run_isolated "$log" timeout 300 "$kldhost" --freebsd "$major" --module "$root/build/freebsd$major/linuxaio.ko" -- "./$c.p"
		status=$?
		word=$(outcome $status)
		if grep -q -E "$crash_pattern" "$log"; then
			word="$word,CRASH"
			crashed=$((crashed + 1))
		fi
		row="$row $(printf '%-22s' "$word")"
		# The comparison with Linux, by outcome (an exit status of FAIL is its detail).
		bed=${word%%[(,]*} linux=${native%%[(,]*}
		if [ "$bed" != "$linux" ] && [ "$bed" != "${allowed[$n]:-}" ]; then
			unexpected+=("case $n on FreeBSD $major: $word, Linux $native")
		elif [ "$bed" = "$linux" ] && [ -n "${allowed[$n]:-}" ] && [ "$bed" != "${allowed[$n]}" ]; then
			# Not what the list expects, and as on Linux: the difference is gone. (Where
			# Linux itself gives the listed outcome, e.g. SKIP on a file system without
			# RWF_NOWAIT, nothing is learnt either way.)
			unexpected+=("case $n on FreeBSD $major: $word as on Linux, but listed as a difference")
		fi
	done
	set -e
	echo "$row" >>"$results"
done
cat "$results"
if [ "$crashed" != 0 ]; then
	echo "libaio harness: the test bed crashed or reported findings in $crashed runs (logs in $work)" >&2
	exit 1
fi
if [ "${#unexpected[@]}" != 0 ]; then
	echo "libaio harness: outcomes that differ from Linux outside libaio-harness-differences.txt (logs in $work):" >&2
	printf '  %s\n' "${unexpected[@]}" >&2
	exit 1
fi
echo "libaio harness: every case as on Linux but the listed differences"
