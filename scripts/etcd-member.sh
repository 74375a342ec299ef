# Sourced by the benchmark scripts: one etcd member on loopback, over TLS with the etcd
# certificates of a `kauth pki init` directory. The caller defines `work` (a scratch directory)
# and `pids` (an array of what to stop at the end).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_etcd() { # start_etcd PKI_DIR -> etcd_url, etcd_pid
  local pki=$1 client peer
  client=$(free_port); peer=$(free_port)
  rm -rf "$work/etcd"
  etcd --name m0 --data-dir "$work/etcd" \
    --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "m0=http://127.0.0.1:$peer" --max-txn-ops 10000 \
    --cert-file "$pki/etcd/server.crt" --key-file "$pki/etcd/server.key" \
    --trusted-ca-file "$pki/etcd/ca.crt" --client-cert-auth >"$work/etcd.log" 2>&1 &
  etcd_pid=$!
  pids+=("$etcd_pid")
  for _ in $(seq 100); do grep -q "ready to serve client requests" "$work/etcd.log" && break; sleep 0.1; done
  etcd_url="https://127.0.0.1:$client"
}
