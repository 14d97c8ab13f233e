#!/usr/bin/env bash
# Makes Debian source packages fetchable (apt-get source): for every binary-package
# source apt already uses, add the matching deb-src entry. Needs root; idempotent.
set -euo pipefail
out=/etc/apt/sources.list.d/linuxaio-deb-src.sources
if apt-get source --print-uris libaio >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "apt-deb-src: deb-src entries are missing and this is not root; add them and run apt-get update" >&2
	exit 1
fi
tmp=$(mktemp)
# deb822 files: each stanza of Types: deb again as Types: deb-src.
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && [ "$f" != "$out" ] || continue
	awk 'BEGIN { RS = ""; ORS = "\n\n" }
	     {
	         n = split($0, lines, "\n"); types = ""
	         for (i = 1; i <= n; i++) if (lines[i] ~ /^Types:/) types = lines[i]
	         if (types ~ /[ \t]deb([ \t]|$)/ && types !~ /deb-src/) {
	             out = ""
	             for (i = 1; i <= n; i++) out = out (lines[i] ~ /^Types:/ ? "Types: deb-src" : lines[i]) "\n"
	             printf "%s\n", out
	         }
	     }' "$f" >>"$tmp"
done
# One-line format: deb URI suite components -> deb-src.
if [ -f /etc/apt/sources.list ]; then
	awk '$1 == "deb" { $1 = "deb-src"; printf "Types: deb-src\nURIs: %s\nSuites: %s\nComponents:", $2, $3;
	                   for (i = 4; i <= NF; i++) printf " %s", $i; printf "\n\n" }' /etc/apt/sources.list >>"$tmp"
fi
install -m 644 "$tmp" "$out"
rm -f "$tmp"
apt-get update -q >/dev/null
