"""Shared test fixtures: the GraceService v1alpha1 schema (as in the
project's CRD) and helpers to import the kubesim modules."""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GS_SCHEMA = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["image"],
            "x-kubernetes-validations": [{
                "rule": "!has(self.tls) || !self.tls.enabled || !has(self.ingress) || self.ingress.enabled",
                "message": "tls.enabled requires ingress.enabled"}],
            "properties": {
                "image": {"type": "string", "minLength": 1},
                "replicas": {"type": "integer", "format": "int32", "minimum": 0, "default": 1},
                "port": {"type": "integer", "format": "int32", "minimum": 1,
                         "maximum": 65535, "default": 8000},
                "hostname": {
                    "type": "string", "maxLength": 63,
                    "x-kubernetes-validations": [{
                        "rule": "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
                        "messageExpression": "'hostname ' + self + ' is not a DNS label'"}]},
                "ingress": {"type": "object",
                            "properties": {"enabled": {"type": "boolean", "default": True}}},
                "tls": {"type": "object",
                        "properties": {"enabled": {"type": "boolean", "default": True}}},
                "postgres": {
                    "type": "object",
                    "properties": {
                        "database": {"type": "string"},
                        "deletionPolicy": {"type": "string", "enum": ["Retain", "Delete"],
                                           "default": "Retain"}}},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "observedGeneration": {"type": "integer", "format": "int64"},
                "url": {"type": "string"},
                "hostname": {"type": "string"},
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {
                        "type": "object",
                        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
                        "properties": {
                            "type": {"type": "string", "maxLength": 316},
                            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                            "observedGeneration": {"type": "integer", "format": "int64",
                                                   "minimum": 0},
                            "lastTransitionTime": {"type": "string", "format": "date-time"},
                            "reason": {"type": "string", "maxLength": 1024, "minLength": 1},
                            "message": {"type": "string", "maxLength": 32768},
                        },
                    },
                },
            },
        },
    },
}

NIL_CAUSE = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: \"null\": some validation rules were not checked because the "
               "object was invalid; correct the existing errors to complete validation",
    "field": "<nil>",
}


def gs(name="v", **spec):
    """A GraceService object with the given spec fields."""
    return {"apiVersion": "grace.dev/v1alpha1", "kind": "GraceService",
            "metadata": {"name": name}, "spec": copy.deepcopy(spec)}
