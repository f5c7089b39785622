-- tests/gitops/test_health.lua: runs gitops/argocd-health.lua (the Argo CD
-- health check for GraceService) against sample GraceService objects, the
-- way Argo CD does (the object in the global `obj`, no io/os), and checks
-- the status and message it returns. Prints one line per case; exits 1 on
-- any mismatch.
--
--   lua5.4 tests/gitops/test_health.lua [path/to/health.lua]
--   lua5.1 tests/gitops/test_health.lua     (also runs under Lua 5.1, the
--                                            dialect of Argo CD's gopher-lua)
--
-- The script path defaults to gitops/argocd-health.lua next to this file's
-- repository root (or $HEALTH_SCRIPT).

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "."
local script = arg[1] or os.getenv("HEALTH_SCRIPT") or (here .. "/../../gitops/argocd-health.lua")

local f = assert(io.open(script, "r"), "cannot open " .. script)
local source = f:read("*a")
f:close()

-- A condition as the operator writes it (metav1.Condition).
local function cond(ctype, status, reason, message, gen)
  return { type = ctype, status = status, reason = reason, message = message or "",
           observedGeneration = gen, lastTransitionTime = "2026-11-28T13:00:00Z" }
end

local function gs(generation, status, extra_meta)
  local meta = { name = "peeps", namespace = "grace", generation = generation }
  for k, v in pairs(extra_meta or {}) do meta[k] = v end
  return { apiVersion = "grace.dev/v1alpha1", kind = "GraceService", metadata = meta,
           spec = { image = "ghcr.io/example/peeps:1.4.2" }, status = status }
end

local ready_status = {
  observedGeneration = 3,
  hostname = "peeps.grace.example.com",
  url = "https://peeps.grace.example.com",
  conditions = {
    cond("Ready", "True", "AllComponentsReady", "all components are ready", 3),
    cond("Reconciling", "False", "Idle", "", 3),
    cond("Stalled", "False", "Idle", "", 3),
    cond("WorkloadReady", "True", "DeploymentAvailable", "Deployment peeps is available", 3),
  },
}

local cases = {
  {
    name = "ready",
    obj = gs(3, ready_status),
    want = "Healthy", msg = "https://peeps.grace.example.com",
  },
  {
    name = "progressing (Reconciling=True, rollout not available yet)",
    obj = gs(2, { observedGeneration = 2, conditions = {
      cond("Ready", "False", "DeploymentUnavailable", "WorkloadReady: Deployment peeps is not Available", 2),
      cond("Reconciling", "True", "Progressing", "WorkloadReady: Deployment peeps is not Available", 2),
      cond("Stalled", "False", "Idle", "", 2),
    } }),
    want = "Progressing", msg = "Deployment peeps is not Available",
  },
  {
    name = "degraded (Stalled=True: hostname conflict)",
    obj = gs(1, { observedGeneration = 1, conditions = {
      cond("Ready", "False", "HostnameConflict",
           "RouteReady: hostname peeps is already claimed by the older GraceService grace/old", 1),
      cond("Reconciling", "False", "Idle", "", 1),
      cond("Stalled", "True", "HostnameConflict",
           "hostname peeps is already claimed by the older GraceService grace/old", 1),
    } }),
    want = "Degraded", msg = "HostnameConflict",
  },
  {
    name = "degraded (Stalled=True: template error)",
    obj = gs(5, { observedGeneration = 5, conditions = {
      cond("Ready", "False", "TemplateError", "templates/workload.lua:42: attempt to index a nil value", 5),
      cond("Stalled", "True", "TemplateError", "templates/workload.lua:42: attempt to index a nil value", 5),
    } }),
    want = "Degraded", msg = "workload.lua:42",
  },
  {
    name = "degraded (Ready=False with a terminal reason, no Stalled condition)",
    obj = gs(1, { observedGeneration = 1, conditions = {
      cond("Ready", "False", "TopicConflict", "KafkaReady: topic peeps.updated is already owned", 1),
    } }),
    want = "Degraded", msg = "TopicConflict",
  },
  {
    name = "old observedGeneration (spec edited, status still Ready for the old one)",
    obj = gs(4, ready_status),
    want = "Progressing", msg = "generation 4 (status is for generation 3)",
  },
  {
    name = "old observedGeneration hides an old Stalled",
    obj = gs(2, { observedGeneration = 1, conditions = {
      cond("Ready", "False", "HostnameConflict", "taken", 1),
      cond("Stalled", "True", "HostnameConflict", "taken", 1),
    } }),
    want = "Progressing", msg = "generation 2",
  },
  {
    name = "Ready computed for an older generation",
    obj = gs(3, { observedGeneration = 3, conditions = {
      cond("Ready", "True", "AllComponentsReady", "all components are ready", 2),
    } }),
    want = "Progressing", msg = "Ready is for generation 2",
  },
  {
    name = "no status (the operator has not seen it yet)",
    obj = gs(1, nil),
    want = "Progressing", msg = "Waiting for grace-operator to report status",
  },
  {
    name = "the CRD's default status (observedGeneration 0: the operator has not written one yet)",
    obj = gs(1, { observedGeneration = 0 }),
    want = "Progressing", msg = "Waiting for grace-operator to report status",
  },
  {
    name = "empty status",
    obj = gs(1, {}),
    want = "Progressing", msg = "Waiting for grace-operator to report status",
  },
  {
    name = "observedGeneration but no conditions",
    obj = gs(1, { observedGeneration = 1 }),
    want = "Progressing", msg = "Waiting for the Ready condition",
  },
  {
    name = "Ready=False, transient reason, no Reconciling condition",
    obj = gs(1, { observedGeneration = 1, conditions = {
      cond("Ready", "False", "ConnectionFailed", "DatabaseReady: cannot reach PostgreSQL", 1),
    } }),
    want = "Progressing", msg = "ConnectionFailed",
  },
  {
    name = "being deleted",
    obj = gs(3, ready_status, { deletionTimestamp = "2026-11-28T13:05:00Z" }),
    want = "Progressing", msg = "Deleting",
  },
  {
    name = "numbers as floats (as a JSON decoder may give them)",
    obj = gs(3.0, { observedGeneration = 3.0, url = "https://x", conditions = {
      cond("Ready", "True", "AllComponentsReady", "", 3.0),
    } }),
    want = "Healthy", msg = "https://x",
  },
}

-- Run the script like Argo CD: a fresh environment with the object in `obj`
-- and only the base, string, table and math libraries.
local function run(o)
  local env = { obj = o, ipairs = ipairs, pairs = pairs, type = type, tostring = tostring,
                tonumber = tonumber, next = next, select = select, error = error,
                pcall = pcall, string = string, table = table, math = math }
  local chunk, err
  if setfenv then -- Lua 5.1 (Argo CD's gopher-lua speaks 5.1)
    chunk, err = loadstring(source, "=" .. script)
    if chunk then setfenv(chunk, env) end
  else
    chunk, err = load(source, "=" .. script, "t", env)
  end
  if not chunk then return nil, "load: " .. err end
  local ok, hs = pcall(chunk)
  if not ok then return nil, "runtime error: " .. tostring(hs) end
  if type(hs) ~= "table" then return nil, "returned " .. type(hs) .. ", not a table" end
  return hs
end

local failed = 0
for _, c in ipairs(cases) do
  local hs, err = run(c.obj)
  local line
  if not hs then
    line = string.format("FAIL  %-70s %s", c.name, err)
    failed = failed + 1
  elseif hs.status ~= c.want or type(hs.message) ~= "string" or
         not hs.message:find(c.msg, 1, true) then
    line = string.format("FAIL  %-70s got %s %q, want %s with %q", c.name,
                         tostring(hs.status), tostring(hs.message), c.want, c.msg)
    failed = failed + 1
  else
    line = string.format("ok    %-70s %s: %s", c.name, hs.status, hs.message)
  end
  print(line)
end
print(string.format("%d cases, %d failed", #cases, failed))
os.exit(failed == 0 and 0 or 1)
