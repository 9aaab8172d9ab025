#!/usr/bin/env bash
# Builds Release and leaves the executables fdfs-trackerd, fdfs-storaged, fdfs and fdfs-mount in artifacts/bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/bin
mkdir -p "$out"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
for project in src/FastDfs.Trackerd src/FastDfs.Storaged src/FastDfs.Cli mount/FastDfs.Mount; do
  dotnet publish "$project" -c Release -o "$out" --nologo -v quiet -p:UseAppHost=true
done
echo "built: $(ls "$out" | grep -E '^(fdfs|fdfs-trackerd|fdfs-storaged|fdfs-mount)$' | tr '\n' ' ')in $out/"
