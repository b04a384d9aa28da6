"""Merge keys, list types and patch strategies of the built-in kinds (GENERATED, do not edit).

Derived from the Kubernetes v1.31.0 OpenAPI definitions by
tests/sandbox/apiserver/data/libs/derive_builtin_schema.py. Only types and fields that carry a
list type, map type or patch strategy (or lead to one) are kept: everything else merges as a
plain map or is replaced as an atomic list, which is the default for both strategic merge patch
and server-side apply.

FIELDS[type][field] = (container, child_type, list_type, list_map_keys, patch_strategy,
                       patch_merge_key, map_type); container is object | list | map.
"""

from typing import Final

FieldInfo = tuple[str, str, str, tuple[str, ...], str, str, str]

KIND_TYPES: Final[dict[str, str]] = {
    "apiextensions.k8s.io/v1/CustomResourceDefinition": "apiextensions.v1.CustomResourceDefinition",
    "apps/v1/ControllerRevision": "apps.v1.ControllerRevision",
    "apps/v1/DaemonSet": "apps.v1.DaemonSet",
    "apps/v1/Deployment": "apps.v1.Deployment",
    "apps/v1/ReplicaSet": "apps.v1.ReplicaSet",
    "apps/v1/StatefulSet": "apps.v1.StatefulSet",
    "autoscaling/v1/HorizontalPodAutoscaler": "autoscaling.v1.HorizontalPodAutoscaler",
    "autoscaling/v1/Scale": "autoscaling.v1.Scale",
    "autoscaling/v2/HorizontalPodAutoscaler": "autoscaling.v2.HorizontalPodAutoscaler",
    "batch/v1/CronJob": "batch.v1.CronJob",
    "batch/v1/Job": "batch.v1.Job",
    "coordination.k8s.io/v1/Lease": "coordination.v1.Lease",
    "coordination.k8s.io/v1alpha1/LeaseCandidate": "coordination.v1alpha1.LeaseCandidate",
    "discovery.k8s.io/v1/EndpointSlice": "discovery.v1.EndpointSlice",
    "events.k8s.io/v1/Event": "events.v1.Event",
    "networking.k8s.io/v1/Ingress": "networking.v1.Ingress",
    "networking.k8s.io/v1/IngressClass": "networking.v1.IngressClass",
    "networking.k8s.io/v1/NetworkPolicy": "networking.v1.NetworkPolicy",
    "networking.k8s.io/v1beta1/IPAddress": "networking.v1beta1.IPAddress",
    "networking.k8s.io/v1beta1/ServiceCIDR": "networking.v1beta1.ServiceCIDR",
    "policy/v1/Eviction": "policy.v1.Eviction",
    "policy/v1/PodDisruptionBudget": "policy.v1.PodDisruptionBudget",
    "rbac.authorization.k8s.io/v1/ClusterRole": "rbac.v1.ClusterRole",
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": "rbac.v1.ClusterRoleBinding",
    "rbac.authorization.k8s.io/v1/Role": "rbac.v1.Role",
    "rbac.authorization.k8s.io/v1/RoleBinding": "rbac.v1.RoleBinding",
    "v1/Binding": "core.v1.Binding",
    "v1/ComponentStatus": "core.v1.ComponentStatus",
    "v1/ConfigMap": "core.v1.ConfigMap",
    "v1/Endpoints": "core.v1.Endpoints",
    "v1/Event": "core.v1.Event",
    "v1/LimitRange": "core.v1.LimitRange",
    "v1/Namespace": "core.v1.Namespace",
    "v1/Node": "core.v1.Node",
    "v1/PersistentVolume": "core.v1.PersistentVolume",
    "v1/PersistentVolumeClaim": "core.v1.PersistentVolumeClaim",
    "v1/Pod": "core.v1.Pod",
    "v1/PodTemplate": "core.v1.PodTemplate",
    "v1/ReplicationController": "core.v1.ReplicationController",
    "v1/ResourceQuota": "core.v1.ResourceQuota",
    "v1/Secret": "core.v1.Secret",
    "v1/Service": "core.v1.Service",
    "v1/ServiceAccount": "core.v1.ServiceAccount",
    "v1/Status": "meta.v1.Status",
}

FIELDS: Final[dict[str, dict[str, FieldInfo]]] = {
    "apiextensions.v1.CustomResourceConversion": {
        "webhook": ("object", "apiextensions.v1.WebhookConversion", "", (), "", "", "")
    },
    "apiextensions.v1.CustomResourceDefinition": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "apiextensions.v1.CustomResourceDefinitionSpec", "", (), "", "", ""),
        "status": ("object", "apiextensions.v1.CustomResourceDefinitionStatus", "", (), "", "", ""),
    },
    "apiextensions.v1.CustomResourceDefinitionNames": {
        "categories": ("list", "", "atomic", (), "", "", ""),
        "shortNames": ("list", "", "atomic", (), "", "", ""),
    },
    "apiextensions.v1.CustomResourceDefinitionSpec": {
        "conversion": ("object", "apiextensions.v1.CustomResourceConversion", "", (), "", "", ""),
        "names": ("object", "apiextensions.v1.CustomResourceDefinitionNames", "", (), "", "", ""),
        "versions": ("list", "apiextensions.v1.CustomResourceDefinitionVersion", "atomic", (), "", "", ""),
    },
    "apiextensions.v1.CustomResourceDefinitionStatus": {
        "acceptedNames": ("object", "apiextensions.v1.CustomResourceDefinitionNames", "", (), "", "", ""),
        "conditions": ("list", "", "map", ("type",), "", "", ""),
        "storedVersions": ("list", "", "atomic", (), "", "", ""),
    },
    "apiextensions.v1.CustomResourceDefinitionVersion": {
        "additionalPrinterColumns": ("list", "", "atomic", (), "", "", ""),
        "schema": ("object", "apiextensions.v1.CustomResourceValidation", "", (), "", "", ""),
        "selectableFields": ("list", "", "atomic", (), "", "", ""),
    },
    "apiextensions.v1.CustomResourceValidation": {
        "openAPIV3Schema": ("object", "apiextensions.v1.JSONSchemaProps", "", (), "", "", "")
    },
    "apiextensions.v1.JSONSchemaProps": {
        "allOf": ("list", "apiextensions.v1.JSONSchemaProps", "atomic", (), "", "", ""),
        "anyOf": ("list", "apiextensions.v1.JSONSchemaProps", "atomic", (), "", "", ""),
        "definitions": ("map", "apiextensions.v1.JSONSchemaProps", "", (), "", "", ""),
        "enum": ("list", "", "atomic", (), "", "", ""),
        "not": ("object", "apiextensions.v1.JSONSchemaProps", "", (), "", "", ""),
        "oneOf": ("list", "apiextensions.v1.JSONSchemaProps", "atomic", (), "", "", ""),
        "patternProperties": ("map", "apiextensions.v1.JSONSchemaProps", "", (), "", "", ""),
        "properties": ("map", "apiextensions.v1.JSONSchemaProps", "", (), "", "", ""),
        "required": ("list", "", "atomic", (), "", "", ""),
        "x-kubernetes-list-map-keys": ("list", "", "atomic", (), "", "", ""),
        "x-kubernetes-validations": ("list", "", "map", ("rule",), "merge", "rule", ""),
    },
    "apiextensions.v1.WebhookConversion": {
        "conversionReviewVersions": ("list", "", "atomic", (), "", "", "")
    },
    "apps.v1.ControllerRevision": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "apps.v1.DaemonSet": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "apps.v1.DaemonSetSpec", "", (), "", "", ""),
        "status": ("object", "apps.v1.DaemonSetStatus", "", (), "", "", ""),
    },
    "apps.v1.DaemonSetSpec": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "apps.v1.DaemonSetStatus": {"conditions": ("list", "", "map", ("type",), "merge", "type", "")},
    "apps.v1.Deployment": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "apps.v1.DeploymentSpec", "", (), "", "", ""),
        "status": ("object", "apps.v1.DeploymentStatus", "", (), "", "", ""),
    },
    "apps.v1.DeploymentSpec": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "strategy": ("object", "", "", (), "retainKeys", "", ""),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "apps.v1.DeploymentStatus": {"conditions": ("list", "", "map", ("type",), "merge", "type", "")},
    "apps.v1.ReplicaSet": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "apps.v1.ReplicaSetSpec", "", (), "", "", ""),
        "status": ("object", "apps.v1.ReplicaSetStatus", "", (), "", "", ""),
    },
    "apps.v1.ReplicaSetSpec": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "apps.v1.ReplicaSetStatus": {"conditions": ("list", "", "map", ("type",), "merge", "type", "")},
    "apps.v1.StatefulSet": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "apps.v1.StatefulSetSpec", "", (), "", "", ""),
        "status": ("object", "apps.v1.StatefulSetStatus", "", (), "", "", ""),
    },
    "apps.v1.StatefulSetSpec": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
        "volumeClaimTemplates": ("list", "core.v1.PersistentVolumeClaim", "atomic", (), "", "", ""),
    },
    "apps.v1.StatefulSetStatus": {"conditions": ("list", "", "map", ("type",), "merge", "type", "")},
    "autoscaling.v1.HorizontalPodAutoscaler": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "autoscaling.v1.HorizontalPodAutoscalerSpec", "", (), "", "", ""),
    },
    "autoscaling.v1.HorizontalPodAutoscalerSpec": {
        "scaleTargetRef": ("object", "", "", (), "", "", "atomic")
    },
    "autoscaling.v1.Scale": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "autoscaling.v2.ExternalMetricSource": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "autoscaling.v2.ExternalMetricStatus": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "autoscaling.v2.HPAScalingRules": {"policies": ("list", "", "atomic", (), "", "", "")},
    "autoscaling.v2.HorizontalPodAutoscaler": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "autoscaling.v2.HorizontalPodAutoscalerSpec", "", (), "", "", ""),
        "status": ("object", "autoscaling.v2.HorizontalPodAutoscalerStatus", "", (), "", "", ""),
    },
    "autoscaling.v2.HorizontalPodAutoscalerBehavior": {
        "scaleDown": ("object", "autoscaling.v2.HPAScalingRules", "", (), "", "", ""),
        "scaleUp": ("object", "autoscaling.v2.HPAScalingRules", "", (), "", "", ""),
    },
    "autoscaling.v2.HorizontalPodAutoscalerSpec": {
        "behavior": ("object", "autoscaling.v2.HorizontalPodAutoscalerBehavior", "", (), "", "", ""),
        "metrics": ("list", "autoscaling.v2.MetricSpec", "atomic", (), "", "", ""),
    },
    "autoscaling.v2.HorizontalPodAutoscalerStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
        "currentMetrics": ("list", "autoscaling.v2.MetricStatus", "atomic", (), "", "", ""),
    },
    "autoscaling.v2.MetricIdentifier": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic")
    },
    "autoscaling.v2.MetricSpec": {
        "external": ("object", "autoscaling.v2.ExternalMetricSource", "", (), "", "", ""),
        "object": ("object", "autoscaling.v2.ObjectMetricSource", "", (), "", "", ""),
        "pods": ("object", "autoscaling.v2.PodsMetricSource", "", (), "", "", ""),
    },
    "autoscaling.v2.MetricStatus": {
        "external": ("object", "autoscaling.v2.ExternalMetricStatus", "", (), "", "", ""),
        "object": ("object", "autoscaling.v2.ObjectMetricStatus", "", (), "", "", ""),
        "pods": ("object", "autoscaling.v2.PodsMetricStatus", "", (), "", "", ""),
    },
    "autoscaling.v2.ObjectMetricSource": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "autoscaling.v2.ObjectMetricStatus": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "autoscaling.v2.PodsMetricSource": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "autoscaling.v2.PodsMetricStatus": {
        "metric": ("object", "autoscaling.v2.MetricIdentifier", "", (), "", "", "")
    },
    "batch.v1.CronJob": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "batch.v1.CronJobSpec", "", (), "", "", ""),
        "status": ("object", "batch.v1.CronJobStatus", "", (), "", "", ""),
    },
    "batch.v1.CronJobSpec": {"jobTemplate": ("object", "batch.v1.JobTemplateSpec", "", (), "", "", "")},
    "batch.v1.CronJobStatus": {"active": ("list", "", "atomic", (), "", "", "")},
    "batch.v1.Job": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "batch.v1.JobSpec", "", (), "", "", ""),
        "status": ("object", "batch.v1.JobStatus", "", (), "", "", ""),
    },
    "batch.v1.JobSpec": {
        "podFailurePolicy": ("object", "batch.v1.PodFailurePolicy", "", (), "", "", ""),
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "successPolicy": ("object", "batch.v1.SuccessPolicy", "", (), "", "", ""),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "batch.v1.JobStatus": {
        "conditions": ("list", "", "atomic", (), "merge", "type", ""),
        "uncountedTerminatedPods": ("object", "batch.v1.UncountedTerminatedPods", "", (), "", "", ""),
    },
    "batch.v1.JobTemplateSpec": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "batch.v1.JobSpec", "", (), "", "", ""),
    },
    "batch.v1.PodFailurePolicy": {
        "rules": ("list", "batch.v1.PodFailurePolicyRule", "atomic", (), "", "", "")
    },
    "batch.v1.PodFailurePolicyOnExitCodesRequirement": {"values": ("list", "", "set", (), "", "", "")},
    "batch.v1.PodFailurePolicyRule": {
        "onExitCodes": ("object", "batch.v1.PodFailurePolicyOnExitCodesRequirement", "", (), "", "", ""),
        "onPodConditions": ("list", "", "atomic", (), "", "", ""),
    },
    "batch.v1.SuccessPolicy": {"rules": ("list", "", "atomic", (), "", "", "")},
    "batch.v1.UncountedTerminatedPods": {
        "failed": ("list", "", "set", (), "", "", ""),
        "succeeded": ("list", "", "set", (), "", "", ""),
    },
    "coordination.v1.Lease": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "coordination.v1alpha1.LeaseCandidate": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "coordination.v1alpha1.LeaseCandidateSpec", "", (), "", "", ""),
    },
    "coordination.v1alpha1.LeaseCandidateSpec": {
        "preferredStrategies": ("list", "", "atomic", (), "", "", "")
    },
    "core.v1.Affinity": {
        "nodeAffinity": ("object", "core.v1.NodeAffinity", "", (), "", "", ""),
        "podAffinity": ("object", "core.v1.PodAffinity", "", (), "", "", ""),
        "podAntiAffinity": ("object", "core.v1.PodAntiAffinity", "", (), "", "", ""),
    },
    "core.v1.Binding": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "target": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.CSIPersistentVolumeSource": {
        "controllerExpandSecretRef": ("object", "", "", (), "", "", "atomic"),
        "controllerPublishSecretRef": ("object", "", "", (), "", "", "atomic"),
        "nodeExpandSecretRef": ("object", "", "", (), "", "", "atomic"),
        "nodePublishSecretRef": ("object", "", "", (), "", "", "atomic"),
        "nodeStageSecretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.CSIVolumeSource": {"nodePublishSecretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.Capabilities": {
        "add": ("list", "", "atomic", (), "", "", ""),
        "drop": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.CephFSPersistentVolumeSource": {
        "monitors": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.CephFSVolumeSource": {
        "monitors": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.CinderPersistentVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.CinderVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.ClusterTrustBundleProjection": {
        "labelSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic")
    },
    "core.v1.ComponentStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
    },
    "core.v1.ConfigMap": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "core.v1.ConfigMapProjection": {"items": ("list", "", "atomic", (), "", "", "")},
    "core.v1.ConfigMapVolumeSource": {"items": ("list", "", "atomic", (), "", "", "")},
    "core.v1.Container": {
        "args": ("list", "", "atomic", (), "", "", ""),
        "command": ("list", "", "atomic", (), "", "", ""),
        "env": ("list", "core.v1.EnvVar", "map", ("name",), "merge", "name", ""),
        "envFrom": ("list", "", "atomic", (), "", "", ""),
        "lifecycle": ("object", "core.v1.Lifecycle", "", (), "", "", ""),
        "livenessProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "ports": ("list", "", "map", ("containerPort", "protocol"), "merge", "containerPort", ""),
        "readinessProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "resizePolicy": ("list", "", "atomic", (), "", "", ""),
        "resources": ("object", "core.v1.ResourceRequirements", "", (), "", "", ""),
        "securityContext": ("object", "core.v1.SecurityContext", "", (), "", "", ""),
        "startupProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "volumeDevices": ("list", "", "map", ("devicePath",), "merge", "devicePath", ""),
        "volumeMounts": ("list", "", "map", ("mountPath",), "merge", "mountPath", ""),
    },
    "core.v1.ContainerImage": {"names": ("list", "", "atomic", (), "", "", "")},
    "core.v1.ContainerStatus": {
        "allocatedResourcesStatus": ("list", "core.v1.ResourceStatus", "map", ("name",), "merge", "name", ""),
        "resources": ("object", "core.v1.ResourceRequirements", "", (), "", "", ""),
        "user": ("object", "core.v1.ContainerUser", "", (), "", "", ""),
        "volumeMounts": ("list", "", "map", ("mountPath",), "merge", "mountPath", ""),
    },
    "core.v1.ContainerUser": {"linux": ("object", "core.v1.LinuxContainerUser", "", (), "", "", "")},
    "core.v1.DownwardAPIProjection": {
        "items": ("list", "core.v1.DownwardAPIVolumeFile", "atomic", (), "", "", "")
    },
    "core.v1.DownwardAPIVolumeFile": {
        "fieldRef": ("object", "", "", (), "", "", "atomic"),
        "resourceFieldRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.DownwardAPIVolumeSource": {
        "items": ("list", "core.v1.DownwardAPIVolumeFile", "atomic", (), "", "", "")
    },
    "core.v1.EndpointAddress": {"targetRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.EndpointSubset": {
        "addresses": ("list", "core.v1.EndpointAddress", "atomic", (), "", "", ""),
        "notReadyAddresses": ("list", "core.v1.EndpointAddress", "atomic", (), "", "", ""),
        "ports": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.Endpoints": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "subsets": ("list", "core.v1.EndpointSubset", "atomic", (), "", "", ""),
    },
    "core.v1.EnvVar": {"valueFrom": ("object", "core.v1.EnvVarSource", "", (), "", "", "")},
    "core.v1.EnvVarSource": {
        "configMapKeyRef": ("object", "", "", (), "", "", "atomic"),
        "fieldRef": ("object", "", "", (), "", "", "atomic"),
        "resourceFieldRef": ("object", "", "", (), "", "", "atomic"),
        "secretKeyRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.EphemeralContainer": {
        "args": ("list", "", "atomic", (), "", "", ""),
        "command": ("list", "", "atomic", (), "", "", ""),
        "env": ("list", "core.v1.EnvVar", "map", ("name",), "merge", "name", ""),
        "envFrom": ("list", "", "atomic", (), "", "", ""),
        "lifecycle": ("object", "core.v1.Lifecycle", "", (), "", "", ""),
        "livenessProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "ports": ("list", "", "map", ("containerPort", "protocol"), "merge", "containerPort", ""),
        "readinessProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "resizePolicy": ("list", "", "atomic", (), "", "", ""),
        "resources": ("object", "core.v1.ResourceRequirements", "", (), "", "", ""),
        "securityContext": ("object", "core.v1.SecurityContext", "", (), "", "", ""),
        "startupProbe": ("object", "core.v1.Probe", "", (), "", "", ""),
        "volumeDevices": ("list", "", "map", ("devicePath",), "merge", "devicePath", ""),
        "volumeMounts": ("list", "", "map", ("mountPath",), "merge", "mountPath", ""),
    },
    "core.v1.EphemeralVolumeSource": {
        "volumeClaimTemplate": ("object", "core.v1.PersistentVolumeClaimTemplate", "", (), "", "", "")
    },
    "core.v1.Event": {
        "involvedObject": ("object", "", "", (), "", "", "atomic"),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "related": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.ExecAction": {"command": ("list", "", "atomic", (), "", "", "")},
    "core.v1.FCVolumeSource": {
        "targetWWNs": ("list", "", "atomic", (), "", "", ""),
        "wwids": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.FlexPersistentVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.FlexVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.HTTPGetAction": {"httpHeaders": ("list", "", "atomic", (), "", "", "")},
    "core.v1.HostAlias": {"hostnames": ("list", "", "atomic", (), "", "", "")},
    "core.v1.ISCSIPersistentVolumeSource": {
        "portals": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.ISCSIVolumeSource": {
        "portals": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.Lifecycle": {
        "postStart": ("object", "core.v1.LifecycleHandler", "", (), "", "", ""),
        "preStop": ("object", "core.v1.LifecycleHandler", "", (), "", "", ""),
    },
    "core.v1.LifecycleHandler": {
        "exec": ("object", "core.v1.ExecAction", "", (), "", "", ""),
        "httpGet": ("object", "core.v1.HTTPGetAction", "", (), "", "", ""),
    },
    "core.v1.LimitRange": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.LimitRangeSpec", "", (), "", "", ""),
    },
    "core.v1.LimitRangeSpec": {"limits": ("list", "", "atomic", (), "", "", "")},
    "core.v1.LinuxContainerUser": {"supplementalGroups": ("list", "", "atomic", (), "", "", "")},
    "core.v1.LoadBalancerIngress": {"ports": ("list", "", "atomic", (), "", "", "")},
    "core.v1.LoadBalancerStatus": {
        "ingress": ("list", "core.v1.LoadBalancerIngress", "atomic", (), "", "", "")
    },
    "core.v1.Namespace": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.NamespaceSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.NamespaceStatus", "", (), "", "", ""),
    },
    "core.v1.NamespaceSpec": {"finalizers": ("list", "", "atomic", (), "", "", "")},
    "core.v1.NamespaceStatus": {"conditions": ("list", "", "map", ("type",), "merge", "type", "")},
    "core.v1.Node": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.NodeSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.NodeStatus", "", (), "", "", ""),
    },
    "core.v1.NodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "list",
            "core.v1.PreferredSchedulingTerm",
            "atomic",
            (),
            "",
            "",
            "",
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": (
            "object",
            "core.v1.NodeSelector",
            "",
            (),
            "",
            "",
            "atomic",
        ),
    },
    "core.v1.NodeSelector": {
        "nodeSelectorTerms": ("list", "core.v1.NodeSelectorTerm", "atomic", (), "", "", "")
    },
    "core.v1.NodeSelectorRequirement": {"values": ("list", "", "atomic", (), "", "", "")},
    "core.v1.NodeSelectorTerm": {
        "matchExpressions": ("list", "core.v1.NodeSelectorRequirement", "atomic", (), "", "", ""),
        "matchFields": ("list", "core.v1.NodeSelectorRequirement", "atomic", (), "", "", ""),
    },
    "core.v1.NodeSpec": {
        "podCIDRs": ("list", "", "set", (), "merge", "", ""),
        "taints": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.NodeStatus": {
        "addresses": ("list", "", "map", ("type",), "merge", "type", ""),
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
        "images": ("list", "core.v1.ContainerImage", "atomic", (), "", "", ""),
        "runtimeHandlers": ("list", "", "atomic", (), "", "", ""),
        "volumesAttached": ("list", "", "atomic", (), "", "", ""),
        "volumesInUse": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.PersistentVolume": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.PersistentVolumeSpec", "", (), "", "", ""),
    },
    "core.v1.PersistentVolumeClaim": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.PersistentVolumeClaimSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.PersistentVolumeClaimStatus", "", (), "", "", ""),
    },
    "core.v1.PersistentVolumeClaimSpec": {
        "accessModes": ("list", "", "atomic", (), "", "", ""),
        "dataSource": ("object", "", "", (), "", "", "atomic"),
        "selector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
    },
    "core.v1.PersistentVolumeClaimStatus": {
        "accessModes": ("list", "", "atomic", (), "", "", ""),
        "allocatedResourceStatuses": ("map", "", "", (), "", "", "granular"),
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
    },
    "core.v1.PersistentVolumeClaimTemplate": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.PersistentVolumeClaimSpec", "", (), "", "", ""),
    },
    "core.v1.PersistentVolumeSpec": {
        "accessModes": ("list", "", "atomic", (), "", "", ""),
        "cephfs": ("object", "core.v1.CephFSPersistentVolumeSource", "", (), "", "", ""),
        "cinder": ("object", "core.v1.CinderPersistentVolumeSource", "", (), "", "", ""),
        "claimRef": ("object", "", "", (), "", "", "granular"),
        "csi": ("object", "core.v1.CSIPersistentVolumeSource", "", (), "", "", ""),
        "fc": ("object", "core.v1.FCVolumeSource", "", (), "", "", ""),
        "flexVolume": ("object", "core.v1.FlexPersistentVolumeSource", "", (), "", "", ""),
        "iscsi": ("object", "core.v1.ISCSIPersistentVolumeSource", "", (), "", "", ""),
        "mountOptions": ("list", "", "atomic", (), "", "", ""),
        "nodeAffinity": ("object", "core.v1.VolumeNodeAffinity", "", (), "", "", ""),
        "rbd": ("object", "core.v1.RBDPersistentVolumeSource", "", (), "", "", ""),
        "scaleIO": ("object", "core.v1.ScaleIOPersistentVolumeSource", "", (), "", "", ""),
        "storageos": ("object", "core.v1.StorageOSPersistentVolumeSource", "", (), "", "", ""),
    },
    "core.v1.Pod": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.PodSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.PodStatus", "", (), "", "", ""),
    },
    "core.v1.PodAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "list",
            "core.v1.WeightedPodAffinityTerm",
            "atomic",
            (),
            "",
            "",
            "",
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": (
            "list",
            "core.v1.PodAffinityTerm",
            "atomic",
            (),
            "",
            "",
            "",
        ),
    },
    "core.v1.PodAffinityTerm": {
        "labelSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "matchLabelKeys": ("list", "", "atomic", (), "", "", ""),
        "mismatchLabelKeys": ("list", "", "atomic", (), "", "", ""),
        "namespaceSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "namespaces": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.PodAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": (
            "list",
            "core.v1.WeightedPodAffinityTerm",
            "atomic",
            (),
            "",
            "",
            "",
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": (
            "list",
            "core.v1.PodAffinityTerm",
            "atomic",
            (),
            "",
            "",
            "",
        ),
    },
    "core.v1.PodDNSConfig": {
        "nameservers": ("list", "", "atomic", (), "", "", ""),
        "options": ("list", "", "atomic", (), "", "", ""),
        "searches": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.PodSecurityContext": {
        "supplementalGroups": ("list", "", "atomic", (), "", "", ""),
        "sysctls": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.PodSpec": {
        "affinity": ("object", "core.v1.Affinity", "", (), "", "", ""),
        "containers": ("list", "core.v1.Container", "map", ("name",), "merge", "name", ""),
        "dnsConfig": ("object", "core.v1.PodDNSConfig", "", (), "", "", ""),
        "ephemeralContainers": ("list", "core.v1.EphemeralContainer", "map", ("name",), "merge", "name", ""),
        "hostAliases": ("list", "core.v1.HostAlias", "map", ("ip",), "merge", "ip", ""),
        "imagePullSecrets": ("list", "", "map", ("name",), "merge", "name", ""),
        "initContainers": ("list", "core.v1.Container", "map", ("name",), "merge", "name", ""),
        "nodeSelector": ("map", "", "", (), "", "", "atomic"),
        "readinessGates": ("list", "", "atomic", (), "", "", ""),
        "resourceClaims": ("list", "", "map", ("name",), "merge,retainKeys", "name", ""),
        "schedulingGates": ("list", "", "map", ("name",), "merge", "name", ""),
        "securityContext": ("object", "core.v1.PodSecurityContext", "", (), "", "", ""),
        "tolerations": ("list", "", "atomic", (), "", "", ""),
        "topologySpreadConstraints": (
            "list",
            "core.v1.TopologySpreadConstraint",
            "map",
            ("topologyKey", "whenUnsatisfiable"),
            "merge",
            "topologyKey",
            "",
        ),
        "volumes": ("list", "core.v1.Volume", "map", ("name",), "merge,retainKeys", "name", ""),
    },
    "core.v1.PodStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
        "containerStatuses": ("list", "core.v1.ContainerStatus", "atomic", (), "", "", ""),
        "ephemeralContainerStatuses": ("list", "core.v1.ContainerStatus", "atomic", (), "", "", ""),
        "hostIPs": ("list", "", "atomic", (), "merge", "ip", ""),
        "initContainerStatuses": ("list", "core.v1.ContainerStatus", "atomic", (), "", "", ""),
        "podIPs": ("list", "", "map", ("ip",), "merge", "ip", ""),
        "resourceClaimStatuses": ("list", "", "map", ("name",), "merge,retainKeys", "name", ""),
    },
    "core.v1.PodTemplate": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "core.v1.PodTemplateSpec": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.PodSpec", "", (), "", "", ""),
    },
    "core.v1.PreferredSchedulingTerm": {
        "preference": ("object", "core.v1.NodeSelectorTerm", "", (), "", "", "atomic")
    },
    "core.v1.Probe": {
        "exec": ("object", "core.v1.ExecAction", "", (), "", "", ""),
        "httpGet": ("object", "core.v1.HTTPGetAction", "", (), "", "", ""),
    },
    "core.v1.ProjectedVolumeSource": {
        "sources": ("list", "core.v1.VolumeProjection", "atomic", (), "", "", "")
    },
    "core.v1.RBDPersistentVolumeSource": {
        "monitors": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.RBDVolumeSource": {
        "monitors": ("list", "", "atomic", (), "", "", ""),
        "secretRef": ("object", "", "", (), "", "", "atomic"),
    },
    "core.v1.ReplicationController": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.ReplicationControllerSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.ReplicationControllerStatus", "", (), "", "", ""),
    },
    "core.v1.ReplicationControllerSpec": {
        "selector": ("map", "", "", (), "", "", "atomic"),
        "template": ("object", "core.v1.PodTemplateSpec", "", (), "", "", ""),
    },
    "core.v1.ReplicationControllerStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", "")
    },
    "core.v1.ResourceQuota": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.ResourceQuotaSpec", "", (), "", "", ""),
    },
    "core.v1.ResourceQuotaSpec": {
        "scopeSelector": ("object", "core.v1.ScopeSelector", "", (), "", "", "atomic"),
        "scopes": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.ResourceRequirements": {"claims": ("list", "", "map", ("name",), "", "", "")},
    "core.v1.ResourceStatus": {"resources": ("list", "", "map", ("resourceID",), "", "", "")},
    "core.v1.ScaleIOPersistentVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.ScaleIOVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.ScopeSelector": {
        "matchExpressions": ("list", "core.v1.ScopedResourceSelectorRequirement", "atomic", (), "", "", "")
    },
    "core.v1.ScopedResourceSelectorRequirement": {"values": ("list", "", "atomic", (), "", "", "")},
    "core.v1.Secret": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "core.v1.SecretProjection": {"items": ("list", "", "atomic", (), "", "", "")},
    "core.v1.SecretVolumeSource": {"items": ("list", "", "atomic", (), "", "", "")},
    "core.v1.SecurityContext": {"capabilities": ("object", "core.v1.Capabilities", "", (), "", "", "")},
    "core.v1.Service": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "core.v1.ServiceSpec", "", (), "", "", ""),
        "status": ("object", "core.v1.ServiceStatus", "", (), "", "", ""),
    },
    "core.v1.ServiceAccount": {
        "imagePullSecrets": ("list", "", "atomic", (), "", "", ""),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "secrets": ("list", "", "map", ("name",), "merge", "name", ""),
    },
    "core.v1.ServiceSpec": {
        "clusterIPs": ("list", "", "atomic", (), "", "", ""),
        "externalIPs": ("list", "", "atomic", (), "", "", ""),
        "ipFamilies": ("list", "", "atomic", (), "", "", ""),
        "loadBalancerSourceRanges": ("list", "", "atomic", (), "", "", ""),
        "ports": ("list", "", "map", ("port", "protocol"), "merge", "port", ""),
        "selector": ("map", "", "", (), "", "", "atomic"),
    },
    "core.v1.ServiceStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", ""),
        "loadBalancer": ("object", "core.v1.LoadBalancerStatus", "", (), "", "", ""),
    },
    "core.v1.StorageOSPersistentVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.StorageOSVolumeSource": {"secretRef": ("object", "", "", (), "", "", "atomic")},
    "core.v1.TopologySpreadConstraint": {
        "labelSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "matchLabelKeys": ("list", "", "atomic", (), "", "", ""),
    },
    "core.v1.Volume": {
        "cephfs": ("object", "core.v1.CephFSVolumeSource", "", (), "", "", ""),
        "cinder": ("object", "core.v1.CinderVolumeSource", "", (), "", "", ""),
        "configMap": ("object", "core.v1.ConfigMapVolumeSource", "", (), "", "", ""),
        "csi": ("object", "core.v1.CSIVolumeSource", "", (), "", "", ""),
        "downwardAPI": ("object", "core.v1.DownwardAPIVolumeSource", "", (), "", "", ""),
        "ephemeral": ("object", "core.v1.EphemeralVolumeSource", "", (), "", "", ""),
        "fc": ("object", "core.v1.FCVolumeSource", "", (), "", "", ""),
        "flexVolume": ("object", "core.v1.FlexVolumeSource", "", (), "", "", ""),
        "iscsi": ("object", "core.v1.ISCSIVolumeSource", "", (), "", "", ""),
        "projected": ("object", "core.v1.ProjectedVolumeSource", "", (), "", "", ""),
        "rbd": ("object", "core.v1.RBDVolumeSource", "", (), "", "", ""),
        "scaleIO": ("object", "core.v1.ScaleIOVolumeSource", "", (), "", "", ""),
        "secret": ("object", "core.v1.SecretVolumeSource", "", (), "", "", ""),
        "storageos": ("object", "core.v1.StorageOSVolumeSource", "", (), "", "", ""),
    },
    "core.v1.VolumeNodeAffinity": {"required": ("object", "core.v1.NodeSelector", "", (), "", "", "atomic")},
    "core.v1.VolumeProjection": {
        "clusterTrustBundle": ("object", "core.v1.ClusterTrustBundleProjection", "", (), "", "", ""),
        "configMap": ("object", "core.v1.ConfigMapProjection", "", (), "", "", ""),
        "downwardAPI": ("object", "core.v1.DownwardAPIProjection", "", (), "", "", ""),
        "secret": ("object", "core.v1.SecretProjection", "", (), "", "", ""),
    },
    "core.v1.WeightedPodAffinityTerm": {
        "podAffinityTerm": ("object", "core.v1.PodAffinityTerm", "", (), "", "", "")
    },
    "discovery.v1.Endpoint": {
        "addresses": ("list", "", "set", (), "", "", ""),
        "hints": ("object", "discovery.v1.EndpointHints", "", (), "", "", ""),
        "targetRef": ("object", "", "", (), "", "", "atomic"),
    },
    "discovery.v1.EndpointHints": {"forZones": ("list", "", "atomic", (), "", "", "")},
    "discovery.v1.EndpointSlice": {
        "endpoints": ("list", "discovery.v1.Endpoint", "atomic", (), "", "", ""),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "ports": ("list", "", "atomic", (), "", "", ""),
    },
    "events.v1.Event": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "regarding": ("object", "", "", (), "", "", "atomic"),
        "related": ("object", "", "", (), "", "", "atomic"),
    },
    "meta.v1.DeleteOptions": {"dryRun": ("list", "", "atomic", (), "", "", "")},
    "meta.v1.LabelSelector": {
        "matchExpressions": ("list", "meta.v1.LabelSelectorRequirement", "atomic", (), "", "", "")
    },
    "meta.v1.LabelSelectorRequirement": {"values": ("list", "", "atomic", (), "", "", "")},
    "meta.v1.ObjectMeta": {
        "finalizers": ("list", "", "set", (), "merge", "", ""),
        "managedFields": ("list", "", "atomic", (), "", "", ""),
        "ownerReferences": ("list", "", "map", ("uid",), "merge", "uid", ""),
    },
    "meta.v1.Status": {"details": ("object", "meta.v1.StatusDetails", "atomic", (), "", "", "")},
    "meta.v1.StatusDetails": {"causes": ("list", "", "atomic", (), "", "", "")},
    "networking.v1.HTTPIngressPath": {
        "backend": ("object", "networking.v1.IngressBackend", "", (), "", "", "")
    },
    "networking.v1.HTTPIngressRuleValue": {
        "paths": ("list", "networking.v1.HTTPIngressPath", "atomic", (), "", "", "")
    },
    "networking.v1.IPBlock": {"except": ("list", "", "atomic", (), "", "", "")},
    "networking.v1.Ingress": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "networking.v1.IngressSpec", "", (), "", "", ""),
        "status": ("object", "networking.v1.IngressStatus", "", (), "", "", ""),
    },
    "networking.v1.IngressBackend": {
        "resource": ("object", "", "", (), "", "", "atomic"),
        "service": ("object", "networking.v1.IngressServiceBackend", "", (), "", "", ""),
    },
    "networking.v1.IngressClass": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "networking.v1.IngressLoadBalancerIngress": {"ports": ("list", "", "atomic", (), "", "", "")},
    "networking.v1.IngressLoadBalancerStatus": {
        "ingress": ("list", "networking.v1.IngressLoadBalancerIngress", "atomic", (), "", "", "")
    },
    "networking.v1.IngressRule": {
        "http": ("object", "networking.v1.HTTPIngressRuleValue", "", (), "", "", "")
    },
    "networking.v1.IngressServiceBackend": {"port": ("object", "", "", (), "", "", "atomic")},
    "networking.v1.IngressSpec": {
        "defaultBackend": ("object", "networking.v1.IngressBackend", "", (), "", "", ""),
        "rules": ("list", "networking.v1.IngressRule", "atomic", (), "", "", ""),
        "tls": ("list", "networking.v1.IngressTLS", "atomic", (), "", "", ""),
    },
    "networking.v1.IngressStatus": {
        "loadBalancer": ("object", "networking.v1.IngressLoadBalancerStatus", "", (), "", "", "")
    },
    "networking.v1.IngressTLS": {"hosts": ("list", "", "atomic", (), "", "", "")},
    "networking.v1.NetworkPolicy": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "networking.v1.NetworkPolicySpec", "", (), "", "", ""),
    },
    "networking.v1.NetworkPolicyEgressRule": {
        "ports": ("list", "", "atomic", (), "", "", ""),
        "to": ("list", "networking.v1.NetworkPolicyPeer", "atomic", (), "", "", ""),
    },
    "networking.v1.NetworkPolicyIngressRule": {
        "from": ("list", "networking.v1.NetworkPolicyPeer", "atomic", (), "", "", ""),
        "ports": ("list", "", "atomic", (), "", "", ""),
    },
    "networking.v1.NetworkPolicyPeer": {
        "ipBlock": ("object", "networking.v1.IPBlock", "", (), "", "", ""),
        "namespaceSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "podSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
    },
    "networking.v1.NetworkPolicySpec": {
        "egress": ("list", "networking.v1.NetworkPolicyEgressRule", "atomic", (), "", "", ""),
        "ingress": ("list", "networking.v1.NetworkPolicyIngressRule", "atomic", (), "", "", ""),
        "podSelector": ("object", "meta.v1.LabelSelector", "", (), "", "", "atomic"),
        "policyTypes": ("list", "", "atomic", (), "", "", ""),
    },
    "networking.v1beta1.IPAddress": {"metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", "")},
    "networking.v1beta1.ServiceCIDR": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "networking.v1beta1.ServiceCIDRSpec", "", (), "", "", ""),
        "status": ("object", "networking.v1beta1.ServiceCIDRStatus", "", (), "", "", ""),
    },
    "networking.v1beta1.ServiceCIDRSpec": {"cidrs": ("list", "", "atomic", (), "", "", "")},
    "networking.v1beta1.ServiceCIDRStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", "")
    },
    "policy.v1.Eviction": {
        "deleteOptions": ("object", "meta.v1.DeleteOptions", "", (), "", "", ""),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
    },
    "policy.v1.PodDisruptionBudget": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "spec": ("object", "policy.v1.PodDisruptionBudgetSpec", "", (), "", "", ""),
        "status": ("object", "policy.v1.PodDisruptionBudgetStatus", "", (), "", "", ""),
    },
    "policy.v1.PodDisruptionBudgetSpec": {
        "selector": ("object", "meta.v1.LabelSelector", "", (), "replace", "", "atomic")
    },
    "policy.v1.PodDisruptionBudgetStatus": {
        "conditions": ("list", "", "map", ("type",), "merge", "type", "")
    },
    "rbac.v1.AggregationRule": {
        "clusterRoleSelectors": ("list", "meta.v1.LabelSelector", "atomic", (), "", "", "")
    },
    "rbac.v1.ClusterRole": {
        "aggregationRule": ("object", "rbac.v1.AggregationRule", "", (), "", "", ""),
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "rules": ("list", "rbac.v1.PolicyRule", "atomic", (), "", "", ""),
    },
    "rbac.v1.ClusterRoleBinding": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "roleRef": ("object", "", "", (), "", "", "atomic"),
        "subjects": ("list", "", "atomic", (), "", "", ""),
    },
    "rbac.v1.PolicyRule": {
        "apiGroups": ("list", "", "atomic", (), "", "", ""),
        "nonResourceURLs": ("list", "", "atomic", (), "", "", ""),
        "resourceNames": ("list", "", "atomic", (), "", "", ""),
        "resources": ("list", "", "atomic", (), "", "", ""),
        "verbs": ("list", "", "atomic", (), "", "", ""),
    },
    "rbac.v1.Role": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "rules": ("list", "rbac.v1.PolicyRule", "atomic", (), "", "", ""),
    },
    "rbac.v1.RoleBinding": {
        "metadata": ("object", "meta.v1.ObjectMeta", "", (), "", "", ""),
        "roleRef": ("object", "", "", (), "", "", "atomic"),
        "subjects": ("list", "", "atomic", (), "", "", ""),
    },
}
