// node-oidc-provider 9 as the reference of bench/token_endpoint.py: the client-credentials
// grant, the client authenticated by private_key_jwt (PS256 only), every token bound to the
// client's TLS certificate (RFC 8705 certificate-bound access tokens).
//
//   BENCH_PORT=8123 BENCH_ISSUER=http://127.0.0.1:8123 BENCH_CLIENTS='[{...metadata...}]' \
//     node bench/node_oidc/server.mjs
//
// TLS ends at a proxy in both deployments compared: the proxy forwards the verified client
// certificate as a URL-encoded PEM in X-SSL-Client-Cert (the bank's CLIENT_CERT_HEADER), and
// getCertificate reads it here, as aspsp.mtls does on the bank's side. Listens on 127.0.0.1
// only. Tokens are opaque and kept by the provider's default adapter (in memory); the client
// assertion's jti goes through its replay detection (the same adapter).
import Provider from 'oidc-provider';

const port = Number(process.env.BENCH_PORT || 8123);
const issuer = process.env.BENCH_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.BENCH_CLIENTS || '[]');
const certHeader = (process.env.BENCH_CERT_HEADER || 'x-ssl-client-cert').toLowerCase();

const provider = new Provider(issuer, {
  clients,
  scopes: ['accounts', 'payments'],
  clientAuthMethods: ['private_key_jwt'],
  clientAuthSigningAlgValues: ['PS256'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: false },
    revocation: { enabled: false },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      getCertificate(ctx) {
        const raw = ctx.get(certHeader);
        return raw ? decodeURIComponent(raw) : undefined;
      },
    },
  },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = true;

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
server.keepAliveTimeout = 75_000;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
