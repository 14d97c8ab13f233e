#!/usr/bin/env bash
# Builds a newer fio than bookworm's 3.33, which lacks libaio_vectored (the vectored
# job of fio-jobs.txt). The source is Debian's upstream tarball from a newer suite,
# fetched from the mirror apt already uses and checked against the SHA-256 of that
# suite's Sources index; Debian's quilt patches are applied only when the same
# version's .debian.tar.xz is fetchable too (mirrors may carry the orig tarball alone).
# Nothing is installed system-wide. Prints the built fio's absolute path on stdout;
# exits 2 if no Debian archive (or no fio source in it) can be reached.
#
#   tests/thirdparty/fio-build.sh BUILD_DIR
set -euo pipefail
build=$(realpath -m "$1")
work="$build/thirdparty"
dest="$work/fio-new"
log() { echo "fio-build: $*" >&2; }

if [ -x "$dest/fio" ] && "$dest/fio" --version >/dev/null 2>&1; then
	echo "$dest/fio"
	exit 0
fi

# The mirror: URIs of the entries apt uses for the system's own suite. On Ubuntu (or
# any non-Debian system) that is not a Debian archive, so there is nothing to fetch.
. /etc/os-release
if [ "${ID:-}" != debian ] || [ -z "${VERSION_CODENAME:-}" ]; then
	log "not Debian (${PRETTY_NAME:-unknown}): no Debian archive configured to fetch fio's source from"
	exit 2
fi
mapfile -t uris < <({
	cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk -v s="$VERSION_CODENAME" 'BEGIN { RS = ""; FS = "\n" }
		     { u = ""; ok = 0
		       for (i = 1; i <= NF; i++) {
		           if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u) }
		           if ($i ~ /^Suites:/ && (" " substr($i, 8) " ") ~ ("[ \t]" s "[ \t]")) ok++
		           if ($i ~ /^Enabled:[ \t]*no/) ok -= 9
		       }
		       if (ok > 0) { n = split(u, a, /[ \t]+/); for (j = 1; j <= n; j++) print a[j] } }' || true
	# One-line format; [options] in brackets are skipped.
	sed -E 's/\[[^]]*\]//' /etc/apt/sources.list 2>/dev/null |
		awk -v s="$VERSION_CODENAME" '($1 == "deb" || $1 == "deb-src") && $3 == s { print $2 }'
} | grep -E '^(https?|ftp|file):' | sed 's:/*$::' | awk '!seen[$0]++')
[ "${#uris[@]}" != 0 ] || { log "apt has no Debian archive for $VERSION_CODENAME: cannot fetch fio's source"; exit 2; }

need=$(for p in curl xz-utils patch gcc make pkg-config libaio-dev zlib1g-dev; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
[ -z "$need" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null
# curl does not read apt's configuration; reuse apt's proxy if one is set.
eval "$(apt-config shell aptproxy Acquire::http::Proxy)"
case "${aptproxy:-DIRECT}" in DIRECT) ;; *) export http_proxy="$aptproxy" ;; esac
# -s without -S: curl's errors would name the host.
fetch() { curl -sfL --retry 2 --connect-timeout 20 -o "$2" "$1"; }

dl="$work/fio-dl"
rm -rf "$dl" && mkdir -p "$dl"
# Candidates "version uri directory sha256 file" for fio's orig and debian tarballs,
# from every suite newer than bookworm that has an index on one of the mirrors.
for uri in "${uris[@]}"; do
	for suite in trixie forky sid; do
		fetch "$uri/dists/$suite/main/source/Sources.xz" "$dl/Sources.xz" || continue
		xz -dc "$dl/Sources.xz" | awk -v u="$uri" 'BEGIN { RS = ""; FS = "\n" }
			$0 ~ /(^|\n)Package: fio(\n|$)/ {
				v = d = ""; sec = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Version: /) v = substr($i, 10)
					if ($i ~ /^Directory: /) d = substr($i, 12)
					if ($i ~ /^[^ ]/) sec = ($i ~ /^Checksums-Sha256:/)
					else if (sec && $i ~ /(orig\.tar\.(gz|xz)|debian\.tar\.xz)$/) { split($i, f, " "); c[++n] = f[1] " " f[3] }
				}
				for (j = 1; j <= n; j++) { split(c[j], f, " "); print v, u, d, f[1], f[2] }
				n = 0
			}' >>"$dl/candidates" || true
	done
done
rm -f "$dl/Sources.xz" && touch "$dl/candidates"
get() { # uri dir sha file: download and check; false if unavailable or mismatched
	fetch "$1/$2/$4" "$dl/$4" && echo "$3  $dl/$4" | sha256sum -c --quiet - >/dev/null 2>&1 ||
		{ rm -f "$dl/$4"; false; }
}
orig=""
while read -r v uri dir sha file; do
	case "$file" in *.orig.tar.*) ;; *) continue ;; esac
	if get "$uri" "$dir" "$sha" "$file"; then orig="$dl/$file" version=$v; break; fi
	log "$file (Debian $v): not fetchable here or checksum mismatch; trying the next"
done < <(sort -u "$dl/candidates" | sort -t' ' -k1,1Vr) # newest first; -V suits fio's versions
[ -n "$orig" ] || { log "no fio source newer than bookworm's could be fetched and verified"; exit 2; }
log "using $file (Debian $version), its SHA-256 as in the Sources index"

src="$work/fio-new.build"
rm -rf "$src" && mkdir -p "$src"
tar -xf "$orig" -C "$src" --strip-components=1
debtar=""
while read -r v uri dir sha file; do
	if [ "$v" = "$version" ] && [ -z "$debtar" ] && get "$uri" "$dir" "$sha" "$file"; then debtar="$dl/$file"; fi
done < <(grep ' [^ ]*\.debian\.tar\.xz$' "$dl/candidates" | sort -u)
if [ -n "$debtar" ]; then
	tar -xf "$debtar" -C "$src"
	{ grep -v -E '^[[:space:]]*(#|$)' "$src/debian/patches/series" 2>/dev/null || true; } | while read -r p _; do
		log "applying Debian patch $p"
		patch -d "$src" -p1 -s <"$src/debian/patches/$p"
	done
else
	log "Debian's patches for $version are not fetchable here: building upstream fio unpatched"
fi

# Only libaio (plus zlib, which fio links when present) matters; everything optional
# that configure would pick up from the host is off so the build is the same everywhere.
opts=(--disable-native --disable-numa --disable-rdma --disable-rados --disable-rbd
	--disable-http --disable-gfapi --disable-libnfs --disable-lex --disable-pmem
	--disable-xnvme --disable-isal --disable-isal64 --disable-libblkio --disable-libzbc
	--disable-tcmalloc --disable-dfs)
log "configure ${opts[*]}"
(cd "$src" && ./configure "${opts[@]}" && make -j2) >"$work/fio-new-build.log" 2>&1 ||
	{ log "build failed; see $work/fio-new-build.log"; exit 1; }

# The point of the exercise: the vectored libaio path must exist and verify.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# From inside it: fio leaves its verify state file in the working directory.
(cd "$tmp" && "$src/fio" --name=vectored --ioengine=libaio --rw=randwrite --size=1m --bs=4k \
	--iodepth=4 --libaio_vectored=1 --verify=crc32c --directory="$tmp") >&2
rm -rf "$dest" && mv "$src" "$dest"
log "$("$dest/fio" --version) built"
echo "$dest/fio"
