-- kafka: Strimzi objects in config.kafka.namespace (the namespace the Topic
-- and User Operators watch), each labelled strimzi.io/cluster.
--
--   one KafkaTopic per owned topic (spec.kafka.topics). The resource name is
--   the topic name when that is a valid Kubernetes name, else a sanitised
--   name with a hash suffix, and spec.topicName carries the real name;
--   one KafkaUser grace.unique_name(namespace, name) (<namespace>-<name>-<hash>,
--   unique per GraceService in the shared Kafka namespace; also the Kafka
--   principal and the consumer group) (SCRAM-SHA-512) with simple ACLs:
--   Read+Describe on consumed topics and Read on the consumer group of the
--   same name, Write+Describe on produced topics.
--
-- The API version is config.kafka.apiVersion (the operator fills it from
-- discovery: kafka.strimzi.io/v1 on Strimzi >= 0.49, v1beta2 before).

local function topic_resource_name(topic)
  if #topic <= 253 and topic:match("^[a-z0-9][-a-z0-9.]*$") and topic:match("[a-z0-9]$") then
    return topic
  end
  local s = topic:lower():gsub("[^a-z0-9.-]", "-"):gsub("^[-.]+", ""):gsub("[-.]+$", "")
  if s == "" then s = "topic" end
  return grace.shorten(s, 200) .. "-" .. grace.hash8(topic)
end

local function topic(gs, config, t)
  local rname = topic_resource_name(t.name)
  local cfg = nil
  if t.config ~= nil then cfg = json.copy(t.config) end
  return {
    apiVersion = config.kafka.apiVersion,
    kind = "KafkaTopic",
    metadata = {
      name = rname,
      namespace = config.kafka.namespace,
      labels = { ["strimzi.io/cluster"] = config.kafka.cluster },
    },
    spec = {
      topicName = (rname ~= t.name) and t.name or nil,
      partitions = t.partitions,
      replicas = t.replicas,
      config = cfg,
    },
  }
end

local function acl(type, name, ops)
  return {
    resource = { type = type, name = name, patternType = "literal" },
    operations = ops,
    host = "*",
  }
end

local function user(gs, config, k)
  local uname = grace.unique_name(gs.metadata.namespace, gs.metadata.name)
  local acls = json.array()
  for _, t in ipairs(k.consumes or {}) do
    acls[#acls + 1] = acl("topic", t, { "Describe", "Read" })
  end
  if k.consumes ~= nil and #k.consumes > 0 then
    acls[#acls + 1] = acl("group", uname, { "Read" })
  end
  for _, t in ipairs(k.produces or {}) do
    acls[#acls + 1] = acl("topic", t, { "Describe", "Write" })
  end
  return {
    apiVersion = config.kafka.apiVersion,
    kind = "KafkaUser",
    metadata = {
      name = uname,
      namespace = config.kafka.namespace,
      labels = { ["strimzi.io/cluster"] = config.kafka.cluster },
    },
    spec = {
      authentication = { type = "scram-sha-512" },
      authorization = { type = "simple", acls = acls },
    },
  }
end

return function(gs, config)
  local k = gs.spec.kafka
  if k == nil then return {} end
  local out = {}
  for _, t in ipairs(k.topics or {}) do out[#out + 1] = topic(gs, config, t) end
  out[#out + 1] = user(gs, config, k)
  return out
end
