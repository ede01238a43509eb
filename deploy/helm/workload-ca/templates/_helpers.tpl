{{- define "workload-ca.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "workload-ca.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "workload-ca.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "workload-ca.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "workload-ca.selectorLabels" -}}
app.kubernetes.io/name: {{ include "workload-ca.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "workload-ca.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "workload-ca.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "workload-ca.serviceAccountName" -}}
{{- default (include "workload-ca.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* The server's config file: the user's config with the listeners the pod exposes and, unless set, the Service's DNS names on the SDS certificate. */}}
{{- define "workload-ca.config" -}}
{{- $listen := dict "sds" (printf "0.0.0.0:%d" (int .Values.ports.sds)) "http" (printf "0.0.0.0:%d" (int .Values.ports.http)) "admin" "unix:/run/workload-ca/admin/admin.sock" }}
{{- $service := printf "%s.%s.svc" (include "workload-ca.fullname" .) .Release.Namespace }}
{{- $sds := dict "serverDnsNames" (list $service (printf "%s.cluster.local" $service)) }}
{{- toYaml (merge (dict "listen" $listen) (deepCopy .Values.config) (dict "sds" $sds)) }}
{{- end }}

{{/* config.shutdownTimeout in seconds (a number, or "Ns"/"Nm"), default 10. */}}
{{- define "workload-ca.shutdownSeconds" -}}
{{- $t := toString (default "10" .Values.config.shutdownTimeout) }}
{{- if hasSuffix "m" $t }}{{ mul 60 (trimSuffix "m" $t | int) }}{{ else }}{{ trimSuffix "s" $t | int }}{{ end }}
{{- end }}
