#!/usr/bin/env bash
# Stop the one-node Slurm of .ci/slurm-up.sh, in order: slurmd, slurmctld, slurmdbd, mariadbd, munged.
set -uo pipefail
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  pkill -x "$d" && for _ in $(seq 40); do pgrep -x "$d" >/dev/null || break; sleep 0.25; done
done
echo "slurm stopped"
