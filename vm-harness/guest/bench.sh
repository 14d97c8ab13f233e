#!/bin/sh
# Benchmark on a real FreeBSD system: 4 KiB random reads at queue depth 32 with the
# payload's Linux fio and ioengine=libaio (through linuxaio), against FreeBSD's own fio
# with posixaio and with psync, on an md(4) RAM disk and on a file of the system disk.
# Each run leaves fio's JSON in OUT_DIR; results as marker lines (see run.sh).
#
#   sh bench.sh [PAYLOAD_DIR] [OUT_DIR]     (as root)
#
# FreeBSD's fio is the image's own if it has one, or comes from `pkg install fio` (the
# guest needs the network for that). The reads are O_DIRECT, so that the cache does not
# answer for the disk.

P=${1:-$(cd "$(dirname "$0")" && pwd)}
OUT=${2:-/root/linuxaio-out}
RUNTIME=${RUNTIME:-20}
M=@@LINUXAIO@@
mkdir -p "$OUT" && : >"$OUT/results.txt"
say() { echo "$M $*"; echo "$M $*" >>"$OUT/results.txt"; }
passed=0 failed=0 skipped=0
result() {
	case "$3" in PASS) passed=$((passed + 1)) ;; SKIP) skipped=$((skipped + 1)) ;; *) failed=$((failed + 1)) ;; esac
	say RESULT "$@"
}

say BEGIN "$(cat "$P/payload-id" 2>/dev/null || echo unknown) bench"
say INFO uname "$(uname -a)"
say INFO ncpu "$(sysctl -n hw.ncpu)"
major=$(uname -r | cut -d. -f1)
kldload -n linux64 && kldload "$P/modules/freebsd$major/linuxaio.ko" || result load linuxaio FAIL 0
old_emul_path=$(sysctl -n compat.linux.emul_path 2>/dev/null)
sysctl compat.linux.emul_path="$P/linux" >/dev/null

native_fio=$(command -v fio)
if [ -z "$native_fio" ]; then
	env ASSUME_ALWAYS_YES=yes pkg install -y fio >"$OUT/pkg.log" 2>&1
	native_fio=$(command -v fio)
fi
say INFO native_fio "${native_fio:-none} $($native_fio --version 2>/dev/null)"
say INFO linux_fio "$("$P/bin/fio" --version 2>&1)"

# The RAM disk: 1 GiB of md(4) swap-backed memory with UFS on it.
md=$(mdconfig -a -t swap -s 1g) && newfs -U "/dev/$md" >/dev/null && mkdir -p /mnt/bench-md &&
	mount "/dev/$md" /mnt/bench-md || say INFO md "could not make the RAM disk"
mkdir -p /root/bench-file

for target in md file; do
	case $target in md) dir=/mnt/bench-md ;; file) dir=/root/bench-file ;; esac
	for engine in libaio posixaio psync; do
		case $engine in
		libaio) fio="$P/bin/fio" depth=32 ;;
		posixaio) fio="$native_fio" depth=32 ;;
		psync) fio="$native_fio" depth=1 ;;
		esac
		name=$engine-$target
		if [ -z "$fio" ]; then
			result bench "$name" SKIP 0 "no FreeBSD fio"
			continue
		fi
		t0=$(date +%s)
		timeout -k 30 $((RUNTIME * 4 + 120)) "$fio" --name="$name" --filename="$dir/fio.dat" --size=256m \
			--bs=4k --rw=randread --direct=1 --ioengine=$engine --iodepth=$depth --time_based \
			--runtime="$RUNTIME" --ramp_time=2 --output-format=json --output="$OUT/bench-$name.json" \
			>"$OUT/bench-$name.log" 2>&1
		status=$?
		if [ $status = 0 ]; then w=PASS; elif [ $status = 124 ]; then w=TIMEOUT; else w=FAIL; fi
		result bench "$name" $w $(($(date +%s) - t0)) "exit $status"
	done
done
umount /mnt/bench-md 2>/dev/null && mdconfig -d -u "$md"
kldunload linuxaio || result unload linuxaio FAIL 0
[ -n "$old_emul_path" ] && sysctl compat.linux.emul_path="$old_emul_path" >/dev/null
say END $passed $failed $skipped
