#!/usr/bin/env bash
# Builds the QEMU guest used by the real-kernel tests (docs/vm-lab.md): the current Debian kernel,
# busybox-static and an initramfs holding only the modules the scenarios need. Everything lands in
# .cache/vm/ (git-ignored). Idempotent: a second run with the same inputs only prints the manifest.
#
# Usage: scripts/vm/build-guest.sh [--cache DIR] [--quiet]
# Prints the path of the manifest (JSON: kernel, initrd, kernel_version, ...) on stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/.cache/vm"
quiet=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --quiet) quiet=1; shift ;;
    *) echo "build-guest: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { [ "$quiet" = 1 ] || echo "build-guest: $*" >&2; }
die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
# apt unreachable (offline runner) but a guest was built before: use it rather than fail.
fallback_or_die() {
  if [ -f "$cache/current/manifest.json" ]; then
    echo "build-guest: WARNING: $*; using the cached guest" >&2
    echo "$cache/current/manifest.json"
    exit 0
  fi
  die "$*"
}

# Bump when the build logic changes in a way the stamp below cannot see.
BUILD_FORMAT=3
# Modules the guest loads (by file stem); their hard dependencies are added from modules.dep.
MODULES="virtio_pci virtio_console virtio_net 9pnet_virtio 9p xhci-pci usb-storage uas sd_mod usbhid hid-generic dummy_hcd libcomposite usb_f_mass_storage usb_f_hid configfs"

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    apt-get update -qq >&2 || echo "build-guest: WARNING: apt-get update failed" >&2
    apt_updated=1
  fi
}

# --- 1. host tools -------------------------------------------------------------------------
need_pkgs=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || need_pkgs="$need_pkgs qemu-utils"
if [ -n "$need_pkgs" ]; then
  [ "$(id -u)" = 0 ] || die "missing$need_pkgs and not root: install them with apt-get"
  apt_update_once
  say "installing$need_pkgs"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_pkgs >&2 || die "apt-get install$need_pkgs failed"
fi
for t in dpkg-deb gzip sha256sum apt-cache apt-get; do command -v "$t" >/dev/null 2>&1 || die "missing host tool $t"; done

# --- 2. resolve the current kernel package (never hard-coded) ------------------------------
# Fast path: the apt package lists and our own inputs are unchanged since the last build, so the
# resolution below would give the same answer (apt-cache alone costs ~1 s here).
local_inputs="$( {
  echo "format=$BUILD_FORMAT modules=$MODULES"
  cat "$here/guest/init.sh" "$here/guest/cmd-server.sh" "$here/guest/poll-usb.sh"
  ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null
} | sha256sum | cut -c1-16)"
if [ -f "$cache/current/manifest.json" ] && [ "$(cat "$cache/current/fast-stamp" 2>/dev/null)" = "$local_inputs" ]; then
  say "up to date (inputs unchanged)"
  echo "$cache/current/manifest.json"
  exit 0
fi
resolve_kernel() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kpkg="$(resolve_kernel || true)"
if [ -z "$kpkg" ]; then apt_update_once; kpkg="$(resolve_kernel || true)"; fi
[ -n "$kpkg" ] || fallback_or_die "cannot resolve the kernel package from linux-image-amd64 (apt sources?)"
candidates="$(apt-cache policy "$kpkg" busybox-static 2>/dev/null | awk '/^[^ ]/ { p=$1; sub(/:$/, "", p) } /Candidate:/ { print p, $2 }')"
kpkg_ver="$(echo "$candidates" | awk -v p="$kpkg" '$1 == p { print $2 }')"
bb_ver="$(echo "$candidates" | awk '$1 == "busybox-static" { print $2 }')"
case "$kpkg_ver$bb_ver" in "" | *"(none)"*) fallback_or_die "no installable candidate for $kpkg / busybox-static (apt sources?)" ;; esac
[ -n "$kpkg_ver" ] && [ -n "$bb_ver" ] || fallback_or_die "apt-cache policy gave no version for $kpkg / busybox-static"
kver="${kpkg#linux-image-}"

inputs_hash="$( {
  echo "format=$BUILD_FORMAT kpkg=$kpkg=$kpkg_ver busybox=$bb_ver modules=$MODULES"
  cat "$here/guest/init.sh" "$here/guest/cmd-server.sh" "$here/guest/poll-usb.sh"
} | sha256sum | cut -c1-16)"

out="$cache/guest-$kver"
manifest="$out/manifest.json"
if [ -f "$manifest" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$inputs_hash" ]; then
  say "up to date ($kpkg $kpkg_ver)"
  echo "$local_inputs" > "$out/fast-stamp"
  ln -sfn "guest-$kver" "$cache/current"
  echo "$cache/current/manifest.json"
  exit 0
fi

# --- 3. download + extract -----------------------------------------------------------------
mkdir -p "$cache/debs"
fetch() { # pkg version -> path of the .deb in the cache; returns 1 when apt cannot deliver it
  local pkg="$1" ver="$2" f
  f="$(ls "$cache/debs/${pkg}_"*"_amd64.deb" 2>/dev/null | while read -r p; do
    [ "$(dpkg-deb -f "$p" Version)" = "$ver" ] && echo "$p"; done | head -1)"
  if [ -z "$f" ]; then
    say "apt-get download $pkg=$ver"
    (cd "$cache/debs" && apt-get download -qq "$pkg=$ver" >&2 2>/dev/null) || { apt_update_once; (cd "$cache/debs" && apt-get download -qq "$pkg=$ver" >&2); } || return 1
    f="$(ls "$cache/debs/${pkg}_"*"_amd64.deb" | while read -r p; do
      [ "$(dpkg-deb -f "$p" Version)" = "$ver" ] && echo "$p"; done | head -1)"
  fi
  [ -n "$f" ] || return 1
  echo "$f"
}
kdeb="$(fetch "$kpkg" "$kpkg_ver")" || fallback_or_die "apt-get download $kpkg=$kpkg_ver failed"
bbdeb="$(fetch busybox-static "$bb_ver")" || fallback_or_die "apt-get download busybox-static=$bb_ver failed"

work="$cache/work-$kver"
rm -rf "$work" "$out.tmp"
mkdir -p "$work" "$out.tmp"
say "extracting $(basename "$kdeb")"
dpkg-deb -x "$kdeb" "$work/kimg"
dpkg-deb -x "$bbdeb" "$work/bb"
bb="$work/bb/bin/busybox"
[ -x "$bb" ] || die "busybox-static did not contain bin/busybox"
mods="$work/kimg/lib/modules/$kver"
[ -d "$mods/kernel" ] || die "kernel package has no lib/modules/$kver"
vmlinuz="$work/kimg/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || die "kernel package has no boot/vmlinuz-$kver"
"$bb" depmod -b "$work/kimg" "$kver"

# --- 4. module closure ---------------------------------------------------------------------
want=""
for m in $MODULES; do
  p="$(awk -F: -v m="$m" '{ n=$1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); mm=m; gsub(/-/, "_", mm); if (n == mm) { print $0; exit } }' "$mods/modules.dep")"
  [ -n "$p" ] || die "module $m not found in $kver"
  want="$want ${p%%:*} ${p#*:}"
done
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,host,etc} "$root/lib/modules/$kver"
n=0
for f in $(echo "$want" | tr ' ' '\n' | sed '/^$/d' | sort -u); do
  mkdir -p "$root/lib/modules/$kver/$(dirname "$f")"
  cp "$mods/$f" "$root/lib/modules/$kver/$f"
  n=$((n + 1))
done
cp "$mods"/modules.builtin "$mods"/modules.order "$root/lib/modules/$kver/"
[ -f "$mods/modules.builtin.modinfo" ] && cp "$mods/modules.builtin.modinfo" "$root/lib/modules/$kver/"
"$bb" depmod -b "$root" "$kver"
say "$n modules in the initramfs"

# --- 5. userland + pack --------------------------------------------------------------------
cp "$bb" "$root/bin/busybox"
install -m 0755 "$here/guest/init.sh" "$root/init"
install -m 0755 "$here/guest/cmd-server.sh" "$root/bin/sg-cmd-server"
install -m 0755 "$here/guest/poll-usb.sh" "$root/bin/sg-poll-usb"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
(cd "$root" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null | gzip -1 > "$out.tmp/initrd.gz")
cp "$vmlinuz" "$out.tmp/vmlinuz"
cat > "$out.tmp/manifest.json" <<JSON
{
  "kernel_package": "$kpkg",
  "kernel_package_version": "$kpkg_ver",
  "kernel_version": "$kver",
  "busybox_version": "$bb_ver",
  "kernel": "$out/vmlinuz",
  "initrd": "$out/initrd.gz",
  "modules": $n,
  "stamp": "$inputs_hash"
}
JSON
echo "$inputs_hash" > "$out.tmp/stamp"
echo "$local_inputs" > "$out.tmp/fast-stamp"
rm -rf "$out"
mv "$out.tmp" "$out"
rm -rf "$work"
ln -sfn "guest-$kver" "$cache/current"
# Keep the cache to one kernel: drop guests and .debs of older versions.
for d in "$cache"/guest-*; do [ "$d" = "$out" ] || rm -rf "$d"; done
for f in "$cache"/debs/*.deb; do [ "$f" = "$kdeb" ] || [ "$f" = "$bbdeb" ] || rm -f "$f"; done
say "built $out ($(du -h "$out/initrd.gz" | cut -f1) initrd)"
echo "$cache/current/manifest.json"
