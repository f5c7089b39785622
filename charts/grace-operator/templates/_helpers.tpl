{{/* Labels on every object. */}}
{{- define "grace-operator.labels" -}}
app.kubernetes.io/name: grace-operator
app.kubernetes.io/part-of: grace
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The pod selector (the same as deploy/kustomize). */}}
{{- define "grace-operator.selector" -}}
app.kubernetes.io/name: grace-operator
app.kubernetes.io/component: operator
{{- end }}

{{- define "grace-operator.serviceAccountName" -}}
{{ .Values.serviceAccount.name | default "grace-operator" }}
{{- end }}

{{/* The Secret holding the webhook serving certificate, or "" when the
     operator generates a self-signed one into an emptyDir. */}}
{{- define "grace-operator.webhookSecret" -}}
{{- if or .Values.webhook.certManager.enabled .Values.webhook.tlsSecretName -}}
{{ .Values.webhook.tlsSecretName | default "grace-operator-webhook-tls" }}
{{- end -}}
{{- end }}

{{/* Register the webhook configurations only when the API server can trust
     the certificate. */}}
{{- define "grace-operator.registerWebhooks" -}}
{{- if and .Values.webhook.enabled (or .Values.webhook.certManager.enabled .Values.webhook.caBundle) -}}
true
{{- end -}}
{{- end }}
