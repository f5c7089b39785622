-- backup: a Velero Schedule in config.backup.namespace (Velero only acts on
-- Schedules in its own namespace) named grace.unique_name(namespace, name)
-- (<namespace>-<name>-<hash>: unique per GraceService in that shared
-- namespace, at most 63 characters), backing up the
-- objects labelled grace.dev/service=<name> in the service's namespace.
-- spec.backup.schedule / ttl override config.backup.defaultSchedule /
-- defaultTtl. No Schedule when config.backup.enabled is false or
-- spec.backup.enabled is false.

return function(gs, config)
  local b = gs.spec.backup
  if not config.backup.enabled then return {} end
  if b ~= nil and b.enabled == false then return {} end
  local name, ns = gs.metadata.name, gs.metadata.namespace
  return { {
    apiVersion = "velero.io/v1",
    kind = "Schedule",
    metadata = { name = grace.unique_name(ns, name), namespace = config.backup.namespace },
    spec = {
      schedule = (b and b.schedule) or config.backup.defaultSchedule,
      useOwnerReferencesInBackup = false,
      template = {
        includedNamespaces = { ns },
        labelSelector = { matchLabels = { ["grace.dev/service"] = name } },
        ttl = (b and b.ttl) or config.backup.defaultTtl,
        storageLocation = config.backup.storageLocation,
      },
    },
  } }
end
