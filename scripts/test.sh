#!/usr/bin/env bash
# Runs every test tier: format check, unit tests, integration tests against real daemons on loopback,
# and the npm `fdfs` compatibility suite. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
# The directory service's tests start a throwaway PostgreSQL server (initdb + pg_ctl from Debian's package).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
# The mount tests need libfuse3, fusermount3 and getfattr/setfattr.
{ command -v fusermount3 >/dev/null && ldconfig -p | grep -q 'libfuse3\.so'; } || need_apt+=(fuse3 libfuse3-3)
command -v getfattr >/dev/null || need_apt+=(attr)
# fincore (page-cache residency) shows that write-only opens bypass the page cache.
command -v fincore >/dev/null || need_apt+=(util-linux-extra)
# check-layouts.sh compiles the FUSE binding's layouts against the headers of both architectures (about 10 s to install).
[ -f /usr/include/fuse3/fuse_lowlevel.h ] || need_apt+=(libfuse3-dev)
command -v gcc >/dev/null || need_apt+=(gcc)
case "$(uname -m)" in
  x86_64) command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu) ;;
  aarch64) command -v x86_64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-x86-64-linux-gnu) ;;
esac
# The mount's tool-workflow tests run these on the mount.
for tool in rsync git tar; do command -v "$tool" >/dev/null || need_apt+=("$tool"); done
# StressTests run stress-ng's file-system stressors and fio's verify jobs on the mount.
for tool in stress-ng fio; do command -v "$tool" >/dev/null || need_apt+=("$tool"); done
if ((${#need_apt[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

echo "== npm packages for the compatibility suite (from the committed lockfile)"
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)

echo "== build"
dotnet build FastDfs.Mount.sln -c Release --nologo -v quiet
bash scripts/build.sh

echo "== format check"
dotnet format FastDfs.Mount.sln --verify-no-changes --no-restore

echo "== native layouts (C# against the x86-64 and aarch64 headers)"
bash scripts/check-layouts.sh

echo "== tests"
export FDFS_BIN_DIR="$PWD/artifacts/bin"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "-- $name"
  set +e
  dotnet test "$project" -c Release --no-build --nologo \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" >"$results/$name.log" 2>&1
  rc=$?
  set -e
  grep -E '^\s*Failed |Passed!|Failed!|error' "$results/$name.log" || true
  if [ $rc -ne 0 ]; then
    status=1
    echo "-- $name failed (exit $rc); last lines:"
    tail -n 60 "$results/$name.log"
  fi
done

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(sed -E 's/.* passed="([0-9]+)".*/\1/' <<<"$counters"); f=$(sed -E 's/.* failed="([0-9]+)".*/\1/' <<<"$counters")
  passed=$((passed + p)); failed=$((failed + f))
done
echo
echo "$passed passed, $failed failed"
exit $status
