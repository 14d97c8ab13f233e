#!/usr/bin/env bash
# What the VM harness's own tests need from Debian: QEMU (the real-QEMU test), qemu-img
# (overlays), xorriso (the payload ISO), fio (benchmark parsing). Installs them when run
# as root; otherwise the tests that need them say they were skipped and why.
set -euo pipefail
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v xorriso >/dev/null || need+=(xorriso)
command -v fio >/dev/null || need+=(fio)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
			{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
	else
		echo "vm-harness tests: not root; missing ${need[*]} (apt-get install -y ${need[*]})" >&2
	fi
fi
