-- tailscale: reachability from the tailnet under the service's hostname.
--
-- config.tailscale.mode:
--   "shared"      the shared Traefik is already on the tailnet; the route
--                 carries the DNS annotations (route.lua). Nothing here.
--   "per-service" a Service <name>-tailnet of type LoadBalancer with
--                 loadBalancerClass tailscale: the Tailscale operator gives
--                 it its own tailnet device named <hostname> (HTTP, port 80).
--   "off"         nothing.

return function(gs, config)
  if not grace.enabled(gs.spec.tailscale, true) then return {} end
  if config.tailscale.mode ~= "per-service" then return {} end
  local ann = { ["tailscale.com/hostname"] = grace.hostname(gs) }
  if config.tailscale.tags ~= "" then ann["tailscale.com/tags"] = config.tailscale.tags end
  return { {
    apiVersion = "v1",
    kind = "Service",
    metadata = { name = grace.name(gs.metadata.name, "tailnet"), annotations = ann },
    spec = {
      type = "LoadBalancer",
      loadBalancerClass = "tailscale",
      selector = grace.selector(gs),
      ports = { { name = "http", port = 80, targetPort = "http", protocol = "TCP" } },
    },
  } }
end
