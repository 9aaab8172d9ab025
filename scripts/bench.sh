#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: starts one tracker and one storage (FastDFS defaults: one store path,
# subdir_count_per_path 256) on loopback from artifacts/bin, runs `fdfs bench` for each case REPS times and
# prints the medians (MiB/s, like the FastDFS baseline notes).
#   scripts/bench.sh [REPS]             speed cases, default 5 repetitions
#   scripts/bench.sh memory [GIB]       peak memory of storage and client while a GIB (default 4) GiB file goes up and down
#   scripts/bench.sh replicated [REPS]  two storages in group1 (127.0.0.13 and .14, one port), so every upload is
#                                       also copied to the peer: 4 KiB x 10,000 with 4 connections, 64 MiB with 1;
#                                       also prints how long the peer took to catch up after each run
#   scripts/bench.sh mount [REPS] [GIB] fdfs-mount (names on): fio 1 MiB sequential write/read (buffered and O_DIRECT), 4 KiB random read
#                                       beside `fdfs bench` on the same cluster (reads with the storage's cache warm, as
#                                       `fdfs bench` has it, and a cold sequential read beside a cold `fdfs download`),
#                                       `cp -r` of 10,000 4 KiB files (files/s),
#                                       the mount's peak RSS while dd writes a GIB (default 10) GiB file, and a check
#                                       of a block written past 4 GiB; REPS (default 3) runs each, medians printed.
#                                       Needs fio and fuse3 (apt-get install fio fuse3) and root (drop_caches).
#   BIN=/other/bin scripts/bench.sh     benchmark another build (for A/B comparisons)
#   MOUNT_OPTS=read_streams=0 scripts/bench.sh mount   extra -o options for fdfs-mount
#   CASES="10000 4K 4" scripts/bench.sh 3   only the given cases
#   WAIT=120 scripts/bench.sh replicated    seconds to wait for both storages to be ACTIVE (default 60);
#                                           LAG_WAIT: seconds to wait for the peer to catch up after a run (60)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=speed
case "${1:-}" in memory | replicated | mount) mode=$1; shift ;; esac
reps=${1:-5}
[ "$mode" = mount ] && reps=${1:-3}
bin=${BIN:-$PWD/artifacts/bin}
[ -x "$bin/fdfs" ] || bash scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/fdfs-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A port that is free on every given address: storages of one group share their port in IP mode, and port = 0
# would give each its own ephemeral one.
free_port() {
  python3 - "$@" <<'PY'
import socket, sys
for _ in range(100):
    first = socket.socket(); first.bind((sys.argv[1], 0)); port = first.getsockname()[1]
    held = [first]
    try:
        for ip in sys.argv[2:]:
            s = socket.socket(); s.bind((ip, port)); held.append(s)
        print(port); break
    except OSError:
        pass
    finally:
        for s in held: s.close()
else:
    sys.exit("no common free port")
PY
}

# start_storage IP PORT: one store path under $work/storage-IP, logs in $work/storage-IP.log; appends the pid.
start_storage() {
  local ip=$1 port=$2 dir=$work/storage-$1
  mkdir -p "$dir/store0"
  cat >"$dir/storage.conf" <<CONF
group_name = group1
bind_addr = $ip
port = $port
base_path = $dir
store_path0 = $dir/store0
tracker_server = $tracker
heart_beat_interval = 1
stat_report_interval = 1
CONF
  "$bin/fdfs-storaged" "$dir/storage.conf" >"$work/storage-$ip.log" 2>&1 & pids+=($!)
}

# group1_state.py IP...: prints each IP's status in group1 (from `fdfs storages --json` on stdin); exit 0 when all are
# ACTIVE. group1_state.py --caught-up: exit 0 when no storage of group1 is behind its peers.
cat >"$work/group1_state.py" <<'PY'
import json, sys
groups = {g["name"]: g for g in json.load(sys.stdin)["groups"]}
storages = {s["ip"]: s for s in groups.get("group1", {"storages": []})["storages"]}
if sys.argv[1:] == ["--caught-up"]:
    sys.exit(0 if storages and all(s["sync"]["behind_seconds"] == 0 for s in storages.values()) else 1)
states = []
for ip in sys.argv[1:]:
    s = storages.get(ip)
    src = f" (sync source {s['sync_source_id']})" if s and s["sync_source_id"] else ""
    states.append(f"{ip}={s['status'] if s else 'ABSENT'}{src}")
print(", ".join(states))
sys.exit(0 if all(ip in storages and storages[ip]["status"] == "ACTIVE" for ip in sys.argv[1:]) else 1)
PY

# wait_active SECONDS IP...: until the tracker lists every IP in group1 as ACTIVE; on timeout explains and exits 3.
wait_active() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) state=""
  while :; do
    if state=$("$bin/fdfs" storages -g group1 --json 2>/dev/null | python3 "$work/group1_state.py" "$@" 2>/dev/null); then return 0; fi
    if [ $SECONDS -ge $deadline ]; then
      echo "bench: storages not ACTIVE after ${timeout}s: ${state:-no answer from the tracker at $tracker}" >&2
      if [ "$#" -gt 1 ]; then
        echo "bench: a new storage of a group becomes ACTIVE only after a peer has copied the group's files to it;" >&2
        echo "bench: one stuck in WAIT_SYNC, SYNCING or OFFLINE means replication does not work in this build ($bin)." >&2
      fi
      for ip in "$@"; do echo "--- storage $ip log (last lines)" >&2; tail -n 5 "$work/storage-$ip.log" >&2 || true; done
      echo "--- tracker log (last lines)" >&2; tail -n 10 "$work/tracker.log" >&2 || true
      exit 3
    fi
    sleep 0.5
  done
}

tracker_ip=127.0.0.12
mkdir -p "$work/tracker"
printf 'bind_addr = %s\nport = 0\nbase_path = %s\n' "$tracker_ip" "$work/tracker" >"$work/tracker/tracker.conf"
# The mount case removes each GiB it wrote. With the default orphan delay (60 s) the storage would delete that
# content in the middle of a later measurement, and on a file system mounted with `discard` (this machine's root) a
# GiB's delete stalls the disk for a while. Content goes at once instead; each measurement starts after a sync.
[ "$mode" = mount ] && echo "namespace_orphan_delay = 0" >>"$work/tracker/tracker.conf"
"$bin/fdfs-trackerd" "$work/tracker/tracker.conf" >"$work/tracker.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do grep -qs "listening on" "$work/tracker.log" && break; sleep 0.1; done
tracker=$(grep -o 'listening on [0-9.:]*' "$work/tracker.log" | head -1 | cut -d' ' -f3)
if [ -z "$tracker" ]; then echo "bench: the tracker did not start; its log:" >&2; cat "$work/tracker.log" >&2; exit 3; fi
export FDFS_TRACKERS=$tracker
if [ "$mode" = replicated ]; then
  storages=(127.0.0.13 127.0.0.14)
  port=$(free_port "${storages[@]}")
  # One after the other, as when a storage is added to a group: the second one is the new peer that gets a copy.
  start_storage "${storages[0]}" "$port"
  wait_active 30 "${storages[0]}"
  joined=$SECONDS
  start_storage "${storages[1]}" "$port"
  wait_active "${WAIT:-60}" "${storages[@]}"
  echo "group1: ${storages[*]} on port $port, both ACTIVE ($((SECONDS - joined)) s after the second one started)"
else
  storages=(127.0.0.13)
  start_storage "${storages[0]}" 0
  wait_active 30 "${storages[0]}"
fi
sleep 2 # let the storages finish creating their 65,536 directories

if [ "$mode" = memory ]; then
  gib=${1:-4}
  big=$work/big.bin
  head -c $((gib << 30)) /dev/urandom >"$big"
  storage_pid=${pids[1]}
  peak() { awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }
  /usr/bin/time -f "%M" -o "$work/upload.rss" "$bin/fdfs" upload "$big" >"$work/id"
  echo "upload of $gib GiB: storage peak RSS $(peak "$storage_pid"), client peak RSS $(( $(cat "$work/upload.rss") / 1024 )) MiB"
  /usr/bin/time -f "%M" -o "$work/download.rss" "$bin/fdfs" download "$(cat "$work/id")" "$work/big.out"
  cmp -s "$big" "$work/big.out" && same=identical || same=DIFFERENT
  echo "download: $same, storage peak RSS $(peak "$storage_pid"), client peak RSS $(( $(cat "$work/download.rss") / 1024 )) MiB"
  exit 0
fi

if [ "$mode" = mount ]; then
  for tool in fio fusermount3; do
    command -v $tool >/dev/null || { apt-get install -y -qq fio fuse3 >/dev/null 2>&1 || { echo "bench: $tool missing (apt-get install fio fuse3)" >&2; exit 3; }; }
  done
  gib=${2:-10}
  mnt=$work/mnt
  mkdir -p "$mnt"
  mount_pid=""
  start_mount() {
    "$bin/fdfs-mount" --tracker "$tracker" "$mnt" -o "names=on,auto_unmount,pending_journal=$work/journal${MOUNT_OPTS:+,$MOUNT_OPTS}" >>"$work/mount.log" 2>&1 & mount_pid=$!
    pids+=("$mount_pid")
    for _ in $(seq 1 100); do mountpoint -q "$mnt" && return 0; sleep 0.1; done
    echo "bench: fdfs-mount did not mount; its log:" >&2; cat "$work/mount.log" >&2; exit 3
  }
  stop_mount() { fusermount3 -u "$mnt"; for _ in $(seq 1 100); do kill -0 "$mount_pid" 2>/dev/null || return 0; sleep 0.1; done; }
  median() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f"{statistics.median(v):,.0f} ({min(v):,.0f}..{max(v):,.0f})")' "$@"; }
  fio_mib() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); t=j["jobs"][0][sys.argv[2]]; print(t["bw_bytes"]/1048576)' "$@"; }
  fio_iops() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["jobs"][0]["read"]["iops"])' "$1"; }
  start_mount
  mkdir -p "$mnt/group1/bench"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  # 10,000 files of 4 KiB in 10 directories, the cp -r source.
  src=$work/small; for d in $(seq 0 9); do mkdir -p "$src/d$d"; for f in $(seq 0 999); do head -c 4096 /dev/urandom >"$src/d$d/f$f"; done; done
  # Seconds one command takes (wall clock).
  timed() { local s; s=$(date +%s.%N); "$@" >/dev/null; python3 -c "import sys,time; print(time.time() - float(sys.argv[1]))" "$s"; }
  # Seconds one `fdfs upload FILE` takes; the file is deleted afterwards (untimed).
  timed_upload() {
    local s e id; s=$(date +%s.%N); id=$("$bin/fdfs" upload "$1"); e=$(date +%s.%N)
    "$bin/fdfs" delete "$id" >/dev/null; python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$s" "$e"
  }
  # 1 GiB that dd copies in: write-only opens (cp, dd, tar) bypass the page cache, unlike fio's read-write open.
  head -c $((1 << 30)) /dev/urandom >"$work/src1g"
  w=(); wd=(); dw=(); du=(); r=(); rd=(); rc=(); dc=(); rr=(); cw=(); cr=(); c4=(); files=()
  for rep in $(seq 1 "$reps"); do
    f=$mnt/group1/bench/seq$rep
    fio --name=w --filename="$f" --rw=write --bs=1M --size=1G --ioengine=psync --end_fsync=1 --output-format=json >"$work/w.json"
    w+=("$(fio_mib "$work/w.json" write)")
    fid=$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "system.fdfs.file_id").decode())' "$f")
    sync; sleep 2 # fio's GiB is written back first, as before fio itself
    # The source must come from memory: the cold-read step below drops every cache, and reading the GiB back from
    # this machine's disk (about 400 MiB/s) was what the row measured in repetitions 2 and later until 2026-11-25.
    cat "$work/src1g" >/dev/null
    dw+=("$(python3 -c "import sys; print(1024 / float(sys.argv[1]))" "$(timed dd if="$work/src1g" of="$mnt/group1/bench/dd$rep" bs=1M conv=fsync status=none)")")
    rm -f "$mnt/group1/bench/dd$rep"; sync; sleep 2
    # fio with O_DIRECT (--direct=1), as file-system throughput is usually measured (JuiceFS's and others' published
    # fio runs): from fio's memory into the mount, no page-cache copy on either side, like `fdfs bench`'s uploads.
    fio --name=wd --filename="$mnt/group1/bench/direct$rep" --rw=write --bs=1M --size=1G --ioengine=psync --direct=1 --end_fsync=1 --output-format=json >"$work/wd.json"
    wd+=("$(fio_mib "$work/wd.json" write)")
    rm -f "$mnt/group1/bench/direct$rep"; sync; sleep 2
    # The direct client from the same file: `fdfs upload` of dd's GiB (minus a 1-byte upload: process start and
    # connections), as the cold-read row below compares with `fdfs download`.
    cat "$work/src1g" >/dev/null; head -c 1 /dev/zero >"$work/one"
    start_cost=$(timed_upload "$work/one"); full=$(timed_upload "$work/src1g")
    du+=("$(python3 -c "import sys; print(1024 / (float(sys.argv[2]) - float(sys.argv[1])))" "$start_cost" "$full")")
    sync; sleep 2
    # Warm: a new mount (its page cache is gone) while the storage still caches what it just stored, which is
    # what `fdfs bench` finds when it downloads the files it has just uploaded.
    stop_mount; start_mount
    fio --name=r --filename="$f" --rw=read --bs=1M --size=1G --ioengine=psync --output-format=json >"$work/r.json"
    r+=("$(fio_mib "$work/r.json" read)")
    stop_mount; start_mount
    fio --name=rd --filename="$f" --rw=read --bs=1M --size=1G --ioengine=psync --direct=1 --output-format=json >"$work/rd.json"
    rd+=("$(fio_mib "$work/rd.json" read)")
    stop_mount; start_mount
    fio --name=rr --filename="$f" --rw=randread --bs=4k --size=1G --runtime=15 --time_based --ioengine=psync --output-format=json >"$work/rr.json"
    rr+=("$(fio_iops "$work/rr.json")")
    # Cold: dropped caches, so the storage reads from disk; beside the direct client's download of the same file
    # (`fdfs download`, minus the time of a 1-byte download: process start and connections).
    stop_mount; sync; echo 3 >/proc/sys/vm/drop_caches; start_mount
    fio --name=rc --filename="$f" --rw=read --bs=1M --size=1G --ioengine=psync --output-format=json >"$work/rc.json"
    rc+=("$(fio_mib "$work/rc.json" read)")
    sync; echo 3 >/proc/sys/vm/drop_caches
    start_cost=$(timed "$bin/fdfs" download "$fid" /dev/null --length 1)
    full=$(timed "$bin/fdfs" download "$fid" /dev/null)
    dc+=("$(python3 -c "import sys; print(1024 / (float(sys.argv[2]) - float(sys.argv[1])))" "$start_cost" "$full")")
    rm -f "$f"; sync; sleep 2
    # The direct client on the same cluster: 16 x 64 MiB, and 4 KiB files with one connection.
    "$bin/fdfs" bench --op all -n 16 -s 64M -c 1 --json | grep '^{' >"$work/big.jsonl"
    cw+=("$(python3 -c 'import json,sys; [print(r["ops_per_sec"]*64) for r in map(json.loads, open(sys.argv[1])) if r["op"]=="upload"]' "$work/big.jsonl")")
    cr+=("$(python3 -c 'import json,sys; [print(r["ops_per_sec"]*64) for r in map(json.loads, open(sys.argv[1])) if r["op"]=="download"]' "$work/big.jsonl")")
    "$bin/fdfs" bench --op all -n 5000 -s 4K -c 1 --json | grep '^{' >"$work/small.jsonl"
    c4+=("$(python3 -c 'import json,sys; [print(r["ops_per_sec"]) for r in map(json.loads, open(sys.argv[1])) if r["op"]=="download"]' "$work/small.jsonl")")
    start=$(date +%s.%N); cp -r "$src" "$mnt/group1/bench/tree$rep"; end=$(date +%s.%N)
    files+=("$(python3 -c "print(10000 / ($end - $start))")")
    printf 'rep %s: fio write %.0f (O_DIRECT %.0f), dd %.0f (fdfs upload %.0f), read warm %.0f (O_DIRECT %.0f), cold %.0f (direct %.0f), randread %.0f IOPS, cp -r %.0f files/s\n' \
      "$rep" "${w[-1]}" "${wd[-1]}" "${dw[-1]}" "${du[-1]}" "${r[-1]}" "${rd[-1]}" "${rc[-1]}" "${dc[-1]}" "${rr[-1]}" "${files[-1]}"
    sync; sleep 2
  done
  echo "| measure | mount, median (min..max) of $reps | direct client (fdfs bench), median |"
  echo "|---|---|---|"
  echo "| 1 MiB sequential write, MiB/s | $(median "${w[@]}") | 64 MiB uploads, 1 conn: $(median "${cw[@]}") |"
  echo "| 1 MiB sequential write, O_DIRECT (fio --direct=1), MiB/s | $(median "${wd[@]}") | 64 MiB uploads, 1 conn: $(median "${cw[@]}") |"
  echo "| 1 MiB sequential write, write-only open (dd conv=fsync of 1 GiB), MiB/s | $(median "${dw[@]}") | 64 MiB uploads, 1 conn: $(median "${cw[@]}") |"
  echo "| (the same dd beside the direct client from the same file) | $(median "${dw[@]}") | fdfs upload of the same 1 GiB: $(median "${du[@]}") |"
  echo "| 1 MiB sequential read (storage cache warm), MiB/s | $(median "${r[@]}") | 64 MiB downloads, 1 conn: $(median "${cr[@]}") |"
  echo "| 1 MiB sequential read, O_DIRECT (fio --direct=1, storage cache warm), MiB/s | $(median "${rd[@]}") | 64 MiB downloads, 1 conn: $(median "${cr[@]}") |"
  echo "| 1 MiB sequential read (caches dropped), MiB/s | $(median "${rc[@]}") | fdfs download of the same 1 GiB: $(median "${dc[@]}") |"
  echo "| 4 KiB random read (storage cache warm), IOPS | $(median "${rr[@]}") | 4 KiB downloads, 1 conn: $(median "${c4[@]}") ops/s |"
  echo "| cp -r of 10,000 x 4 KiB, files/s | $(median "${files[@]}") | |"
  # Memory: peak RSS of the mount while dd writes a big file; then a block written past 4 GiB reads back.
  stop_mount; start_mount
  big=$mnt/group1/bench/big
  dd if=/dev/zero of="$big" bs=1M count=$((gib * 1024)) status=none &
  dd_pid=$!; peak=0
  while kill -0 $dd_pid 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$mount_pid/status"); [ "${rss:-0}" -gt "$peak" ] && peak=$rss; sleep 0.2
  done
  wait $dd_pid
  echo "dd of $gib GiB into the mount: size $(stat -c %s "$big"), mount peak RSS $((peak / 1024)) MiB (VmHWM $(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$mount_pid/status") MiB)"
  head -c 1048576 /dev/urandom >"$work/block"
  dd if="$work/block" of="$big" bs=1M seek=$((4 * 1024 + 100)) conv=notrunc status=none
  stop_mount; start_mount
  dd if="$big" of="$work/block.back" bs=1M skip=$((4 * 1024 + 100)) count=1 status=none
  cmp -s "$work/block" "$work/block.back" && echo "block at 4 GiB + 100 MiB: identical after remount" || echo "block at 4 GiB + 100 MiB: DIFFERENT"
  rm -f "$big"
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  stop_mount
  exit 0
fi

# CASES="N SIZE CONNS;..." runs other cases, e.g. CASES="10000 4K 4" for a quick A/B of one row.
default_cases="10000 4K 4;4000 64K 4;4 64M 1"
[ "$mode" = replicated ] && default_cases="10000 4K 4;4 64M 1"
IFS=';' read -r -a cases <<<"${CASES:-$default_cases}"
results=$work/results.jsonl
lags=$work/lags.txt
# Seconds until no storage of group1 is behind its peers (replicated mode), or "timeout" after LAG_WAIT (60) s.
catch_up() {
  local start=$SECONDS
  while [ $((SECONDS - start)) -lt "${LAG_WAIT:-60}" ]; do
    if "$bin/fdfs" storages -g group1 --json 2>/dev/null | python3 "$work/group1_state.py" --caught-up; then
      echo $((SECONDS - start)); return
    fi
    sleep 1
  done
  echo timeout
}
for case in "${cases[@]}"; do
  read -r n size c <<<"$case"
  for r in $(seq 1 "$reps"); do
    # --pause 2: the C baseline's method waited 2 s between uploading and downloading.
    "$bin/fdfs" bench --op all -n "$n" -s "$size" -c "$c" --pause 2 --json | grep '^{' >>"$results"
    if [ "$mode" = replicated ]; then echo "$size $c $(catch_up)" >>"$lags"; fi
    sync; sleep 2 # start every run without the previous one's dirty pages still being written back
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows.setdefault((r["size"], r["concurrency"], r["op"]), []).append(r)
print("| size | conns | op | ops/s (median, min..max) | MiB/s | p50 ms | p99 ms |")
print("|---|---|---|---|---|---|---|")
for (size, c, op), rs in sorted(rows.items(), key=lambda kv: (kv[0][0], ["upload", "download", "delete"].index(kv[0][2]))):
    ops = [x["ops_per_sec"] for x in rs]
    med = statistics.median(ops)
    mib = med * size / 1048576 if op != "delete" else 0
    human = f"{size // 1048576} MiB" if size >= 1048576 else f"{size // 1024} KiB"
    print(f"| {human} | {c} | {op} | {med:,.0f} ({min(ops):,.0f}..{max(ops):,.0f}) | {mib:,.0f} | "
          f"{statistics.median(x['p50_ms'] for x in rs):.2f} | {statistics.median(x['p99_ms'] for x in rs):.2f} |")
PY
if [ "$mode" = replicated ]; then
  echo
  echo "peer caught up (seconds after each run, per case):"
  awk '{ k = $1 " x " $2 " conns"; v[k] = v[k] " " $3 } END { for (k in v) print "  " k ":" v[k] }' "$lags"
fi
