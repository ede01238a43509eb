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

{{/*
config.shutdownTimeout in whole seconds (rounded up), parsed with the server's own grammar
(src/duration.ts): a number or bare seconds ("90", "2.5"), or number+unit parts, largest unit
first ("1h30m", "1m30s", "500ms"; units d h m s ms). Anything else fails the render: a
misread value would give the kubelet a grace period shorter than the drain. Default 10 (the
server's default).
*/}}
{{- define "workload-ca.shutdownSeconds" -}}
{{- $raw := .Values.config.shutdownTimeout }}
{{- $t := ternary "10" (toString $raw) (kindIs "invalid" $raw) | trim }}
{{- $sizes := dict "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 "d" 86400.0 }}
{{- $seconds := 0.0 }}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?$" $t }}
{{- $seconds = float64 $t }}
{{- else if regexMatch "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$" $t }}
{{- $last := 1e18 }}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)" $t -1 }}
{{- $amount := regexFind "^[0-9]+(\\.[0-9]+)?" . }}
{{- $size := get $sizes (trimPrefix $amount .) }}
{{- if ge $size $last }}{{ fail (printf "config.shutdownTimeout %q: units must go from largest to smallest, each once (e.g. 1h30m)" $t) }}{{ end }}
{{- $last = $size }}
{{- $seconds = addf $seconds (mulf (float64 $amount) $size) }}
{{- end }}
{{- else }}
{{- fail (printf "config.shutdownTimeout %q is not a duration the server accepts (e.g. 30s, 1m30s, 1h, or seconds)" $t) }}
{{- end }}
{{- if le $seconds 0.0 }}{{ fail (printf "config.shutdownTimeout %q must be more than 0" $t) }}{{ end }}
{{- ceil $seconds | int }}
{{- end }}

{{/* preStop.sleepSeconds, validated: the kubelet's sleep action needs a whole number of seconds. */}}
{{- define "workload-ca.preStopSeconds" -}}
{{- $s := .Values.preStop.sleepSeconds | int }}
{{- if lt $s 0 }}{{ fail "preStop.sleepSeconds must be 0 or more" }}{{ end }}
{{- $s }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the kubelet counts the preStop sleep in it, then SIGTERM starts
the drain (shutdownTimeout) and the server's own backstop exits 1 shutdownBackstopSeconds (5 s,
src/cli/commands/serve.ts) after that. The margin (10 s) exceeds that backstop, so a server
that hangs still exits on its own (and logs why) before the kubelet's SIGKILL.
*/}}
{{- define "workload-ca.terminationGraceSeconds" -}}
{{- add (include "workload-ca.preStopSeconds" .) (include "workload-ca.shutdownSeconds" .) 10 }}
{{- end }}
