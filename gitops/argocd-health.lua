-- Argo CD health check for grace.dev/GraceService
-- (resource.customizations.health.grace.dev_GraceService in argocd-cm; see
-- gitops/README.md). Argo CD runs it with the live object in `obj` and reads
-- the returned {status, message}. Written for Argo CD's Lua 5.1 VM (no
-- goto, no integer division, no io/os); tests/gitops/test_health.lua runs it
-- under lua5.4 against sample statuses.
--
-- The operator's status follows the kstatus conventions:
--   status.observedGeneration   the generation the status was computed for;
--   Ready        aggregate of every concern (True: everything is ready);
--   Reconciling  True while the operator is still converging;
--   Stalled      True when it cannot progress without a change (a hostname or
--                topic conflict, a template error, a kind the cluster does
--                not serve, a child owned by someone else, an invalid name).
--
-- Healthy      Ready=True, computed for the current generation.
-- Progressing  no status yet (or only the CRD's default, observedGeneration
--              0), an older observedGeneration, Reconciling=True,
--              Ready not True for a reason that can still resolve, or being
--              deleted (the operator's finalizer is cleaning up).
-- Degraded     Stalled=True, or Ready=False with a terminal reason.

-- Ready reasons the operator only reports when nothing will change without
-- an edit (it sets Stalled=True with them too; listed so that a status
-- without Stalled is still judged right).
local terminal = {
  HostnameConflict = true,
  TopicConflict = true,
  TemplateError = true,
  KindNotServed = true,
  ChildConflict = true,
  InvalidName = true,
}

local function condition(status, ctype)
  if status == nil or type(status.conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if type(c) == "table" and c.type == ctype then
      return c
    end
  end
  return nil
end

local function describe(c, prefix)
  local text = prefix
  if c.reason ~= nil and c.reason ~= "" then
    text = text .. " (" .. c.reason .. ")"
  end
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local function health(o)
  local meta = o.metadata or {}
  local status = o.status
  local gen = meta.generation
  if meta.deletionTimestamp ~= nil then
    return "Progressing", "Deleting: grace-operator is cleaning up (finalizer grace.dev/cleanup)"
  end
  -- no status, or the CRD's default (observedGeneration 0) shown until the
  -- operator's first status write
  if status == nil or ((status.observedGeneration == nil or status.observedGeneration == 0) and
      status.conditions == nil) then
    return "Progressing", "Waiting for grace-operator to report status"
  end
  local observed = status.observedGeneration
  if gen ~= nil and (observed == nil or observed < gen) then
    return "Progressing", "Waiting for grace-operator to observe generation " .. tostring(gen) ..
      " (status is for generation " .. tostring(observed or "none") .. ")"
  end
  local stalled = condition(status, "Stalled")
  if stalled ~= nil and stalled.status == "True" then
    return "Degraded", describe(stalled, "Stalled")
  end
  local ready = condition(status, "Ready")
  if ready == nil then
    return "Progressing", "Waiting for the Ready condition"
  end
  if gen ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < gen then
    return "Progressing", "Waiting for grace-operator to observe generation " .. tostring(gen) ..
      " (Ready is for generation " .. tostring(ready.observedGeneration) .. ")"
  end
  if ready.status == "True" then
    local msg = "Ready"
    if status.url ~= nil and status.url ~= "" then
      msg = "Ready: " .. status.url
    elseif ready.message ~= nil and ready.message ~= "" then
      msg = "Ready: " .. ready.message
    end
    return "Healthy", msg
  end
  if ready.status == "False" and terminal[ready.reason or ""] then
    return "Degraded", describe(ready, "Not ready")
  end
  local reconciling = condition(status, "Reconciling")
  if reconciling ~= nil and reconciling.status == "True" then
    return "Progressing", describe(reconciling, "Reconciling")
  end
  return "Progressing", describe(ready, "Not ready yet")
end

local hs = {}
hs.status, hs.message = health(obj)
return hs
