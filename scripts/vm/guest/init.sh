#!/bin/busybox sh
# PID 1 of the seatguard test guest (scripts/vm/build-guest.sh packs it as /init).
# Loads the drivers the scenarios need, mounts the host root read-only at /host (9p) with the
# pseudo filesystems the agent needs for `chroot /host`, brings up QEMU user networking (the host's
# loopback is 10.0.2.2) and serves host commands on the virtio-serial port "seatguard.cmd".
/bin/busybox --install -s /bin
export PATH=/bin HOME=/
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
# A real seat has a name; the agent enrolls under its host name by default.
hostname sg-vm-seat
echo "SG-GUEST-BOOT kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"

# No udev here: nothing autoloads drivers on hot-plug, so every driver a scenario relies on is
# loaded up front (uas too: it has no delay_use, the harder case for a reactive blocker).
for m in virtio_pci virtio_console virtio_net 9pnet_virtio 9p xhci_pci usb_storage uas sd_mod usbhid hid_generic; do
  modprobe "$m" || echo "SG-GUEST-WARN modprobe $m failed"
done

if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostfs /host; then
  mount -t proc proc /host/proc
  mount -t sysfs sys /host/sys
  mount -t devtmpfs dev /host/dev
  mount -t tmpfs run /host/run
  echo "SG-GUEST-9P ok"
else
  echo "SG-GUEST-9P failed"
fi

ip link set lo up
if ip link set eth0 up 2>/dev/null; then
  ip addr add 10.0.2.15/24 dev eth0
  ip route add default via 10.0.2.2
  echo "SG-GUEST-NET ok"
else
  echo "SG-GUEST-NET failed"
fi

port=""
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = seatguard.cmd ] && port="/dev/${p##*/}"
done
if [ -z "$port" ]; then
  echo "SG-GUEST-FATAL no virtio-serial port named seatguard.cmd"
  poweroff -f
fi
echo "SG-GUEST-READY port=$port uptime=$(cut -d' ' -f1 /proc/uptime)"
# The server returns at once while the host end is disconnected (read gets EOF) and blocks while it
# is connected. The harness connects before the guest boots, so ~15 s of EOFs means the host process
# died without stopping QEMU: power off, which ends QEMU (-no-reboot) instead of leaving it behind.
misses=0
while :; do
  read -r up _ </proc/uptime
  started=${up%.*}
  /bin/sg-cmd-server "$port"
  read -r up _ </proc/uptime
  if [ $((${up%.*} - started)) -ge 2 ]; then misses=0; else misses=$((misses + 1)); fi
  if [ "$misses" -ge 60 ]; then
    echo "SG-GUEST-HOST-GONE powering off"
    poweroff -f
  fi
  sleep 0.2
done
