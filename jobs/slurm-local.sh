#!/usr/bin/env bash
# slurm-local.sh start|stop|status DIR: a private Slurm cluster on this machine, kept entirely in DIR (config,
# state, spool, logs, pid files), for the tests and for trying sweeps on a workstation: one node by default,
# or SLURM_LOCAL_NODES of them. Needs root (the daemons run as root, munged as the munge user) and the
# slurm-wlm and munge packages.
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
#   SLURM_LOCAL_NODES      nodes (default 1). With N > 1: nodes n1..nN, one slurmd each (`slurmd -N nK`) on a
#                          port of its own, all on 127.0.0.1 and this host's name, in one partition. Each
#                          slurmd runs in a mount namespace of its own with a private /tmp (DIR/nodes/nK/tmp
#                          bind-mounted there), because srun --mpi=pmix steps on two nodes that share one
#                          /tmp collide ("File exists"). Jobs then see only their node's /tmp, so DIR (and
#                          the jobs' files) must lie outside /tmp: a DIR under /tmp is refused.
#                          SLURM_LOCAL_CPUS is then per node.
# The ports are free ones found at start (slurmctld's, then one per slurmd), so a cluster left running
# elsewhere is never disturbed. Nothing outside DIR is changed: no network configuration, no /etc/hosts.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
die() { echo "slurm-local: $*" >&2; exit 1; }
[ -n "$dir" ] && [[ $cmd =~ ^(start|stop|status)$ ]] || die "usage: slurm-local.sh start|stop|status DIR"
nodes=${SLURM_LOCAL_NODES:-1}
[[ $nodes =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_NODES must be a positive integer, not '$nodes'"

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A port nothing listens on, with the next N free too (slurmctld, then the slurmd of each node).
free_ports() {
    local p tries k filter
    for tries in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        filter="sport = :$p"
        for k in $(seq 1 "$nodes"); do filter="$filter or sport = :$((p + k))"; done
        if [ -z "$(ss -Hltn "( $filter )" 2>/dev/null)" ]; then
            echo "$p"
            return
        fi
    done
    die "no $((nodes + 1)) free ports in a row found"
}

# The names of the nodes in DIR/slurm.conf, one a line.
node_names() { sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$dir/slurm.conf" 2>/dev/null || true; }
multi_node() { grep -q '^NodeName=.* NodeHostname=' "$dir/slurm.conf" 2>/dev/null; }

# The slurmd pid files (without DIR/, without .pid): slurmd (one node) or slurmd-nK (one per node).
slurmd_pids() {
    if multi_node; then node_names | sed 's/^/slurmd-/'; else echo slurmd; fi
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
    local what=single-node spool=$dir/spool slurmd_pid=$dir/slurmd.pid slurmd_log=$dir/log/slurmd.log k
    if [ "$nodes" -gt 1 ]; then
        what=$nodes-node spool=$dir/spool/%n slurmd_pid=$dir/slurmd-%n.pid slurmd_log=$dir/log/slurmd-%n.log
    fi
    cat >"$dir/slurm.conf" <<EOF
# Written by jobs/slurm-local.sh: a private $what cluster in $dir.
ClusterName=innerloop
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=cred_expire=${SLURM_LOCAL_REQUEUE_HOLD:-120}
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$slurmd_log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# what a site sets for its own MPI: Debian's Open MPI starts under srun through PMIx (pmi2 fails in MPI_Init)
MpiDefault=pmix
# job ids from a random start: a pmix step leaves /tmp/spmix_appdir_<uid>_<job>.<step> behind when it is
# killed, and a later cluster's job of the same id could not start its step
FirstJobId=$((1000 + RANDOM * 100))
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
EOF
    if [ "$nodes" -eq 1 ]; then
        cat >>"$dir/slurm.conf" <<EOF
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    else
        {
            echo "# $nodes nodes on this one host: a slurmd each (slurmd -N nK), told apart by their ports"
            for k in $(seq 1 "$nodes"); do
                echo "NodeName=n$k NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + k)) CPUs=$cpus State=UNKNOWN"
            done
            echo "PartitionName=debug Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP"
        } >>"$dir/slurm.conf"
    fi
    echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
}

# start_node NAME: the slurmd of node NAME of a multi-node cluster, in a mount namespace of its own whose
# /tmp is DIR/nodes/NAME/tmp. The bind mount is private to that namespace (its slurmd and the jobs it
# starts) and goes away with the namespace's last process. slurmd daemonizes; its pid file names it.
start_node() {
    local n=$1
    mkdir -p "$dir/nodes/$n/tmp" "$dir/spool/$n"
    chmod 1777 "$dir/nodes/$n/tmp"
    unshare -m --propagation private sh -c 'mount --bind "$1" /tmp && exec slurmd -N "$2" -f "$3"' \
        sh "$dir/nodes/$n/tmp" "$n" "$dir/slurm.conf"
}

start() {
    pid_alive "$dir/slurmctld.pid" && die "a cluster is already running in $dir"
    command -v slurmctld >/dev/null || die "slurmctld not found (install slurm-wlm)"
    if [ "$nodes" -gt 1 ]; then
        case $(realpath -m "$dir")/ in
        /tmp/*) die "$dir is under /tmp, which each of the $nodes nodes replaces with a private /tmp of its own (for srun --mpi=pmix), so the nodes could not see it: put the cluster elsewhere, e.g. under /var/tmp" ;;
        esac
        command -v unshare >/dev/null || die "unshare (util-linux) not found: each node needs a mount namespace of its own"
    fi
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    dir=$(cd "$dir" && pwd)
    start_munge
    local host n
    host=$(hostname -s)
    write_conf "$host" "$(free_ports)"
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -i || die "slurmctld failed: $(tail -3 "$dir/log/slurmctld.log" 2>/dev/null)"
    if [ "$nodes" -eq 1 ]; then
        slurmd || die "slurmd failed: $(tail -3 "$dir/log/slurmd.log" 2>/dev/null)"
    else
        for n in $(node_names); do
            start_node "$n" || { stop; die "the slurmd of node $n failed: $(tail -3 "$dir/log/slurmd-$n.log" 2>/dev/null)"; }
        done
    fi
    local i names idle
    names=$(node_names | paste -sd,)
    for i in $(seq 1 100); do
        idle=$(sinfo -h -N -n "$names" -t idle -o %N 2>/dev/null | sort -u | grep -c . || true)
        if [ "$idle" -eq "$nodes" ]; then
            if [ "$nodes" -gt 1 ]; then echo "slurm-local: up in $dir (nodes $names; source $dir/env)"
            else echo "slurm-local: up in $dir (source $dir/env)"; fi
            return
        fi
        sleep 0.3
    done
    stop
    die "node(s) $names did not all become idle; see $dir/log/"
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
    # every slurmd (a node's mount namespace, with its private /tmp, ends with its last process), then
    # slurmctld, then munged if we started it
    for d in $(slurmd_pids) slurmctld munged; do
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
    for d in slurmctld $(slurmd_pids) munged; do
        if pid_alive "$dir/$d.pid"; then echo "$d: running (pid $(cat "$dir/$d.pid"))"; else echo "$d: not running (by us)"; fi
    done
    [ -f "$dir/slurm.conf" ] && SLURM_CONF=$dir/slurm.conf sinfo 2>/dev/null || true
}

"$cmd"
