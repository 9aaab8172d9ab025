#!/usr/bin/env bash
# A local FastDfs.Mount cluster on loopback: one tracker and two storages (group1, group2), data under .cluster/.
#   scripts/cluster.sh up      build if needed, start, run a demo upload/download, mount the cluster on .cluster/mnt
#                              (fdfs-mount, needs fuse3) and copy a file in, print how to use it
#   scripts/cluster.sh down    unmount, stop the daemons (SIGTERM, by pid)
#   scripts/cluster.sh status  show the cluster as the tracker sees it
#   scripts/cluster.sh run     like up, then stay in the foreground until Ctrl-C, then stop
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${FDFS_CLUSTER_DIR:-$root/.cluster}
bin=$root/artifacts/bin
tracker_ip=127.0.0.2
tracker_port=${FDFS_TRACKER_PORT:-22122}
storages=("group1 127.0.0.3" "group2 127.0.0.4")
storage_port=${FDFS_STORAGE_PORT:-23000}
export FDFS_TRACKERS=$tracker_ip:$tracker_port

start_daemon() { # name program conf
  local name=$1 program=$2 conf=$3 log=$dir/logs/$1.log
  if [ -f "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
    echo "$name already running (pid $(cat "$dir/$name.pid"))"; return
  fi
  "$bin/$program" "$conf" >"$log" 2>&1 &
  echo $! >"$dir/$name.pid"
  for _ in $(seq 1 300); do
    grep -q "listening on" "$log" 2>/dev/null && { echo "$name: $(grep -o 'listening on [0-9.:]*' "$log" | head -1) (pid $!)"; return; }
    kill -0 "$!" 2>/dev/null || { echo "$name failed to start:"; tail -20 "$log"; exit 1; }
    sleep 0.1
  done
  echo "$name did not report listening in 30 s:"; tail -20 "$log"; exit 1
}

up() {
  if [ ! -x "$bin/fdfs" ] || [ -n "$(find src -newer "$bin/fdfs" -name '*.cs' -print -quit)" ]; then
    echo "building..."; bash scripts/build.sh >/dev/null
  fi
  mkdir -p "$dir/logs" "$dir/tracker"
  cat >"$dir/tracker/tracker.conf" <<CONF
bind_addr = $tracker_ip
port = $tracker_port
base_path = $dir/tracker
store_lookup = 0
check_active_interval = 30
CONF
  start_daemon tracker fdfs-trackerd "$dir/tracker/tracker.conf"
  for entry in "${storages[@]}"; do
    read -r group ip <<<"$entry"
    local sdir=$dir/storage-$ip
    mkdir -p "$sdir/store0"
    cat >"$sdir/storage.conf" <<CONF
group_name = $group
bind_addr = $ip
port = $storage_port
base_path = $sdir
store_path_count = 1
store_path0 = $sdir/store0
tracker_server = $tracker_ip:$tracker_port
heart_beat_interval = 5
stat_report_interval = 10
CONF
    start_daemon "storage-$ip" fdfs-storaged "$sdir/storage.conf"
  done

  echo "waiting for the storages to become ACTIVE..."
  for _ in $(seq 1 60); do
    [ "$("$bin/fdfs" storages 2>/dev/null | grep -c ACTIVE || true)" -ge ${#storages[@]} ] && break
    sleep 0.5
  done

  echo
  echo "demo: upload, info, download, delete"
  echo "hello from FastDfs.Mount" >"$dir/hello.txt"
  id=$("$bin/fdfs" upload "$dir/hello.txt" --meta author=demo)
  echo "  uploaded      $id"
  "$bin/fdfs" info "$id" | sed 's/^/  /'
  echo "  downloaded    $("$bin/fdfs" download "$id" -)"
  "$bin/fdfs" delete "$id" && echo "  deleted       $id"
  mount_demo
  cat <<USAGE

The cluster is up (data and logs in $dir).
  export FDFS_TRACKERS=$FDFS_TRACKERS
  $bin/fdfs upload FILE            # prints the file ID
  $bin/fdfs download FILE_ID DEST
  $bin/fdfs storages               # fdfs_monitor-like view
  $bin/fdfs bench -n 2000 -s 4K -c 4
Any FastDFS client works too: tracker_server = $FDFS_TRACKERS
$mount_usage
Stop it with: scripts/cluster.sh down
USAGE
}

mounted() { grep -q " $1 fuse" /proc/mounts; }

mount_demo() {
  local mnt=$dir/mnt log=$dir/logs/mount.log
  if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
    mount_usage="No mount: fdfs-mount needs /dev/fuse and fuse3 (apt-get install fuse3), then run scripts/cluster.sh up again."
    return
  fi
  mkdir -p "$mnt"
  if ! mounted "$mnt"; then
    "$bin/fdfs-mount" --tracker "$FDFS_TRACKERS" "$mnt" -o auto_unmount >"$log" 2>&1 &
    echo $! >"$dir/mount.pid"
    for _ in $(seq 1 100); do mounted "$mnt" && break; kill -0 "$!" 2>/dev/null || break; sleep 0.1; done
    if ! mounted "$mnt"; then
      mount_usage="No mount: fdfs-mount did not mount (see $log)."
      return
    fi
  fi
  echo
  echo "demo: the cluster as a directory ($mnt)"
  mkdir -p "$mnt/group1/demo"
  cp "$dir/hello.txt" "$mnt/group1/demo/hello.txt"
  setfattr -n user.author -v demo "$mnt/group1/demo/hello.txt" 2>/dev/null || true
  echo "  ls -l group1/demo: $(ls -l "$mnt/group1/demo" | tail -n +2)"
  id=$(getfattr --only-values -n system.fdfs.file_id "$mnt/group1/demo/hello.txt" 2>/dev/null || true)
  [ -n "$id" ] && echo "  its file ID     $id  ($bin/fdfs download $id - prints it)"
  mount_usage="Mounted on $mnt: ls, cp, rsync, git, getfattr/setfattr work there (mount/README.md; log in $log)."
}

down() {
  mounted "$dir/mnt" && { fusermount3 -u "$dir/mnt" && echo "unmounted $dir/mnt"; }
  for pidfile in "$dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) "$bin/fdfs" storages ;;
  run) up; trap down EXIT; echo "(Ctrl-C stops the cluster)"; while sleep 3600; do :; done ;;
  *) echo "usage: $0 up|down|status|run" >&2; exit 2 ;;
esac
