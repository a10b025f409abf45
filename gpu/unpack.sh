#!/usr/bin/env bash
# Join the parts gpu/train.sh wrote and unpack them: gpu/unpack.sh OUT DEST
# (DEST/READER: the reader after the v2 train split; DEST/READER-mix: the mix stage's model card).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: gpu/unpack.sh OUT DEST" >&2; exit 2; }
mkdir -p "$2"
found=0
for first in "$1"/*.tgz.part-aa; do
  [ -e "$first" ] || continue
  cat "${first%aa}"* | tar -C "$2" -xzf -
  found=1
done
[ "$found" = 1 ] || { echo "no *.tgz.part-aa in $1: nothing gpu/train.sh wrote" >&2; exit 1; }
ls "$2"
