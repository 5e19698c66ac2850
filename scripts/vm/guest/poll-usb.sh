#!/bin/sh
# Samples the kernel's USB interface gate as fast as the guest allows (parsed by
# scripts/vm/usb-poller.ts). Per sample: guest uptime in centiseconds, every non-hub interface as
# name=class/authorized/driver ("-" when unbound), the names in /proc/partitions (P) and every root
# hub's interface_authorized_default (G).
# The loop forks nothing except the sleep, so sampling stays fine-grained under TCG.
# Usage: sg-poll-usb OUT_FILE MAX_CENTISECONDS [SLEEP_US] [STOP_FILE]
out="$1"
max_cs="$2"
us="${3:-2000}"
stop="${4:-$out.stop}"
now_cs() {
  read -r u _ </proc/uptime
  cs=$((${u%.*} * 100 + 1${u#*.} - 100))
}
now_cs
start=$cs
n=0
echo "START $start" >"$out"
while [ ! -e "$stop" ]; do
  now_cs
  [ $((cs - start)) -ge "$max_cs" ] && break
  line="S $cs"
  for i in /sys/bus/usb/devices/*:*; do
    read -r c 2>/dev/null <"$i/bInterfaceClass" || continue
    [ "$c" = 09 ] && continue
    read -r a 2>/dev/null <"$i/authorized" || a='?'
    if [ -e "$i/driver" ]; then
      d=$(readlink "$i/driver")
      d=${d##*/}
    else
      d=-
    fi
    line="$line ${i##*/}=$c/$a/$d"
  done
  p=""
  while read -r maj _ _ name; do
    case "$maj" in '' | major) ;; *) p="$p,$name" ;; esac
  done </proc/partitions
  g=""
  for h in /sys/bus/usb/devices/usb*; do
    read -r v 2>/dev/null <"$h/interface_authorized_default" || v='?'
    g="$g,${h##*/}=$v"
  done
  echo "$line P$p G$g" >>"$out"
  n=$((n + 1))
  usleep "$us"
done
now_cs
echo "END $cs $n" >>"$out"
