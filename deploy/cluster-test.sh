#!/usr/bin/env bash
# make cluster-test: build the images, start deploy/compose.yaml (six nodes
# in three zones, two gateways), run deploy.TestCluster against it, and
# tear everything down — containers, network, volumes — whatever happens.
# The cairn-objgw:dev and cairn-objnode:dev images stay cached.
set -euo pipefail
cd "$(dirname "$0")/.."

if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	echo "cluster-test: neither 'docker compose' nor docker-compose found" >&2
	exit 1
fi
project=${CAIRN_COMPOSE_PROJECT:-cairn-clustertest}
compose+=(-p "$project" -f "$PWD/deploy/compose.yaml")
export CAIRN_TAG=${CAIRN_TAG:-dev}
# One machine: detect a stopped container in about a second, not six.
export CAIRN_GOSSIP_PROFILE=${CAIRN_GOSSIP_PROFILE:-local}
# A fresh cluster secret per run: internode requests are signed with it.
export CAIRN_CLUSTER_SECRET=${CAIRN_CLUSTER_SECRET:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}

for role in objnode objgw; do
	if ! out=$(docker build -q -f deploy/Dockerfile --build-arg ROLE=$role -t "cairn-$role:$CAIRN_TAG" bin/ 2>&1); then
		echo "$out" >&2
		exit 1
	fi
	echo "cluster-test: built image cairn-$role:$CAIRN_TAG ($(docker image inspect -f '{{.Size}}' "cairn-$role:$CAIRN_TAG") bytes)"
done

down() {
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "cluster-test: FAILED; last log lines of every container:" >&2
		"${compose[@]}" logs --no-color --tail 15 >&2 || true
	fi
	"${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
	echo "cluster-test: cluster torn down (containers, network, volumes)"
	exit "$status"
}
trap down EXIT INT TERM

"${compose[@]}" up -d --quiet-pull 2>/dev/null || "${compose[@]}" up -d
echo "cluster-test: started $("${compose[@]}" ps -q | wc -l) containers"
CAIRN_CLUSTER_TEST=1 CAIRN_COMPOSE="${compose[*]}" \
	go test -count=1 -timeout 5m -run '^TestCluster$' ./deploy/ -v 2>&1 |
	grep -E '^(cluster-test|--- |FAIL|ok|PASS|\s+cluster_test)' 
exit "${PIPESTATUS[0]}"
