#!/usr/bin/env bash
# Proves the C layouts the C# code declares against the C headers, for x86-64 and aarch64 alike: the FUSE binding's
# structs, pointer slots, bit masks and constants (as `fdfs-mount --print-layouts` describes them) and the few libc
# constants src/ hard-codes become _Static_asserts compiled with each architecture's gcc (the other one's is a cross
# compiler: gcc-aarch64-linux-gnu here). Bitfield masks cannot be asserted at compile time: they are read back from
# the compiled object. Needs an fdfs-mount from scripts/build.sh, libfuse3-dev and both compilers.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${FDFS_BIN_DIR:-$PWD/artifacts/bin}
[ -x "$bin/fdfs-mount" ] || { echo "check-layouts: no $bin/fdfs-mount; run scripts/build.sh first" >&2; exit 1; }
[ -f /usr/include/fuse3/fuse_lowlevel.h ] || { echo "check-layouts: install libfuse3-dev" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/fdfs-mount" --print-layouts >"$work/layouts.tsv"

# Constants src/ hard-codes, read from the C# source: file, C# constant, C expression, architecture (or "all").
cs_constants() {
  cat <<'EOF'
src/FastDfs.Storage/NativeMethods.cs	OWriteOnly	O_WRONLY	all
src/FastDfs.Storage/NativeMethods.cs	OCloseOnExec	O_CLOEXEC	all
src/FastDfs.Storage/NativeMethods.cs	OTmpFileX64	O_TMPFILE	x86_64
src/FastDfs.Storage/NativeMethods.cs	OTmpFileArm64	O_TMPFILE	aarch64
src/FastDfs.Storage/NativeMethods.cs	AtFdCwd	AT_FDCWD	all
src/FastDfs.Storage/NativeMethods.cs	AtSymlinkFollow	AT_SYMLINK_FOLLOW	all
src/FastDfs.Storage/NativeMethods.cs	UtimeOmit	UTIME_OMIT	all
src/FastDfs.Storage/NativeMethods.cs	ENOENT	ENOENT	all
src/FastDfs.Storage/NativeMethods.cs	EEXIST	EEXIST	all
src/FastDfs.Storage/NativeMethods.cs	SeekData	SEEK_DATA	all
src/FastDfs.Storage/NativeMethods.cs	SeekHole	SEEK_HOLE	all
src/FastDfs.Storage/NativeMethods.cs	ENXIO	ENXIO	all
src/FastDfs.Storage/NativeMethods.cs	AtEmptyPath	AT_EMPTY_PATH	all
src/FastDfs.Storage/NativeMethods.cs	StatxBasicStats	STATX_BASIC_STATS	all
src/FastDfs.Storage/NativeMethods.cs	StatxSize	sizeof(struct statx)	all
src/FastDfs.Storage/NativeMethods.cs	StatxInoOffset	offsetof(struct statx, stx_ino)	all
src/FastDfs.Storage/NativeMethods.cs	StatxSizeOffset	offsetof(struct statx, stx_size)	all
src/FastDfs.Storage/NativeMethods.cs	StatxCtimeOffset	offsetof(struct statx, stx_ctime)	all
src/FastDfs.Storage/NativeMethods.cs	StatxMtimeOffset	offsetof(struct statx, stx_mtime)	all
src/FastDfs.Storage/DownloadFile.cs	ReadOnlyCloseOnExec	(O_RDONLY | O_CLOEXEC)	all
src/FastDfs.Storage/DownloadFile.cs	SeekEnd	SEEK_END	all
src/FastDfs.Storage/DownloadFile.cs	EINTR	EINTR	all
src/FastDfs.Storage/DownloadFile.cs	EPERM	EPERM	all
src/FastDfs.Storage/DownloadFile.cs	EAGAIN	EAGAIN	all
src/FastDfs.Storage/DownloadFile.cs	EINVAL	EINVAL	all
src/FastDfs.Storage/DownloadFile.cs	ENOSYS	ENOSYS	all
src/FastDfs.Storage/DownloadFile.cs	EOPNOTSUPP	EOPNOTSUPP	all
src/FastDfs.Storage/DownloadFile.cs	AtFdCwd	AT_FDCWD	all
src/FastDfs.Storage/DownloadFile.cs	ResolveCached	RESOLVE_CACHED	all
src/FastDfs.Storage/DownloadFile.cs	ReadNoWait	RWF_NOWAIT	all
src/FastDfs.Storage/DownloadFile.cs	OpenAt2SysCall	SYS_openat2	all
src/FastDfs.Client/LocalFiles.cs	FileTypeMask	S_IFMT	all
src/FastDfs.Client/LocalFiles.cs	RegularFile	S_IFREG	all
src/FastDfs.Client/LocalFiles.cs	ModeOffsetX64	offsetof(struct stat, st_mode)	x86_64
src/FastDfs.Client/LocalFiles.cs	ModeOffsetArm64	offsetof(struct stat, st_mode)	aarch64
EOF
}

# The structs src/ passes to libc, declared there as sequential longs: their C sizes.
src_structs() {
  cat <<'EOF'
_Static_assert(sizeof(struct open_how) == 24, "DownloadFile.OpenHow is three longs");
_Static_assert(sizeof(struct iovec) == 16, "DownloadFile.IoVector is two pointer-sized fields");
_Static_assert(sizeof(struct timespec[2]) == 32, "NativeMethods.TimeSpecPair is four longs");
EOF
}

cs_value() { # file constant -> the C# initializer, verbatim (C reads the same literals)
  sed -nE "s/^[[:space:]]*((private|internal|public)[[:space:]]+)?const[[:space:]]+(int|long|uint)[[:space:]]+$2[[:space:]]*=[[:space:]]*([^;]+);.*/\4/p" "$1" | head -1
}

tool_for() { # architecture tool -> the native tool, or the cross one
  if [ "$(uname -m)" = "$1" ]; then echo "$2"; else echo "$1-linux-gnu-$2"; fi
}

status=0
for arch in x86_64 aarch64; do
  cc=$(tool_for "$arch" gcc)
  objcopy=$(tool_for "$arch" objcopy)
  command -v "$cc" >/dev/null || { echo "check-layouts: no $cc (apt-get install gcc-${arch//_/-}-linux-gnu)" >&2; exit 1; }
  src="$work/$arch.c"
  {
    printf '%s\n' '#define _GNU_SOURCE' '#define _FILE_OFFSET_BITS 64' '#define FUSE_USE_VERSION 314' \
      '#include <stddef.h>' '#include <errno.h>' '#include <fcntl.h>' '#include <unistd.h>' '#include <sys/mount.h>' \
      '#include <sys/stat.h>' '#include <sys/statvfs.h>' '#include <sys/syscall.h>' '#include <sys/uio.h>' \
      '#include <linux/openat2.h>' '#include <fuse3/fuse_lowlevel.h>'
    awk -F'\t' -v arch="$arch" '$1 == arch {
      if ($2 == "sizeof") printf "_Static_assert(sizeof(%s) == %s, \"sizeof(%s) is %s in C#\");\n", $3, $4, $3, $4
      else if ($2 == "field") {
        printf "_Static_assert(offsetof(%s, %s) == %s, \"%s.%s is at %s in C#\");\n", $3, $4, $5, $3, $4, $5
        printf "_Static_assert(sizeof(((%s *)0)->%s) == %s, \"%s.%s is %s bytes in C#\");\n", $3, $4, $6, $3, $4, $6
      }
      else if ($2 == "const") printf "_Static_assert((%s) == %s, \"%s is %s in C#\");\n", $3, $4, $3, $4
      else if ($2 == "bit") {
        if (!($3 in group)) { group[$3] = ++groups; order[groups] = $3 }
        probes[group[$3]] = probes[group[$3]] sprintf(" { .%s = 1 },", $4)
      }
    }
    END {
      for (g = 1; g <= groups; g++)
        printf "__attribute__((used, section(\".fdfs_bits_%d\"))) const %s fdfs_bits_%d[] = {%s };\n", g, order[g], g, probes[g]
    }' "$work/layouts.tsv"
    while IFS=$'\t' read -r file name expression only; do
      [ "$only" = all ] || [ "$only" = "$arch" ] || continue
      value=$(cs_value "$file" "$name")
      [ -n "$value" ] || { echo "check-layouts: no constant $name in $file" >&2; exit 1; }
      printf '_Static_assert(%s == (%s), "%s: %s is %s");\n' "$expression" "$value" "$file" "$name" "${value//\"/}"
    done < <(cs_constants)
    src_structs
  } >"$src"

  if ! "$cc" -std=gnu11 -Wall -Werror -fno-toplevel-reorder -c -o "$work/$arch.o" "$src" 2>"$work/$arch.err"; then
    echo "check-layouts: $arch: the C# layouts do not match the headers:" >&2
    grep -E 'error' "$work/$arch.err" | sed 's/^/  /' >&2
    status=1
    continue
  fi

  # Each bitfield probe sets one bit in an otherwise zero struct (an array of them per type, in its own section); the
  # 32-bit word the C# mask applies to must equal the mask.
  wrong=0
  awk -F'\t' -v a="$arch" '$1 == a && $2 == "sizeof" { size[$3] = $4 }
    $1 == a && $2 == "bit" { if (!($3 in group)) group[$3] = ++groups; print group[$3] "\t" (seen[$3]++) * size[$3] + $5 "\t" $3 "." $4 "\t" $6 }' \
    "$work/layouts.tsv" >"$work/$arch.probes"
  while IFS=$'\t' read -r group offset member mask; do
    [ -f "$work/$arch.bits_$group" ] ||
      "$objcopy" -O binary --only-section=".fdfs_bits_$group" "$work/$arch.o" "$work/$arch.bits_$group"
    actual=$(od -An -tu4 -j "$offset" -N4 "$work/$arch.bits_$group" | tr -d ' ')
    if [ "$actual" != "$mask" ]; then
      echo "check-layouts: $arch: $member sets $actual in its 32-bit word in C, C# masks $mask" >&2
      wrong=1
    fi
  done <"$work/$arch.probes"
  if ((wrong)); then
    status=1
    continue
  fi

  echo "check-layouts: $arch: $(grep -c '^_Static_assert' "$src") static asserts and $(awk -F'\t' -v a="$arch" '$1 == a && $2 == "bit"' "$work/layouts.tsv" | wc -l) bit masks hold ($cc)"
done
exit $status
