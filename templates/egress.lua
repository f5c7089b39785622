-- egress: a NetworkPolicy <name>-egress, only when spec.egress.restricted,
-- that lets the service's pods reach only:
--   DNS           pods config.egress.dns.podLabels in config.egress.dns.namespace,
--                 port 53 UDP and TCP;
--   the gateway   pods config.egress.gateway.podLabels in
--                 config.egress.gateway.namespace (Traefik by default: other
--                 services are reached through their HTTPS hostnames);
--   Kafka         any pod in config.kafka.namespace (when spec.kafka);
--   PostgreSQL    config.postgres.host on config.postgres.port (when
--                 spec.postgres): an IP literal becomes an ipBlock, an
--                 in-cluster name <svc>.<namespace>.svc[...] becomes that
--                 namespace; any other DNS name cannot be expressed in a
--                 NetworkPolicy and gets no rule (use an IP in the config);
--   the collector config.otlpEndpoint's host on its port (default 80 for
--                 http, 443 for https), by the same rule as PostgreSQL, so
--                 the service's traces are not dropped where egress is
--                 locked down.
-- The policy selects every pod of the service (grace.dev/service): the
-- workload's and its migration Jobs'.

local function ns_peer(ns, pod_labels)
  local peer = {
    namespaceSelector = { matchLabels = { ["kubernetes.io/metadata.name"] = ns } },
  }
  if pod_labels ~= nil and next(json.copy(pod_labels)) ~= nil then
    peer.podSelector = { matchLabels = json.copy(pod_labels) }
  end
  return peer
end

local function postgres_peer(host)
  if host:match("^%d+%.%d+%.%d+%.%d+$") then
    return { ipBlock = { cidr = host .. "/32" } }
  end
  if host:find(":", 1, true) then
    return { ipBlock = { cidr = host .. "/128" } }
  end
  local ns = host:match("^[^.]+%.([^.]+)%.svc$") or host:match("^[^.]+%.([^.]+)%.svc%.")
  if ns then return ns_peer(ns, nil) end
  return nil
end

-- host and port of an http(s):// URL: "http://[::1]:4318/x" -> "::1", 4318.
local function url_host_port(url)
  local scheme, rest = url:match("^(https?)://([^/?#]*)")
  if not scheme or rest == "" then return nil end
  rest = rest:gsub("^.*@", "")
  local host, port = rest:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then
    host, port = rest:match("^([^:]+):?(%d*)$")
  end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return host, port
end

return function(gs, config)
  local e = gs.spec.egress
  if e == nil or not e.restricted then return {} end
  local eg = config.egress
  local rules = {
    {
      to = { ns_peer(eg.dns.namespace, eg.dns.podLabels) },
      ports = { { protocol = "UDP", port = 53 }, { protocol = "TCP", port = 53 } },
    },
    { to = { ns_peer(eg.gateway.namespace, eg.gateway.podLabels) } },
  }
  if gs.spec.kafka ~= nil then
    rules[#rules + 1] = { to = { ns_peer(config.kafka.namespace, nil) } }
  end
  if gs.spec.postgres ~= nil then
    local peer = postgres_peer(config.postgres.host)
    if peer then
      rules[#rules + 1] = { to = { peer }, ports = { { protocol = "TCP", port = config.postgres.port } } }
    end
  end
  if config.otlpEndpoint ~= nil and config.otlpEndpoint ~= "" then
    local host, port = url_host_port(config.otlpEndpoint)
    local peer = host and postgres_peer(host)
    if peer then
      rules[#rules + 1] = { to = { peer }, ports = { { protocol = "TCP", port = port } } }
    end
  end
  return { {
    apiVersion = "networking.k8s.io/v1",
    kind = "NetworkPolicy",
    metadata = { name = grace.name(gs.metadata.name, "egress") },
    spec = {
      podSelector = { matchLabels = { ["grace.dev/service"] = grace.selector(gs)["grace.dev/service"] } },
      policyTypes = { "Egress" },
      egress = rules,
    },
  } }
end
