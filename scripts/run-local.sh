#!/usr/bin/env bash
# Starts a local Cairn cluster: six objnode processes, each with its own data
# directory under ./data and its own port, and one objgw on 127.0.0.1:9000
# (EC 4+2). Ctrl-C stops all of it; running it again reuses ./data.
set -euo pipefail

bin=${BIN:-./bin}
data=${CAIRN_DATA:-./data}
nodes=${CAIRN_LOCAL_NODES:-6}
gw_addr=${CAIRN_GATEWAY_ADDR:-127.0.0.1:9000}
base_port=${CAIRN_NODE_BASE_PORT:-9101}
gossip_base=${CAIRN_GOSSIP_BASE_PORT:-9201}
gw_gossip=${CAIRN_GATEWAY_GOSSIP:-127.0.0.1:9200}
gw_admin=${CAIRN_GATEWAY_ADMIN:-127.0.0.1:9001}
admin_base=${CAIRN_NODE_ADMIN_BASE_PORT:-9301}
access=${CAIRN_ACCESS_KEY:-cairnadmin}
secret=${CAIRN_SECRET_KEY:-cairnadmin}
export CAIRN_ACCESS_KEY=$access CAIRN_SECRET_KEY=$secret

mkdir -p "$data/logs"

# Internode requests are signed with a cluster secret (HMAC, see
# docs/architecture.md "Security"). It is generated once and kept in
# $data/cluster-secret (mode 600) so a second run reuses it; it goes to the
# processes through the environment, not argv, and is never printed.
if [[ -z "${CAIRN_CLUSTER_SECRET:-}" ]]; then
	if [[ ! -s "$data/cluster-secret" ]]; then
		(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$data/cluster-secret")
	fi
	CAIRN_CLUSTER_SECRET=$(<"$data/cluster-secret")
fi
export CAIRN_CLUSTER_SECRET
# With CAIRN_TLS_CERT and CAIRN_TLS_KEY set, S3 and admin listeners serve HTTPS.
scheme=http
if [[ -n "${CAIRN_TLS_CERT:-}" ]]; then scheme=https; fi
pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping cluster..."
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "stopped."
}
trap stop INT TERM EXIT

# The layout names every node; gossip tells who is alive. Each process
# seeds from all the others, so start order does not matter.
spec="" seeds="$gw_gossip"
for i in $(seq 1 "$nodes"); do
	spec+="${spec:+,}n$i=127.0.0.1:$((base_port + i - 1))"
	seeds+=",127.0.0.1:$((gossip_base + i - 1))"
done
export CAIRN_GOSSIP_PROFILE=${CAIRN_GOSSIP_PROFILE:-local}
# The nodes share this machine's cores: each Go runtime gets its share (at
# least one) instead of sizing itself for the whole machine, unless
# GOMAXPROCS is set (benchmarks/local.go nodeProcs says why).
node_procs=${GOMAXPROCS:-$(($(nproc) / nodes))}
((node_procs >= 1)) || node_procs=1
for i in $(seq 1 "$nodes"); do
	port=$((base_port + i - 1))
	mkdir -p "$data/n$i"
	GOMAXPROCS=$node_procs "$bin/objnode" --id "n$i" --data "$data/n$i" --listen "127.0.0.1:$port" --nodes "$spec" \
		--admin "127.0.0.1:$((admin_base + i - 1))" \
		--gossip "127.0.0.1:$((gossip_base + i - 1))" --seeds "$seeds" >>"$data/logs/n$i.log" 2>&1 &
	pids+=($!)
done
"$bin/objgw" --listen "$gw_addr" --admin "$gw_admin" --nodes "$spec" --ec 4+2 --gossip "$gw_gossip" --seeds "$seeds" >>"$data/logs/gateway.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)

# Wait until the gateway answers (any HTTP status will do).
for _ in $(seq 1 100); do
	if (exec 3<>"/dev/tcp/${gw_addr%:*}/${gw_addr##*:}") 2>/dev/null; then break; fi
	if ! kill -0 "$gw_pid" 2>/dev/null; then echo "objgw failed to start; see $data/logs/gateway.log" >&2; exit 1; fi
	sleep 0.1
done

cat <<MSG
Cairn is running.

  S3 endpoint:  $scheme://$gw_addr
  admin:        $scheme://$gw_admin/metrics  /health/ready  /cluster (nodes: 127.0.0.1:$admin_base..)
  access key:   $access
  secret key:   $secret
  region:       us-east-1
  erasure code: 4+2 over $nodes nodes
  data:         $data (logs in $data/logs)
  internode:    requests signed with the cluster secret in $data/cluster-secret

  processes:
    objgw  pid $gw_pid  $gw_addr
MSG
for i in $(seq 1 "$nodes"); do
	printf '    objnode n%s  pid %s  127.0.0.1:%s  %s/n%s\n' "$i" "${pids[$((i - 1))]}" "$((base_port + i - 1))" "$data" "$i"
done
cat <<MSG

  try:  AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret aws --endpoint-url $scheme://$gw_addr s3 mb s3://demo
        CAIRN_ADMIN_ENDPOINT=$scheme://$gw_admin CAIRN_ACCESS_KEY=$access CAIRN_SECRET_KEY=$secret $bin/objctl status
  kill -9 a node's pid to watch reads carry on; Ctrl-C stops everything.
MSG
wait "$gw_pid"
