#!/usr/bin/env bash
# Queues one night's work on Slurm (deploy/README.md, "Beyond one machine"):
# the shard array, then the merge, which waits for every task of the array
# to succeed (afterok). A task whose run only lost some recordings (callsift
# exit 3) reports success (array.sbatch), so a broken file does not hold up
# the merge; a task that failed or ran out of time does, and the merge is
# then cancelled (--kill-on-invalid-dep) instead of pending for ever:
# submit again, and each shard only does what it had not committed.
#   SHARDS=16 PARALLEL=8 CALLSIFT_DATA=/shared/callsift deploy/slurm/submit.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export SHARDS=${SHARDS:-8}
parallel=${PARALLEL:-$SHARDS}
export CALLSIFT_DATA=${CALLSIFT_DATA:-/shared/callsift}
export RECORDINGS=${RECORDINGS:-/shared/recordings}
export MODEL=${MODEL:-/shared/models/ggml-base.bin}
export PIPELINE=${PIPELINE:-/shared/callsift/pipeline.toml}

# The jobs run in the logs folder, so Slurm's output files land there.
logs="$CALLSIFT_DATA/logs"
mkdir -p "$logs"
# --parsable prints "jobid" or "jobid;cluster".
array=$(sbatch --parsable --export=ALL --chdir="$logs" \
  --array="0-$((SHARDS - 1))%$parallel" "$here/array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --chdir="$logs" \
  --dependency="afterok:$array" --kill-on-invalid-dep=yes "$here/merge.sbatch")
merge=${merge%%;*}
echo "callsift: shards job $array ($SHARDS tasks, $parallel at a time), merge job $merge after them"
echo "  squeue -j $array,$merge    sacct -j $array --format=JobID,State,ExitCode,Elapsed"
