#!/usr/bin/env bash
# Debian's fio with ioengine=libaio, the jobs the system call issue names, natively on
# Linux (the oracle) and under the test bed with linuxaio.ko for each FreeBSD major.
# Records a table; fails only if the test bed itself crashed or reported findings.
#
#   tests/thirdparty/fio.sh KLDHOST BUILD_DIR
set -euo pipefail
kldhost=$(realpath "$1")
build=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$build/thirdparty"
mkdir -p "$work"
if ! command -v fio >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q fio >/dev/null
fi
version=$(fio --version)

# Each job writes a file of its own in a fresh directory.
data="$work/fio-data"
common="--ioengine=libaio --size=8m --bs=4k --directory=$data --group_reporting=1"
# name|options, one job per line (shared with the VM harness).
mapfile -t jobs < <(grep -v -E '^(#|$)' "$root/tests/thirdparty/fio-jobs.txt")
crash_pattern='killed by signal .* in the (module|test bed)|ended without a report|INVARIANTS/WITNESS: [^n]|: [1-9][0-9]* bytes in [0-9]+ allocations still allocated'
outcome() {
	local status=$1 log=$2
	if [ "$status" = 0 ] && ! grep -q -E 'err= *[1-9]|verify: bad' "$log"; then echo PASS
	elif grep -q 'unrecognized option' "$log"; then echo "UNSUPPORTED(fio)"
	elif [ "$status" = 124 ]; then echo TIMEOUT
	else echo "FAIL($status)"; fi
}
results="$work/fio.txt"
crashed=0
{
	echo "$version (Debian), ioengine=libaio, 8 MiB file, 4 KiB blocks"
	printf '%-22s %-18s %-22s %-22s\n' job Linux "FreeBSD 14 test bed" "FreeBSD 15 test bed"
} >"$results"
for j in "${jobs[@]}"; do
	name=${j%%|*}
	opts=${j#*|}
	set +e
	rm -rf "$data" && mkdir -p "$data"
	timeout 300 fio --name="$name" $common $opts >"$work/fio-$name-linux.log" 2>&1
	row=$(printf '%-22s %-18s' "$name" "$(outcome $? "$work/fio-$name-linux.log")")
	for major in 14 15; do
		log="$work/fio-$name-freebsd$major.log"
		rm -rf "$data" && mkdir -p "$data"
		timeout 300 "$kldhost" --freebsd "$major" --module "$root/build/freebsd$major/linuxaio.ko" -- \
			fio --name="$name" $common $opts >"$log" 2>&1
		word=$(outcome $? "$log")
		if grep -q -E "$crash_pattern" "$log"; then
			word="$word,CRASH"
			crashed=$((crashed + 1))
		fi
		row="$row $(printf '%-22s' "$word")"
	done
	set -e
	echo "$row" >>"$results"
done
rm -rf "$data"
cat "$results"
if [ "$crashed" != 0 ]; then
	echo "fio: the test bed crashed or reported findings in $crashed runs (logs in $work)" >&2
	exit 1
fi
echo "fio: recorded; the test bed survived every job"
