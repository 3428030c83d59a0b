# Back-translation (Sennrich, Haddow & Birch 2016) for a recipe config that trains on a synthetic
# corpus data/mono.bt*.SRC: make the monolingual TGT text (the recipe's local/monolingual.sh),
# train the reverse TGT->SRC model of REVERSE_CONF (stages 1-2, continued where they stopped),
# and translate the text with it: beam 5, or sampling when the file name says so
# (data/mono.bt-sample.SRC; Edunov et al. 2018). The translation continues after an interruption.
# Sourced by run.sh after stages.sh.

back_translation() {  # back_translation SRC TGT REVERSE_CONF
  local src=$1 tgt=$2 reverse_conf=$3 synthetic
  synthetic=$(grep -o "data/mono\.bt[A-Za-z0-9_-]*\.$src" "$conf" | head -n 1 || true)
  if [ -z "$synthetic" ]; then
    echo "run.sh: $conf names no data/mono.bt*.$src to train on" >&2; return 1
  fi
  if [ -s "$synthetic" ]; then echo "$synthetic is there already"; return 0; fi
  # Inside `run_stage ... || ...` errexit is off: every step says itself whether it failed.
  local/monolingual.sh data || return 1
  (  # the reverse model, through the recipe's own prepare and train steps
    conf=$reverse_conf variant=$(basename "$reverse_conf" .yaml) init_from="" nproc=""
    exp=exp/$variant
    nmt-prepare --config "$conf" --set exp_dir="$exp" || exit 1
    train_model
  ) || return 1
  local options=(--beam 5)
  case $synthetic in *sample*) options=(--sample --seed 1) ;; esac
  nmt-translate --model "exp/$(basename "$reverse_conf" .yaml)" -i "data/mono.$tgt" -o "$synthetic.part" \
    "${options[@]}" || return 1
  mv "$synthetic.part" "$synthetic"
}
