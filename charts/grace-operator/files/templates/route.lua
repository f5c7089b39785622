-- route: the HTTPS route for https://<hostname>.<baseDomain>, behind Traefik.
--
-- config.route.kind selects a Traefik IngressRoute (traefik.io/v1alpha1, the
-- default) or a networking.k8s.io/v1 Ingress. The route serves the
-- Service <name> port 80 on config.route.entryPoint; TLS comes from the
-- Secret <name>-tls written by cert-manager (certificate.lua). With
-- spec.tls.enabled false the route still uses TLS, with Traefik's default
-- certificate.
--
-- When spec.tailscale is enabled and config.tailscale.mode is "shared", the
-- shared Traefik is on the tailnet: the route carries external-dns
-- annotations (one set per prefix in config.tailscale.externalDnsPrefixes)
-- so that the hostname resolves to config.tailscale.dnsTarget, DNS-only.

local function dns_annotations(gs, config, fqdn, ann)
  if not grace.enabled(gs.spec.tailscale, true) then return end
  if config.tailscale.mode ~= "shared" then return end
  for _, prefix in ipairs(config.tailscale.externalDnsPrefixes) do
    ann[prefix .. "hostname"] = fqdn
    ann[prefix .. "cloudflare-proxied"] = "false"
    if config.tailscale.dnsTarget ~= "" then
      ann[prefix .. "target"] = config.tailscale.dnsTarget
    end
  end
end

local function ingress_route(gs, config, fqdn, tls, ann)
  local name = gs.metadata.name
  return {
    apiVersion = "traefik.io/v1alpha1",
    kind = "IngressRoute",
    metadata = { name = name, annotations = ann },
    spec = {
      entryPoints = { config.route.entryPoint },
      routes = { {
        kind = "Rule",
        match = "Host(`" .. fqdn .. "`)",
        services = { { kind = "Service", name = name, port = 80 } },
      } },
      tls = tls and { secretName = name .. "-tls" } or {},
    },
  }
end

local function ingress(gs, config, fqdn, tls, ann)
  local name = gs.metadata.name
  ann["traefik.ingress.kubernetes.io/router.entrypoints"] = config.route.entryPoint
  ann["traefik.ingress.kubernetes.io/router.tls"] = "true"
  local class = config.route.ingressClassName
  return {
    apiVersion = "networking.k8s.io/v1",
    kind = "Ingress",
    metadata = { name = name, annotations = ann },
    spec = {
      ingressClassName = (class ~= "") and class or nil,
      tls = tls and { { hosts = { fqdn }, secretName = name .. "-tls" } } or nil,
      rules = { {
        host = fqdn,
        http = { paths = { {
          path = "/",
          pathType = "Prefix",
          backend = { service = { name = name, port = { number = 80 } } },
        } } },
      } },
    },
  }
end

return function(gs, config)
  if not grace.enabled(gs.spec.ingress, true) then return {} end
  local fqdn = grace.fqdn(gs, config)
  local tls = grace.enabled(gs.spec.tls, true)
  local ann = {}
  dns_annotations(gs, config, fqdn, ann)
  if config.route.kind == "Ingress" then
    return { ingress(gs, config, fqdn, tls, ann) }
  end
  return { ingress_route(gs, config, fqdn, tls, ann) }
end
