-- certificate: a cert-manager Certificate for the service's FQDN, when both
-- spec.ingress and spec.tls are enabled (TLS only has a use on the route).
-- The Secret <name>-tls it produces is what the route serves. The issuer
-- comes from config.certificate.issuer. cert-manager's ingress-shim does not
-- handle IngressRoute, so the operator creates the Certificate itself for
-- both route kinds.

return function(gs, config)
  local spec = gs.spec
  if not grace.enabled(spec.ingress, true) or not grace.enabled(spec.tls, true) then
    return {}
  end
  local name = gs.metadata.name
  local issuer = config.certificate.issuer
  return { {
    apiVersion = "cert-manager.io/v1",
    kind = "Certificate",
    metadata = { name = name },
    spec = {
      secretName = name .. "-tls",
      dnsNames = { grace.fqdn(gs, config) },
      issuerRef = { name = issuer.name, kind = issuer.kind, group = issuer.group },
      privateKey = { algorithm = "ECDSA", size = 256, rotationPolicy = "Always" },
      secretTemplate = {
        labels = {
          ["grace.dev/service"] = name,
        },
      },
    },
  } }
end
