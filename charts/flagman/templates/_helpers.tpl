{{/*
flagman.name: the `app.kubernetes.io/name` label, `flagger` (or nameOverride) as in Flagger's chart.
Deployment selectors are immutable, so keeping Flagger's labels lets `helm upgrade` move an existing
Flagger release to this chart in place.
*/}}
{{- define "flagman.name" -}}
{{- default "flagger" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
flagman.fullname: objects are named after the release (or fullnameOverride), so the tutorial's
`helm upgrade -i flagger ...` yields Deployment `flagger` and Service `flagger-prometheus`, the names
Flagger's chart gives them.
*/}}
{{- define "flagman.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flagman.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flagman.selectorLabels" -}}
app.kubernetes.io/name: {{ template "flagman.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flagman.labels" -}}
helm.sh/chart: {{ template "flagman.chart" . }}
{{ include "flagman.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "flagman.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "flagman.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}

{{/*
flagman.prometheusName: `<release>-prometheus` (with fullnameOverride: `<override>-prometheus`).
*/}}
{{- define "flagman.prometheusName" -}}
{{- printf "%s-prometheus" (include "flagman.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flagman.metricsServer" -}}
{{- if .Values.prometheus.install -}}
{{ printf "http://%s:9090" (include "flagman.prometheusName" .) }}
{{- else -}}
{{ .Values.metricsServer }}
{{- end -}}
{{- end -}}

{{/*
flagman.meshProvider: empty means kubernetes, the only provider Flagman implements.
*/}}
{{- define "flagman.meshProvider" -}}
{{- $provider := default "kubernetes" .Values.meshProvider -}}
{{- if ne $provider "kubernetes" -}}
{{- fail (printf "meshProvider %q is not supported: Flagman implements only meshProvider=kubernetes (Blue/Green over ClusterIP services)" $provider) -}}
{{- end -}}
{{ $provider }}
{{- end -}}

{{- define "flagman.replicas" -}}
{{- $replicas := int (default (default 1 .Values.leaderElection.replicaCount) .Values.replicaCount) -}}
{{- if and .Values.sharding.enabled .Values.leaderElection.enabled -}}
{{- fail "sharding.enabled and leaderElection.enabled exclude each other: with sharding every replica acts, each on its own shards of the canaries" -}}
{{- end -}}
{{- if and (gt $replicas 1) (not (or .Values.leaderElection.enabled .Values.sharding.enabled)) -}}
{{- fail "leaderElection.replicaCount > 1 needs leaderElection.enabled=true (one replica acts) or sharding.enabled=true (each acts on its own shards): several controllers without either would act on the same canaries" -}}
{{- end -}}
{{ $replicas }}
{{- end -}}
