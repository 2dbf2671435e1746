# shellcheck shell=bash
# Certificates and kubeconfigs for the test cluster, made with openssl. Sourced
# by up.sh; everything goes to $STATE/pki and $STATE/kubeconfig and is reused
# while the cluster's state exists.

# ECDSA P-256: as accepted as RSA everywhere here, and generated in milliseconds.
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# issue_cert NAME CN ORG [SAN]: a client/server certificate signed by the cluster CA.
issue_cert() {
  local name=$1 cn=$2 org=$3 san=${4:-} pki=$STATE/pki
  [[ -s $pki/$name.crt ]] && return
  local subject="/CN=$cn"
  [[ -n $org ]] && subject="/O=$org/CN=$cn"
  new_key "$pki/$name.key"
  openssl req -new -key "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

# write_kubeconfig NAME CERT_NAME: a kubeconfig authenticating with pki/CERT_NAME.
write_kubeconfig() {
  local name=$1 cert=$2 pki=$STATE/pki
  cat >"$STATE/kubeconfig/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cordon-k8s
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 "$pki/$cert.crt")
    client-key-data: $(base64 -w0 "$pki/$cert.key")
contexts:
- name: cordon-k8s
  context:
    cluster: cordon-k8s
    user: $name
current-context: cordon-k8s
EOF
  chmod 600 "$STATE/kubeconfig/$name.kubeconfig"
}

make_pki() {
  local pki=$STATE/pki ip=$1
  mkdir -p "$pki" "$STATE/kubeconfig"
  chmod 700 "$pki"
  if [[ ! -s $pki/ca.crt ]]; then
    new_key "$pki/ca.key"
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=cordon-k8s-ca" -days 365 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$pki/ca.crt" 2>/dev/null
  fi
  if [[ ! -s $pki/service-account.key ]]; then
    new_key "$pki/service-account.key"
    openssl pkey -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
  fi
  issue_cert apiserver kube-apiserver "" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,IP:$ip"
  issue_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  issue_cert admin cordon-k8s-admin system:masters
  issue_cert controller-manager system:kube-controller-manager ""
  issue_cert scheduler system:kube-scheduler ""
  issue_cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,IP:$ip,IP:127.0.0.1"
  issue_cert kube-proxy system:kube-proxy ""
  # kube-router's firewall reads pods, namespaces, policies and nodes cluster-wide;
  # for a throwaway test cluster the admin group is the simplest correct grant.
  issue_cert kube-router cordon-k8s-kube-router system:masters
  local n
  for n in admin controller-manager scheduler kubelet kube-proxy kube-router; do
    write_kubeconfig "$n" "$n"
  done
}
