#!/bin/sh
# Host command server on a virtio-serial port (host side: scripts/vm/command-channel.ts).
# Request line:  "<id> <timeout_s> <base64 script>"
# Reply lines:   "B <id>", one line of base64 (stdout+stderr), "E <id> <exit code>"
# Output travels base64-encoded, so nothing a command prints can forge a reply frame.
port="$1"
exec 3<>"$port" || exit 1
while IFS=' ' read -r id tmo b64 <&3; do
  case "$id" in '' | *[!0-9]*) continue ;; esac
  case "$tmo" in '' | *[!0-9]*) tmo=60 ;; esac
  if printf '%s' "$b64" | base64 -d >/tmp/sg-cmd.sh 2>/dev/null; then
    # fd 3 is closed for the command so background processes it starts never hold the port.
    timeout -s KILL "$tmo" sh /tmp/sg-cmd.sh </dev/null >/tmp/sg-out 2>&1 3>&-
    rc=$?
  else
    echo "sg-cmd-server: request $id is not base64" >/tmp/sg-out
    rc=254
  fi
  {
    printf 'B %s\n' "$id"
    base64 -w 0 /tmp/sg-out
    printf '\nE %s %s\n' "$id" "$rc"
  } >&3
done
