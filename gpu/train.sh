#!/usr/bin/env bash
# Train a reader (`transformer`, MiniLM, by default) on the whole training mix on one CUDA GPU, from the bundle
# of gpu/make_bundle.py, on a machine with PyTorch and transformers but no network and no install of
# this project. Run from the repository root:
#
#   gpu/train.sh BUNDLE OUT
#
# Three runs of `qa-app train --device cuda`: a smoke run on 256 questions (fails in seconds if
# anything is missing), the mix from all-MiniLM-L6-v2 (EPOCHS_MIX passes), then the v2 train split
# from the mix's best epoch (EPOCHS_V2 passes). OUT receives the log and the exported reader (with
# the mix stage's model card), packed as READER.tgz split into parts of PART_SIZE (default 15m;
# about 25 MB in all); gpu/unpack.sh joins them.
# Settings (environment): READER (transformer, or lstm), PYTHON (python3), EPOCHS_MIX (2), EPOCHS_V2 (2),
# LR_MIX (transformer 1e-4, lstm 1e-3), LR_V2 (3e-5, lstm 5e-4), BATCH (32), MIX_OPTIONS (options of
# the mix run only; lstm: "--contextual-layers 3"), SKIP_SMOKE (unset), DEVICE (cuda; `cpu` tries the
# script anywhere), EXTRA (more options for every run, e.g. "--limit-train 64" for a rehearsal).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: gpu/train.sh BUNDLE OUT" >&2; exit 2; }
bundle=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d)
log="$out/train-${READER:-transformer}.log"
export QA_CACHE_DIR="$work/cache" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=true  # tokenising 108k questions uses every core

main() {
echo "== $(date -u +%FT%TZ) gpu/train.sh on $(hostname)"
"$py" gpu/make_bundle.py --verify "$bundle"
"$py" - "${DEVICE:-cuda}" <<'PY'
import sys
device = sys.argv[1]
import torch, transformers
if device != "cpu" and not torch.cuda.is_available():
    sys.exit(f"PyTorch {torch.__version__} sees no CUDA GPU here")
where = torch.cuda.get_device_name() if device != "cpu" else "CPU"
print(f"bundle verified; torch {torch.__version__}, transformers {transformers.__version__}, {where}")
PY
mkdir -p "$QA_CACHE_DIR"
gunzip -c "$bundle/squad-train-v1.1.json.gz" > "$QA_CACHE_DIR/squad-train-v1.1.json"
gunzip -c "$bundle/squad-v2-dev.json.gz" > "$work/squad-v2-dev.json"

reader=${READER:-transformer}
case "$reader" in
  transformer) lr_mix=${LR_MIX:-1e-4}; lr_v2=${LR_V2:-3e-5}; mix_options=${MIX_OPTIONS:-} ;;
  lstm) lr_mix=${LR_MIX:-1e-3}; lr_v2=${LR_V2:-5e-4}; mix_options=${MIX_OPTIONS:---contextual-layers 3} ;;
  *) echo "READER must be transformer or lstm (the bundle holds no mpnet base)" >&2; exit 2 ;;
esac
train() { "$py" -m qa_app.cli train --reader "$reader" --device "${DEVICE:-cuda}" --data "$work/squad-v2-dev.json" \
          --batch-size "${BATCH:-32}" --accumulation 1 "$@" ${EXTRA:-}; }
if [ -z "${SKIP_SMOKE:-}" ]; then
  echo "== smoke run"
  train --mix --base "$bundle/minilm" --epochs 1 --limit-train 256 --limit-validation 64 --limit-test 64 \
        --run-dir "$work/smoke" --out "$work/smoke-out" $mix_options
fi
echo "== the training mix"
train --mix --base "$bundle/minilm" --epochs "${EPOCHS_MIX:-2}" --learning-rate "$lr_mix" \
      --run-dir "$work/mix" --out "$work/$reader-mix" $mix_options
echo "== the v2 train split"
train --init "$work/mix/best" --epochs "${EPOCHS_V2:-2}" --learning-rate "$lr_v2" \
      --run-dir "$work/v2" --out "$work/$reader"
# What comes back: the final reader, and the mix stage's model card. A reader exported in float32
# (neither int8 nor float16 was within 0.2 validation F1) travels as its float16 copy, said in the log.
mkdir -p "$work/pack/$reader-mix"
cp "$work/$reader-mix/"*.json "$work/$reader-mix/MODEL_CARD.md" "$work/pack/$reader-mix/"
if grep -q '"weights_dtype": "float32"' "$work/$reader/card.json"; then
  echo "the exported reader is float32; packing its float16 copy ($work/v2/best-float16) instead"
  cp -r "$work/v2/best-float16" "$work/pack/$reader"
  cp "$work/$reader/card.json" "$work/$reader/MODEL_CARD.md" "$work/pack/$reader/"
else
  cp -r "$work/$reader" "$work/pack/$reader"
fi
tar -C "$work/pack" -czf - "$reader-mix" "$reader" | split -b "${PART_SIZE:-15m}" - "$out/$reader.tgz.part-"
ls -l "$out"
echo "== $(date -u +%FT%TZ) done"
}
main 2>&1 | tee -a "$log"
exit "${PIPESTATUS[0]}"
