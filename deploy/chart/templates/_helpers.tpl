{{/* Chart name, truncated to the 63 characters of a label value. */}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the gateway and worker add a suffix, so leave room for it. */}}
{{- define "baton.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 54 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 54 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "baton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "baton.labels" -}}
helm.sh/chart: {{ include "baton.chart" . }}
{{ include "baton.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount of one component: (dict "root" $ "component" "gateway" | "worker"). Each has its
own, so the internet-facing gateway holds none of the worker's permissions (rbac.yaml).
*/}}
{{- define "baton.serviceAccountName" -}}
{{- $root := .root }}
{{- if index $root.Values.serviceAccount "name" }}
{{- fail "serviceAccount.name was split into serviceAccount.gateway.name and serviceAccount.worker.name: the gateway and the worker no longer share a ServiceAccount" }}
{{- end }}
{{- $name := (index $root.Values.serviceAccount .component).name }}
{{- if $root.Values.serviceAccount.create }}
{{- default (printf "%s-%s" (include "baton.fullname" $root) .component) $name }}
{{- else }}
{{- default "default" $name }}
{{- end }}
{{- end }}

{{- define "baton.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
A duration for config/config.ts: a number is seconds (Weave's unit), a string passes as is ("500ms").
*/}}
{{- define "baton.duration" -}}
{{- if kindIs "string" . }}{{ . }}{{ else }}{{ printf "%ds" (int .) }}{{ end }}
{{- end }}

{{- define "baton.temporalTlsPath" -}}/etc/baton/temporal-tls{{- end }}

{{/*
Settings shared by the gateway and the worker: one entry per variable of config/config.ts.
test/deploy/chart.test.ts renders this block with values.yaml's defaults and compares the result
with config/config.ts's defaults, so keep its entries to the forms that test understands.
*/}}
{{- define "baton.env" -}}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: TEMPORAL_UI_URL
  value: {{ .Values.temporal.uiUrl | quote }}
- name: TEMPORAL_TLS
  value: {{ .Values.temporal.tls.enabled | quote }}
{{- if .Values.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ .Values.temporal.tls.serverName | quote }}
{{- end }}
- name: BATON_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
{{- if .Values.temporal.providerTaskQueue }}
- name: BATON_PROVIDER_TASK_QUEUE
  value: {{ .Values.temporal.providerTaskQueue | quote }}
{{- end }}
- name: BATON_PROVIDER_RATE_LIMIT
  value: {{ .Values.temporal.providerRateLimit | quote }}
- name: BATON_PIPELINE_SOURCE
  value: {{ .Values.pipelines.source | quote }}
{{- if eq .Values.pipelines.source "directory" }}
- name: BATON_PIPELINES_DIR
  value: {{ .Values.pipelines.directory | quote }}
{{- end }}
- name: BATON_HOST
  value: {{ .Values.gateway.host | quote }}
- name: BATON_PORT
  value: {{ .Values.gateway.port | int | quote }}
- name: BATON_RATE_LIMIT_MAX
  value: {{ .Values.promotion.rateLimit.value | int | quote }}
- name: BATON_RATE_LIMIT_WINDOW
  value: {{ include "baton.duration" .Values.promotion.rateLimit.interval | quote }}
- name: BATON_TRUSTED_PROXIES
{{- if .Values.gateway.trustedProxies }}
  value: {{ join "," .Values.gateway.trustedProxies | quote }}
{{- else if .Values.ingress.enabled }}
  value: {{ join "," .Values.ingress.trustedProxies | quote }}
{{- else }}
  value: ""
{{- end }}
- name: BATON_ALLOW_UNSIGNED
  value: {{ .Values.gateway.allowUnsigned | quote }}
- name: BATON_LEGACY_APPROVAL_SIGNATURE
  value: {{ .Values.gateway.legacyApprovalSignature | quote }}
{{- if .Values.gateway.oidc.issuer }}
- name: BATON_OIDC_ISSUER
  value: {{ .Values.gateway.oidc.issuer | quote }}
- name: BATON_OIDC_AUDIENCE
  value: {{ required "gateway.oidc.audience is required with gateway.oidc.issuer" .Values.gateway.oidc.audience | quote }}
- name: BATON_OIDC_USER_CLAIM
  value: {{ .Values.gateway.oidc.userClaim | quote }}
- name: BATON_OIDC_GROUPS_CLAIM
  value: {{ .Values.gateway.oidc.groupsClaim | quote }}
{{- end }}
- name: BATON_PROMOTING_REASONS
  value: {{ join "," .Values.promotion.promotingReasons | quote }}
- name: BATON_SIGNAL_TIMEOUT
  value: {{ include "baton.duration" .Values.gateway.signalTimeout | quote }}
- name: BATON_RETRY_INITIAL_INTERVAL
  value: {{ include "baton.duration" .Values.promotion.retry.delay | quote }}
- name: BATON_RETRY_BACKOFF
  value: {{ .Values.promotion.retry.backoff | quote }}
- name: BATON_RETRY_MAX_INTERVAL
  value: {{ include "baton.duration" .Values.promotion.retry.maxDelay | quote }}
- name: BATON_RETRY_MAX_ATTEMPTS
  value: {{ .Values.promotion.retry.threshold | int | quote }}
- name: BATON_ACTIVITY_TIMEOUT
  value: {{ include "baton.duration" .Values.promotion.activityTimeout | quote }}
- name: BATON_RELEASE_IDLE_TIMEOUT
  value: {{ include "baton.duration" .Values.promotion.idleTimeout | quote }}
{{- if .Values.promotion.approvalTimeout }}
- name: BATON_APPROVAL_TIMEOUT
  value: {{ include "baton.duration" .Values.promotion.approvalTimeout | quote }}
{{- end }}
{{- if .Values.events.address }}
- name: BATON_EVENTS_ADDRESS
  value: {{ .Values.events.address | quote }}
{{- end }}
{{- if .Values.gateway.publicUrl }}
- name: BATON_GATEWAY_URL
  value: {{ .Values.gateway.publicUrl | quote }}
{{- end }}
- name: BATON_GIT_HOSTS
  value: {{ join "," .Values.worker.gitHosts | quote }}
- name: BATON_VERIFY_HOSTS
  value: {{ join "," .Values.worker.verifyHosts | quote }}
- name: BATON_WORKER_METRICS_PORT
  value: {{ .Values.worker.metricsPort | int | quote }}
{{- if .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end }}

{{/* Temporal credentials: the API key from its Secret, TLS files from the mounted Secret. */}}
{{- define "baton.temporalCredentialsEnv" -}}
{{- if .Values.temporal.apiKey.secretName }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.temporal.apiKey.secretName | quote }}
      key: {{ .Values.temporal.apiKey.secretKey | quote }}
{{- end }}
{{- if .Values.temporal.tls.secretName }}
{{- if .Values.temporal.tls.certKey }}
- name: TEMPORAL_TLS_CERT
  value: {{ printf "%s/%s" (include "baton.temporalTlsPath" .) .Values.temporal.tls.certKey | quote }}
{{- end }}
{{- if .Values.temporal.tls.keyKey }}
- name: TEMPORAL_TLS_KEY
  value: {{ printf "%s/%s" (include "baton.temporalTlsPath" .) .Values.temporal.tls.keyKey | quote }}
{{- end }}
{{- if .Values.temporal.tls.caKey }}
- name: TEMPORAL_TLS_CA
  value: {{ printf "%s/%s" (include "baton.temporalTlsPath" .) .Values.temporal.tls.caKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret holding the decision key: the user's, or the one the chart makes. */}}
{{- define "baton.decisionKeySecretName" -}}
{{- default (printf "%s-decision-key" (include "baton.fullname" .)) .Values.decisionKey.secretName }}
{{- end }}

{{/* The decision key, shared by the gateway (which proves decisions) and the worker (which checks them). */}}
{{- define "baton.decisionKeyEnv" -}}
- name: BATON_DECISION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.decisionKeySecretName" . | quote }}
      key: {{ .Values.decisionKey.secretKey | quote }}
{{- if .Values.decisionKey.previousSecretKey }}
- name: BATON_DECISION_KEY_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ include "baton.decisionKeySecretName" . | quote }}
      key: {{ .Values.decisionKey.previousSecretKey | quote }}
{{- end }}
{{- end }}

{{/* Everything a Baton container needs besides its command: image, env, security, mounts. */}}
{{- define "baton.containerCommon" -}}
image: {{ include "baton.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
env:
  {{- include "baton.env" . | nindent 2 }}
  {{- with include "baton.temporalCredentialsEnv" . }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- include "baton.decisionKeyEnv" . | nindent 2 }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  # The git step clones into the temp dir; the root filesystem is read-only.
  - name: tmp
    mountPath: /tmp
  {{- if .Values.temporal.tls.secretName }}
  - name: temporal-tls
    mountPath: {{ include "baton.temporalTlsPath" . }}
    readOnly: true
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* Pod-level settings shared by both Deployments (each sets its own serviceAccountName). */}}
{{- define "baton.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  {{- if .Values.temporal.tls.secretName }}
  - name: temporal-tls
    secret:
      secretName: {{ .Values.temporal.tls.secretName }}
      defaultMode: 0440
  {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
