-- workload: the Deployment and the Service of a GraceService.
--
-- The pod runs under the Pod Security "restricted" profile (non-root,
-- read-only root filesystem, all capabilities dropped, seccomp
-- RuntimeDefault, no privilege escalation, no service account token) with
-- an emptyDir on /tmp. Only whitelisted spec fields reach the pod: image,
-- replicas, port, command, args, env (value or a secretKeyRef /
-- configMapKeyRef in the service's own namespace), envFrom and resources.
--
-- Platform environment (a user env entry with the same name wins):
--   GRACE_SERVICE, GRACE_NAMESPACE, GRACE_HOSTNAME, PORT
--   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
--     (when config.otlpEndpoint is set)
--   DATABASE_URL from Secret <name>-postgres key uri (when spec.postgres)
--   KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM,
--   KAFKA_USERNAME, KAFKA_GROUP_ID, and KAFKA_PASSWORD from the KafkaUser's
--   Secret (copied into this namespace by the operator) (when spec.kafka)
-- No secret value is ever written here: only references to Secrets.

local RUN_AS = 10001

local function copy_key_ref(ref)
  if ref == nil then return nil end
  return { name = ref.name, key = ref.key, optional = ref.optional }
end

-- Whitelisting copy of one user env entry.
local function user_env(e)
  local out = { name = e.name, value = e.value }
  local vf = e.valueFrom
  if vf ~= nil then
    out.valueFrom = {
      secretKeyRef = copy_key_ref(vf.secretKeyRef),
      configMapKeyRef = copy_key_ref(vf.configMapKeyRef),
    }
  end
  return out
end

local function user_env_from(e)
  local function ref(r)
    if r == nil then return nil end
    return { name = r.name, optional = r.optional }
  end
  return { prefix = e.prefix, secretRef = ref(e.secretRef), configMapRef = ref(e.configMapRef) }
end

local function resources(spec)
  local r = spec.resources
  if r == nil then return {} end
  return { requests = r.requests and json.copy(r.requests),
           limits = r.limits and json.copy(r.limits) }
end

local function secret_env(name, secret, key)
  return { name = name, valueFrom = { secretKeyRef = { name = secret, key = key } } }
end

local function platform_env(gs, config, port)
  local name, ns, spec = gs.metadata.name, gs.metadata.namespace, gs.spec
  local env = {
    { name = "GRACE_SERVICE", value = name },
    { name = "GRACE_NAMESPACE", value = ns },
    { name = "GRACE_HOSTNAME", value = grace.fqdn(gs, config) },
    { name = "PORT", value = tostring(port) },
  }
  local function add(e) env[#env + 1] = e end
  if config.otlpEndpoint ~= nil and config.otlpEndpoint ~= "" then
    add { name = "OTEL_EXPORTER_OTLP_ENDPOINT", value = config.otlpEndpoint }
    add { name = "OTEL_SERVICE_NAME", value = name }
    add { name = "OTEL_RESOURCE_ATTRIBUTES", value = "service.namespace=" .. ns }
  end
  if spec.postgres ~= nil then
    add(secret_env("DATABASE_URL", name .. "-postgres", "uri"))
  end
  if spec.kafka ~= nil then
    local user = grace.unique_name(ns, name) -- the KafkaUser (kafka.lua)
    add { name = "KAFKA_BOOTSTRAP_SERVERS", value = config.kafka.bootstrap }
    add { name = "KAFKA_SECURITY_PROTOCOL", value = config.kafka.securityProtocol }
    add { name = "KAFKA_SASL_MECHANISM", value = "SCRAM-SHA-512" }
    add { name = "KAFKA_USERNAME", value = user }
    add { name = "KAFKA_GROUP_ID", value = user }
    add(secret_env("KAFKA_PASSWORD", user, "password"))
  end
  return env
end

local function environment(gs, config, port)
  local env, taken = {}, {}
  for _, e in ipairs(gs.spec.env or {}) do taken[e.name] = true end
  for _, e in ipairs(platform_env(gs, config, port)) do
    if not taken[e.name] then env[#env + 1] = e end
  end
  for _, e in ipairs(gs.spec.env or {}) do env[#env + 1] = user_env(e) end
  return env
end

local function probe(path, period, delay)
  return {
    httpGet = { path = path, port = "http" },
    initialDelaySeconds = delay, periodSeconds = period,
    timeoutSeconds = 2, failureThreshold = 3,
  }
end

local function container(gs, config, port)
  local spec = gs.spec
  local health = spec.healthPath or "/healthz"
  local env_from = {}
  for _, e in ipairs(spec.envFrom or {}) do env_from[#env_from + 1] = user_env_from(e) end
  return {
    name = "app",
    image = spec.image,
    imagePullPolicy = "IfNotPresent",
    command = spec.command and json.copy(spec.command),
    args = spec.args and json.copy(spec.args),
    ports = { { name = "http", containerPort = port, protocol = "TCP" } },
    env = environment(gs, config, port),
    envFrom = (#env_from > 0) and env_from or nil,
    resources = resources(spec),
    readinessProbe = probe(health, 10, 2),
    livenessProbe = probe(health, 20, 10),
    securityContext = {
      runAsNonRoot = true,
      allowPrivilegeEscalation = false,
      readOnlyRootFilesystem = true,
      capabilities = { drop = { "ALL" } },
      seccompProfile = { type = "RuntimeDefault" },
    },
    volumeMounts = { { name = "tmp", mountPath = "/tmp" } },
  }
end

return function(gs, config)
  local name, spec = gs.metadata.name, gs.spec
  local port = spec.port or 8000
  local selector = grace.selector(gs)
  local pod_labels = grace.selector(gs)
  pod_labels["app.kubernetes.io/managed-by"] = "grace-operator"

  local deployment = {
    apiVersion = "apps/v1",
    kind = "Deployment",
    metadata = { name = name },
    spec = {
      replicas = spec.replicas or 1,
      revisionHistoryLimit = 3,
      -- No old pod goes before its replacement is Ready: a rollout that
      -- waits (e.g. for a renamed KafkaUser's Secret) keeps full capacity.
      strategy = {
        type = "RollingUpdate",
        rollingUpdate = { maxUnavailable = 0, maxSurge = "25%" },
      },
      selector = { matchLabels = selector },
      template = {
        metadata = { labels = pod_labels },
        spec = {
          automountServiceAccountToken = false,
          enableServiceLinks = false,
          securityContext = {
            runAsNonRoot = true,
            runAsUser = RUN_AS,
            runAsGroup = RUN_AS,
            fsGroup = RUN_AS,
            seccompProfile = { type = "RuntimeDefault" },
          },
          containers = { container(gs, config, port) },
          volumes = { { name = "tmp", emptyDir = { sizeLimit = "256Mi" } } },
        },
      },
    },
  }

  local service = {
    apiVersion = "v1",
    kind = "Service",
    metadata = {
      name = name,
      annotations = {
        ["grace.dev/openapi-path"] = spec.openapiPath or "/openapi.json",
        ["grace.dev/health-path"] = spec.healthPath or "/healthz",
      },
    },
    spec = {
      type = "ClusterIP",
      selector = grace.selector(gs),
      ports = { { name = "http", port = 80, targetPort = "http", protocol = "TCP" } },
    },
  }
  return { deployment, service }
end
