#!/usr/bin/env bash
# Reproduces docs/benchmarks.md: starts one tracker and one storage (FastDFS defaults: one store path,
# subdir_count_per_path 256) on loopback from artifacts/bin, runs `fdfs bench` for each case REPS times and
# prints the medians (MiB/s, like the FastDFS baseline notes).
#   scripts/bench.sh [REPS]          speed cases, default 5 repetitions
#   scripts/bench.sh memory [GIB]    peak memory of storage and client while a GIB (default 4) GiB file goes up and down
#   BIN=/other/bin scripts/bench.sh  benchmark another build (for A/B comparisons)
#   CASES="10000 4K 4" scripts/bench.sh 3   only the given cases
set -euo pipefail
cd "$(dirname "$0")/.."
mode=speed
if [ "${1:-}" = memory ]; then mode=memory; shift; fi
reps=${1:-5}
bin=${BIN:-$PWD/artifacts/bin}
[ -x "$bin/fdfs" ] || bash scripts/build.sh >/dev/null
work=$(mktemp -d /tmp/fdfs-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

tracker_ip=127.0.0.12 storage_ip=127.0.0.13
mkdir -p "$work/tracker" "$work/storage/store0"
printf 'bind_addr = %s\nport = 0\nbase_path = %s\n' "$tracker_ip" "$work/tracker" >"$work/tracker/tracker.conf"
"$bin/fdfs-trackerd" "$work/tracker/tracker.conf" >"$work/tracker.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do grep -q "listening on" "$work/tracker.log" && break; sleep 0.1; done
tracker=$(grep -o 'listening on [0-9.:]*' "$work/tracker.log" | head -1 | cut -d' ' -f3)
cat >"$work/storage/storage.conf" <<CONF
group_name = group1
bind_addr = $storage_ip
port = 0
base_path = $work/storage
store_path0 = $work/storage/store0
tracker_server = $tracker
heart_beat_interval = 1
stat_report_interval = 1
CONF
"$bin/fdfs-storaged" "$work/storage/storage.conf" >"$work/storage.log" 2>&1 & pids+=($!)
export FDFS_TRACKERS=$tracker
for _ in $(seq 1 100); do "$bin/fdfs" storages 2>/dev/null | grep -q ACTIVE && break; sleep 0.2; done
sleep 2 # let the storage finish creating its 65,536 directories

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

# CASES="N SIZE CONNS;..." runs other cases, e.g. CASES="10000 4K 4" for a quick A/B of one row.
IFS=';' read -r -a cases <<<"${CASES:-10000 4K 4;4000 64K 4;4 64M 1}"
results=$work/results.jsonl
for case in "${cases[@]}"; do
  read -r n size c <<<"$case"
  for r in $(seq 1 "$reps"); do
    "$bin/fdfs" bench --op all -n "$n" -s "$size" -c "$c" --json | grep '^{' >>"$results"
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
