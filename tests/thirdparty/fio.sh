#!/usr/bin/env bash
# fio with ioengine=libaio, the jobs the system call issue names, natively on Linux (the
# oracle) and under the test bed with linuxaio.ko for each FreeBSD major. The fio is
# Debian's package, or, where that one lacks libaio_vectored (bookworm's 3.33), the newer
# fio tests/thirdparty/fio-build.sh builds from Debian's archive. Records a table; fails
# if the test bed crashed or reported findings, or if any job's outcome under the test
# bed differs from Linux's.
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
fio=$(command -v fio)
origin="Debian's package"
if ! "$fio" --enghelp=libaio 2>/dev/null | grep -q "^libaio_vectored"; then
	if built=$(bash "$root/tests/thirdparty/fio-build.sh" "$build"); then
		fio=$built
		origin="built from Debian's source by fio-build.sh"
	else
		echo "fio: $("$fio" --version) has no libaio_vectored and no newer fio could be built; the vectored job will say so" >&2
	fi
fi
version=$("$fio" --version)

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
unexpected=()
{
	echo "$version ($origin), ioengine=libaio, 8 MiB file, 4 KiB blocks"
	printf '%-22s %-18s %-22s %-22s\n' job Linux "FreeBSD 14 test bed" "FreeBSD 15 test bed"
} >"$results"
for j in "${jobs[@]}"; do
	name=${j%%|*}
	opts=${j#*|}
	set +e
	rm -rf "$data" && mkdir -p "$data"
	# fio runs in the data directory: a verify job leaves its verify state in the cwd.
	(cd "$data" && timeout 300 "$fio" --name="$name" $common $opts) >"$work/fio-$name-linux.log" 2>&1
	native=$(outcome $? "$work/fio-$name-linux.log")
	row=$(printf '%-22s %-18s' "$name" "$native")
	for major in 14 15; do
		log="$work/fio-$name-freebsd$major.log"
		rm -rf "$data" && mkdir -p "$data"
		(cd "$data" && timeout 300 "$kldhost" --freebsd "$major" --module "$root/build/freebsd$major/linuxaio.ko" -- \
			"$fio" --name="$name" $common $opts) >"$log" 2>&1
		word=$(outcome $? "$log")
		if grep -q -E "$crash_pattern" "$log"; then
			word="$word,CRASH"
			crashed=$((crashed + 1))
		fi
		row="$row $(printf '%-22s' "$word")"
		[ "$word" = "$native" ] || unexpected+=("$name on FreeBSD $major: $word, Linux $native")
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
if [ "${#unexpected[@]}" != 0 ]; then
	echo "fio: outcomes under the test bed that differ from Linux's (logs in $work):" >&2
	printf '  %s\n' "${unexpected[@]}" >&2
	exit 1
fi
echo "fio: every job as on Linux"
if grep -q 'UNSUPPORTED' "$results"; then
	echo "fio: NOTE: some jobs did not run: $version does not know their options" >&2
fi
