#!/usr/bin/env bash
# One night on Kubernetes (deploy/README.md, "Beyond one machine"): runs the
# shard Job, waits until it is Complete, then runs the merge Job and waits
# for it. Kubernetes has no dependencies between Jobs, so this script (from
# cron or a CI scheduler, with kubectl set to the right namespace) is the
# dependency. A Job's pod template cannot be changed, so last night's Jobs
# are deleted first; their pods' work is in the shard folders, not in them.
#   deploy/k8s/nightly.sh            # exit 0: merged; 1: a step failed
set -euo pipefail
cd "$(dirname "$0")"
shard_timeout=${SHARD_TIMEOUT:-9h}
merge_timeout=${MERGE_TIMEOUT:-2h}

# Waits for job/$1 to be Complete (exit 0) or Failed (exit 1).
wait_job() {
  local job=$1 timeout=$2
  kubectl wait --for=condition=complete --timeout="$timeout" "job/$job" >/dev/null &
  local done_pid=$!
  kubectl wait --for=condition=failed --timeout="$timeout" "job/$job" >/dev/null &
  local failed_pid=$!
  local rc=0
  wait -n "$done_pid" "$failed_pid" || rc=$?
  if kill -0 "$done_pid" 2>/dev/null; then rc=1; fi   # "failed" came first
  kill "$done_pid" "$failed_pid" 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    echo "nightly: job/$job did not complete:" >&2
    kubectl describe "job/$job" | tail -n 20 >&2
    return 1
  fi
}

kubectl delete job callsift-shards callsift-merge --ignore-not-found --wait=true
kubectl apply -f indexed-job.yaml
wait_job callsift-shards "$shard_timeout"
kubectl apply -f merge-job.yaml
wait_job callsift-merge "$merge_timeout"
echo "nightly: shards merged into /data/callsift/merged on callsift-data" >&2
