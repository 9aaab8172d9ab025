#!/usr/bin/env bash
# Builds Release and leaves the executables fdfs-trackerd, fdfs-storaged, fdfs and fdfs-mount in artifacts/bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/bin
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# ReadyToRun (precompiled) code where we know the runtime identifier: a daemon starts on about a third less CPU, and
# a new mount does not spend its first GiB in the JIT (docs/benchmarks.md). Elsewhere the portable build.
case "$(uname -m)" in
  x86_64) rid=(-r linux-x64 --self-contained false -p:PublishReadyToRun=true) ;;
  aarch64) rid=(-r linux-arm64 --self-contained false -p:PublishReadyToRun=true) ;;
  *) rid=() ;;
esac
for project in src/FastDfs.Trackerd src/FastDfs.Storaged src/FastDfs.Cli mount/FastDfs.Mount; do
  dotnet publish "$project" -c Release -o "$out" --nologo -v quiet -p:UseAppHost=true "${rid[@]}"
done
echo "built: $(ls "$out" | grep -E '^(fdfs|fdfs-trackerd|fdfs-storaged|fdfs-mount)$' | tr '\n' ' ')in $out/"
