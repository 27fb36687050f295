#!/usr/bin/env bash
# moto's server on 127.0.0.1, the AWS stand-in for clowdr's AWS tests, with signature checking on: installs moto
# 5.2.5 into a venv when missing (.build-moto, about 40 s and 300 MB once), starts it, creates an IAM user with an
# access key allowed everything, then makes moto check every request's SigV4 signature. Writes that key to
# $MOTO_STATE/credentials (KEY SECRET) and the endpoint to $MOTO_STATE/endpoint. Stop it with teardown.sh (by PID
# file). Rerunnable: it stops what an earlier run started first.
#
#   MOTO_PORT=5123                 the port on 127.0.0.1
#   MOTO_STATE=/tmp/clowdr-moto    PID file, log, credentials, endpoint
#   MOTO_BATCH=simple|podman       simple: Batch jobs succeed at once and run nothing (the API's shapes);
#                                  podman: they run as real containers through podman's Docker API, on the host's
#                                  network so that a task inside reaches moto (make test starts one of each)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MOTO_VENV:-$here/../../.build-moto}"
port="${MOTO_PORT:-5123}"
state="${MOTO_STATE:-/tmp/clowdr-moto}"
mode="${MOTO_BATCH:-simple}"
url="http://127.0.0.1:$port"

if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto 5.2.5 into $venv (pip: the AWS stand-in the AWS tests run against)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'moto[server]==5.2.5' boto3
fi
MOTO_STATE="$state" "$here/teardown.sh" >/dev/null 2>&1 || true
mkdir -p "$state"
docker=()
if [ "$mode" = podman ]; then
  command -v podman >/dev/null || { echo "podman is not installed (make containers installs it)" >&2; exit 1; }
  export CONTAINERS_CONF="$here/../containers/containers.conf"
  nohup podman system service --time=0 "unix://$state/podman.sock" > "$state/podman.log" 2>&1 &
  echo $! > "$state/podman.pid"
  for _ in $(seq 100); do curl -sf --unix-socket "$state/podman.sock" http://d/_ping >/dev/null && break; sleep 0.1; done
  docker=(DOCKER_HOST="unix://$state/podman.sock" MOTO_DOCKER_NETWORK_MODE=host)
fi
env "${docker[@]}" MOTO_IAM_LOAD_MANAGED_POLICIES=true nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$state/moto.log" 2>&1 &
echo $! > "$state/moto.pid"
for _ in $(seq 100); do curl -sf "$url/moto-api/config" >/dev/null && break; sleep 0.1; done
curl -sf "$url/moto-api/config" >/dev/null || { echo "moto did not start: $state/moto.log" >&2; exit 1; }
if [ "$mode" = simple ]; then
  curl -sf -X POST -H 'Content-Type: application/json' -d '{"batch": {"use_docker": false}}' "$url/moto-api/config" >/dev/null
fi
# A user allowed everything, and its key; then every request must be signed with a key moto knows.
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" - "$url" > "$state/credentials.tmp" <<'PY'
import sys, json, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1])
iam.create_user(UserName="clowdr-tests")
iam.put_user_policy(UserName="clowdr-tests", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="clowdr-tests")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
mv "$state/credentials.tmp" "$state/credentials"
curl -sf -X POST -H 'Content-Type: text/plain' --data 0 "$url/moto-api/reset-auth" >/dev/null
echo "$url" > "$state/endpoint"
echo "moto on $url (pid $(cat "$state/moto.pid"), Batch $mode), signatures checked; key in $state/credentials"
