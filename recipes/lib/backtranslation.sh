# Back-translation (Sennrich, Haddow & Birch 2016) for a recipe config that trains on a synthetic
# corpus data/mono.bt*.SRC: make the monolingual TGT text (the recipe's local/monolingual.sh),
# train the reverse TGT->SRC model of the first REVERSE_CONF (stages 1-2, continued where they
# stopped), and translate the text with it: beam 5, or as the file name says: sampling
# (data/mono.bt-sample.SRC; Edunov et al. 2018) or greedy search (data/mono.bt-greedy.SRC: about
# five times faster than beam 5 on a CPU). For data/mono.bt-ensemble.SRC every REVERSE_CONF is
# trained and they translate together, an ensemble (a stronger reverse model: better synthetic
# sources). The translation continues after an interruption. Sourced by run.sh after stages.sh.

back_translation() {  # back_translation SRC TGT REVERSE_CONF [REVERSE_CONF...]
  local src=$1 tgt=$2 synthetic reverse_conf
  shift 2
  local reverse_confs=("$@")
  synthetic=$(grep -o "data/mono\.bt[A-Za-z0-9_-]*\.$src" "$conf" | head -n 1 || true)
  if [ -z "$synthetic" ]; then
    echo "run.sh: $conf names no data/mono.bt*.$src to train on" >&2; return 1
  fi
  if [ -s "$synthetic" ]; then echo "$synthetic is there already"; return 0; fi
  # Inside `run_stage ... || ...` errexit is off: every step says itself whether it failed.
  local/monolingual.sh data || return 1
  case $synthetic in *ensemble*) ;; *) reverse_confs=("${reverse_confs[0]}") ;; esac
  local options=(--beam 5)
  case $synthetic in
    *sample*) options=(--sample --seed 1) ;;
    *greedy*) options=(--beam 1) ;;
  esac
  for reverse_conf in "${reverse_confs[@]}"; do
    local reverse_exp=exp/$(basename "$reverse_conf" .yaml)
    (  # each reverse model through the recipe's own prepare and train steps
      conf=$reverse_conf exp=$reverse_exp variant=$(basename "$reverse_exp") init_from="" nproc=""
      nmt-prepare --config "$conf" --set exp_dir="$exp" || exit 1
      train_model
    ) || return 1
    options+=(--model "$reverse_exp")
  done
  nmt-translate -i "data/mono.$tgt" -o "$synthetic.part" "${options[@]}" || return 1
  mv "$synthetic.part" "$synthetic"
}
