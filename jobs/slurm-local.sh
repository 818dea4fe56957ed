#!/usr/bin/env bash
# slurm-local.sh start|stop|status DIR: a private single-node Slurm cluster kept entirely in DIR (config,
# state, spool, logs, pid files), for the tests and for trying sweeps on a workstation. Needs root (the
# daemons run as root, munged as the munge user) and the slurm-wlm and munge packages.
#
#   jobs/slurm-local.sh start /tmp/slurm && source /tmp/slurm/env   # SLURM_CONF now points at it
#   sbatch ...; squeue; build/bin/il-sweep ...
#   jobs/slurm-local.sh stop /tmp/slurm                              # stops what start started, by PID
#
# Settings for start (environment):
#   SLURM_LOCAL_MAX_ARRAY  MaxArraySize (default 1001, Slurm's own)
#   SLURM_LOCAL_CPUS       CPUs the node offers (default: the larger of nproc and 4; more than the cores
#                          is allowed, so that two 2-rank runs can share a 2-core machine)
#   SLURM_LOCAL_REQUEUE_HOLD  seconds a requeued job waits before it may start again (cred_expire;
#                          default 120, Slurm's own)
# The ports are two free ones found at start, so a cluster left running elsewhere is never disturbed.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
die() { echo "slurm-local: $*" >&2; exit 1; }
[ -n "$dir" ] && [[ $cmd =~ ^(start|stop|status)$ ]] || die "usage: slurm-local.sh start|stop|status DIR"

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A port nothing listens on, with the next one free too (slurmctld, slurmd).
free_ports() {
    local p tries
    for tries in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if [ -z "$(ss -Hltn "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null)" ]; then
            echo "$p"
            return
        fi
    done
    die "no free port pair found"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

# munged is shared by every Slurm on the host: reuse a running one, and stop it later only if we started it.
start_munge() {
    munge_works && return
    [ "$(id -u)" = 0 ] || die "munged is not running and starting it needs root"
    mkdir -p /run/munge
    chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
    su -s /bin/sh munge -c munged
    local i
    for i in $(seq 1 50); do
        munge_works && break
        sleep 0.1
    done
    munge_works || die "munged did not come up"
    cp /run/munge/munged.pid "$dir/munged.pid"
}

write_conf() {
    local host=$1 port=$2
    local cpus=${SLURM_LOCAL_CPUS:-$(($(nproc) > 4 ? $(nproc) : 4))}
    cat >"$dir/slurm.conf" <<EOF
# Written by jobs/slurm-local.sh: a private single-node cluster in $dir.
ClusterName=innerloop
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=cred_expire=${SLURM_LOCAL_REQUEUE_HOLD:-120}
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# test jobs are short: look at the queue every second or two, not every 30 to 60 s
SchedulerParameters=bf_interval=1,sched_interval=2
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MaxArraySize=${SLURM_LOCAL_MAX_ARRAY:-1001}
ReturnToService=2
# the node may offer more CPUs than it has cores
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
}

start() {
    pid_alive "$dir/slurmctld.pid" && die "a cluster is already running in $dir"
    command -v slurmctld >/dev/null || die "slurmctld not found (install slurm-wlm)"
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    dir=$(cd "$dir" && pwd)
    start_munge
    local host
    host=$(hostname -s)
    write_conf "$host" "$(free_ports)"
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -i || die "slurmctld failed: $(tail -3 "$dir/log/slurmctld.log" 2>/dev/null)"
    slurmd || die "slurmd failed: $(tail -3 "$dir/log/slurmd.log" 2>/dev/null)"
    local i
    for i in $(seq 1 100); do
        [ "$(sinfo -h -n "$host" -o %t 2>/dev/null)" = idle ] && { echo "slurm-local: up in $dir (source $dir/env)"; return; }
        sleep 0.3
    done
    stop
    die "node $host did not become idle; see $dir/log/"
}

stop() {
    local d i
    # Jobs' step daemons outlive slurmd: cancel this cluster's jobs first, so no trainer is left running.
    if pid_alive "$dir/slurmctld.pid"; then
        export SLURM_CONF=$dir/slurm.conf
        scancel --user="$(id -un)" 2>/dev/null || true
        for i in $(seq 1 50); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    for d in slurmd slurmctld munged; do
        pid_alive "$dir/$d.pid" || continue
        local pid
        pid=$(cat "$dir/$d.pid")
        kill "$pid"
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    done
    rm -f "$dir/munged.pid"
    return 0
}

status() {
    local d
    for d in slurmctld slurmd munged; do
        if pid_alive "$dir/$d.pid"; then echo "$d: running (pid $(cat "$dir/$d.pid"))"; else echo "$d: not running (by us)"; fi
    done
    [ -f "$dir/slurm.conf" ] && SLURM_CONF=$dir/slurm.conf sinfo 2>/dev/null || true
}

"$cmd"
