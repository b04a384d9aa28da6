{{/*
loadtester.name: the `app` label, `loadtester` as in Flagger's chart (the Deployment selector is
immutable, so the same label lets `helm upgrade` move a Flagger release to this chart in place).
*/}}
{{- define "loadtester.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
loadtester.fullname: the release name (or fullnameOverride), so `helm upgrade -i flagger-helmtester`
serves at http://flagger-helmtester.<namespace>/ as the tutorial says.
*/}}
{{- define "loadtester.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "loadtester.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "loadtester.labels" -}}
helm.sh/chart: {{ template "loadtester.chart" . }}
app.kubernetes.io/name: {{ template "loadtester.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
loadtester.serviceAccountName: serviceAccountName when given, else the chart's own account when
rbac.create, else none (the namespace's default).
*/}}
{{- define "loadtester.serviceAccountName" -}}
{{- if .Values.serviceAccountName -}}
{{ .Values.serviceAccountName }}
{{- else if .Values.rbac.create -}}
{{ template "loadtester.fullname" . }}
{{- end -}}
{{- end -}}

{{- define "loadtester.authSecretName" -}}
{{- if .Values.auth.existingSecret -}}
{{ .Values.auth.existingSecret }}
{{- else if .Values.auth.token -}}
{{ printf "%s-auth" (include "loadtester.fullname" .) }}
{{- end -}}
{{- end -}}
