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
--                 NetworkPolicy and gets no rule (use an IP in the config).

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
  return { {
    apiVersion = "networking.k8s.io/v1",
    kind = "NetworkPolicy",
    metadata = { name = grace.name(gs.metadata.name, "egress") },
    spec = {
      podSelector = { matchLabels = grace.selector(gs) },
      policyTypes = { "Egress" },
      egress = rules,
    },
  } }
end
