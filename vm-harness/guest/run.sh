#!/bin/sh
# linuxaio on a real FreeBSD system: loads linux64 and linuxaio.ko, runs the payload's
# Linux programs (the conformance programs, libaio's harness cases, fio's libaio jobs),
# checks that unload is refused while a context exists, unloads, and reports.
#
#   sh run.sh [PAYLOAD_DIR] [OUT_DIR]      (as root; PAYLOAD_DIR defaults to this script's)
#
# Every result is a line on standard output that starts with the marker "@@LINUXAIO@@",
# also kept in OUT_DIR/results.txt; the host side (vmharness) parses them:
#   @@LINUXAIO@@ BEGIN <payload id>
#   @@LINUXAIO@@ INFO <key> <value...>
#   @@LINUXAIO@@ RULE <program> <rule>=<value>          (conformance output, compared on the host)
#   @@LINUXAIO@@ RESULT <suite> <name> <PASS|FAIL|SKIP|TIMEOUT> <seconds> [detail]
#   @@LINUXAIO@@ END <passed> <failed> <skipped>
# Only FreeBSD's base system is needed (sh, kldload, sysctl, timeout).

P=${1:-$(cd "$(dirname "$0")" && pwd)}
OUT=${2:-/root/linuxaio-out}
M=@@LINUXAIO@@
mkdir -p "$OUT" || exit 1
: >"$OUT/results.txt"
passed=0
failed=0
skipped=0

say() {
	echo "$M $*"
	echo "$M $*" >>"$OUT/results.txt"
}

# result SUITE NAME STATUS SECONDS [DETAIL]
result() {
	case "$3" in
	PASS) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	say RESULT "$@"
}

# The word for an exit status: 0 passes, 124 is timeout(1)'s (with -k, a program that
# ignores SIGTERM is killed 30 s later), 3 is the harness's skip.
word() {
	case "$1" in
	0) echo PASS ;;
	124) echo TIMEOUT ;;
	*) echo FAIL ;;
	esac
}

say BEGIN "$(cat "$P/payload-id" 2>/dev/null || echo unknown)"
say INFO uname "$(uname -a)"
say INFO osreldate "$(sysctl -n kern.osreldate)"
say INFO ncpu "$(sysctl -n hw.ncpu)"
major=$(uname -r | cut -d. -f1)
ko="$P/modules/freebsd$major/linuxaio.ko"

# --- load -----------------------------------------------------------------------------
t0=$(date +%s)
if kldload -n linux64 >"$OUT/kldload-linux64.log" 2>&1; then
	result load linux64 PASS $(($(date +%s) - t0))
else
	result load linux64 FAIL $(($(date +%s) - t0)) "$(tr '\n' ' ' <"$OUT/kldload-linux64.log")"
fi
t0=$(date +%s)
if [ ! -f "$ko" ]; then
	result load linuxaio FAIL 0 "no module for FreeBSD $major in the payload"
elif kldload "$ko" >"$OUT/kldload-linuxaio.log" 2>&1; then
	result load linuxaio PASS $(($(date +%s) - t0)) "$(kldstat -v -n linuxaio 2>/dev/null | head -2 | tail -1)"
else
	result load linuxaio FAIL $(($(date +%s) - t0)) "$(tr '\n' ' ' <"$OUT/kldload-linuxaio.log")"
fi
dmesg | tail -20 >"$OUT/dmesg-after-load.txt"
say INFO sysctl "$(sysctl compat.linux.aio 2>&1 | tr '\n' ' ')"

# The Linux programs find their libraries in the payload's Linux tree (the system's
# own setting comes back at the end).
old_emul_path=$(sysctl -n compat.linux.emul_path 2>/dev/null)
sysctl compat.linux.emul_path="$P/linux" >/dev/null 2>&1 ||
	say INFO emul_path "could not set compat.linux.emul_path; using $(sysctl -n compat.linux.emul_path 2>&1)"

# --- conformance programs ---------------------------------------------------------------
for prog in "$P"/bin/conformance/*; do
	[ -x "$prog" ] || continue
	name=$(basename "$prog")
	t0=$(date +%s)
	(cd /tmp && timeout -k 30 300 "$prog" >"$OUT/conformance-$name.out" 2>"$OUT/conformance-$name.err")
	status=$?
	while IFS= read -r line; do
		case "$line" in *=*) say RULE "$name" "$line" ;; esac
	done <"$OUT/conformance-$name.out"
	# Whether the rules match Linux is decided on the host; here: did it run to the end.
	result conformance "$name" "$(word $status)" $(($(date +%s) - t0)) "exit $status"
done

# --- libaio's harness (the cases Debian runs) --------------------------------------------
work=/tmp/linuxaio-harness
for case in $(cd "$P/bin/harness/cases" 2>/dev/null && ls *.p | sort -n); do
	rm -rf "$work" && mkdir -p "$work/testdir" "$work/cases"
	# The files make partcheck creates (harness/Makefile).
	echo test >"$work/testdir/rofile" && chmod 400 "$work/testdir/rofile"
	echo test >"$work/testdir/rwfile" && chmod 600 "$work/testdir/rwfile"
	echo test >"$work/testdir/wofile" && chmod 200 "$work/testdir/wofile"
	cp "$P/bin/harness/cases/$case" "$work/cases/"
	t0=$(date +%s)
	(cd "$work" && timeout -k 30 300 "./cases/$case" >"$OUT/harness-${case%.p}.log" 2>&1)
	status=$?
	# A case's forked child may outlive it (17's spins on once its parent gives up):
	# nothing of it may run on into the next case, fio or the benchmark.
	pkill -9 -x "$case" 2>/dev/null
	w=$(word $status)
	[ $status = 3 ] && w=SKIP
	result harness "${case%.p}" "$w" $(($(date +%s) - t0)) "exit $status"
done

# --- fio, ioengine=libaio ----------------------------------------------------------------
if [ -x "$P/bin/fio" ]; then
	grep -v -E '^(#|$)' "$P/fio-jobs.txt" | while IFS='|' read -r name opts; do
		data=/tmp/linuxaio-fio
		rm -rf "$data" && mkdir -p "$data"
		t0=$(date +%s)
		# shellcheck disable=SC2086 # the options are words
		timeout -k 30 300 "$P/bin/fio" --name="$name" --ioengine=libaio --size=8m --bs=4k \
			--directory="$data" --group_reporting=1 $opts >"$OUT/fio-$name.log" 2>&1
		status=$?
		w=$(word $status)
		if [ $status = 0 ] && grep -q -E 'err= *[1-9]|verify: bad' "$OUT/fio-$name.log"; then
			w=FAIL
		elif grep -q 'unrecognized option' "$OUT/fio-$name.log"; then
			w=SKIP
		fi
		echo "$name $w $(($(date +%s) - t0)) $status" >>"$OUT/fio-results.txt"
	done
	# (The loop ran in a subshell: its results are read back here.)
	while read -r name w secs status; do
		result fio "$name" "$w" "$secs" "exit $status"
	done <"$OUT/fio-results.txt"
	rm -rf /tmp/linuxaio-fio
fi

# --- unload -------------------------------------------------------------------------------
if [ -x "$P/bin/hold_context" ]; then
	fifo=/tmp/linuxaio-hold
	rm -f "$fifo"
	"$P/bin/hold_context" >"$fifo.out" 2>&1 &
	holder=$!
	sleep 2
	if kldunload linuxaio >"$OUT/kldunload-busy.log" 2>&1; then
		result unload refused-while-held FAIL 2 "kldunload succeeded while a context existed"
		kill $holder 2>/dev/null
		kldload "$ko" >/dev/null 2>&1
	else
		result unload refused-while-held PASS 2 "$(tr '\n' ' ' <"$OUT/kldunload-busy.log")"
		kill $holder 2>/dev/null
	fi
	wait $holder 2>/dev/null
fi
say INFO malloc "$(vmstat -m | awk '$1 == "linuxaio"' | tr -s ' ')"
t0=$(date +%s)
if kldunload linuxaio >"$OUT/kldunload.log" 2>&1; then
	result unload linuxaio PASS $(($(date +%s) - t0))
else
	result unload linuxaio FAIL $(($(date +%s) - t0)) "$(tr '\n' ' ' <"$OUT/kldunload.log")"
fi
[ -n "$old_emul_path" ] && sysctl compat.linux.emul_path="$old_emul_path" >/dev/null 2>&1
dmesg | tail -40 >"$OUT/dmesg-end.txt"
say END $passed $failed $skipped
