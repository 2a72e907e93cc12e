#!/bin/bash
# submit.sh CONFIG OUT N [THROTTLE] [-- SBATCH_OPTION...]
#
# Queues a sharded clipeval run on Slurm: a job array of N shard tasks (at most THROTTLE at a time, default N;
# clipeval-shards.sbatch) and the merge (clipeval-merge.sbatch), which starts when every shard task succeeded.
# CONFIG and OUT must be on a filesystem every node sees. Options after -- go to both sbatch calls (e.g.
# --partition=gpu --gres=gpu:1). CLIPEVAL names the clipeval binary (default: clipeval on PATH).
#
# After a failure (a node lost, a time limit), run the same command again: the complete shards exit at once, only
# the failed or missing ones encode, and a new merge is queued behind them. Prints the two job ids.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
config=$(realpath "$1") out=$(realpath -m "$2") n=$3
throttle=${4:-$n}
shift $(( $# >= 4 ? 4 : 3 ))
[ "${1:-}" = "--" ] && shift
case $n in ''|*[!0-9]*|0) echo "submit.sh: N must be a whole number of at least 1, not '$n'" >&2; exit 2;; esac
case $throttle in ''|*[!0-9]*|0) echo "submit.sh: THROTTLE must be a whole number of at least 1, not '$throttle'" >&2; exit 2;; esac
here=$(dirname "$(realpath "$0")")
mkdir -p "$out"
export CLIPEVAL_CONFIG=$config CLIPEVAL_OUT=$out
shards=$(sbatch --parsable --array="0-$((n - 1))%$throttle" --chdir="$out" --export=ALL "$@" "$here/clipeval-shards.sbatch")
shards=${shards%%;*}
merge=$(sbatch --parsable --dependency="afterok:$shards" --kill-on-invalid-dep=yes --chdir="$out" --export=ALL "$@" \
  "$here/clipeval-merge.sbatch")
echo "shards: job $shards (array 0-$((n - 1)), $throttle at a time); merge: job ${merge%%;*} (after every shard succeeded)"
echo "results: $out/results.json once job ${merge%%;*} is done"
