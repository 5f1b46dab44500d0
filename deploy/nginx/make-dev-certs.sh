#!/usr/bin/env bash
# Local certificates for trying docker-compose.yml: a self-signed server certificate for
# localhost and a client CA with one client certificate signed by it (curl --cert/--key).
# Production uses real ones; the sandbox directory issues TPP certificates of its own.
#   make-dev-certs.sh [DIR]   writes into DIR (made if missing), by default deploy/nginx/certs
#                             (`make prod-local` keeps its own under its run directory).
set -euo pipefail
dir=${1:-"$(dirname "$0")/certs"}
mkdir -p "$dir"
cd "$dir"
days=365
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout server.key -out server.crt
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=Local TPP CA" \
    -keyout client-ca.key -out client-ca.pem
openssl req -newkey rsa:2048 -nodes -subj "/O=Local TPP/OU=0015800001041RHAAY/CN=local-tpp" \
    -keyout client.key -out client.csr
openssl x509 -req -in client.csr -CA client-ca.pem -CAkey client-ca.key -CAcreateserial \
    -days "$days" -out client.crt
rm -f client.csr
chmod 600 ./*.key
echo "made server.crt/key, client-ca.pem and client.crt/key in $(pwd)"
