{{/*
Shared pieces of the Deployment and the pre-install topics Job: names,
labels, the config file, the environment and the mounted secrets. Both run
the same image with the same config and secrets, so `topics` checks exactly
what `serve` will use.
*/}}

{{- define "hotlist-matcher.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hotlist-matcher.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hotlist-matcher.labels" -}}
{{ include "hotlist-matcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "hotlist-matcher.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Where the config map and the secrets are mounted. */}}
{{- define "hotlist-matcher.configDir" -}}/etc/hotlist-matcher{{- end -}}
{{- define "hotlist-matcher.secretDir" -}}/var/run/secrets/hotlist{{- end -}}

{{/*
The config file: .Values.config rendered as a template, so it can name the
ports and the mounted paths from the values.
*/}}
{{- define "hotlist-matcher.config" -}}
{{ tpl .Values.config . }}
{{- end -}}

{{/*
The config file parsed, for the checks below; fails the render when it is
not TOML.
*/}}
{{- define "hotlist-matcher.checkConfig" -}}
{{- $config := include "hotlist-matcher.config" . | fromToml -}}
{{- if hasKey $config "Error" -}}
{{- fail (printf "config is not valid TOML: %s" $config.Error) -}}
{{- end -}}
{{- $partitions := .Values.kafka.readsPartitions | default ((($config.topics | default dict).partitions) | default 0) | int -}}
{{- if and (gt $partitions 0) (gt (int .Values.replicaCount) $partitions) -}}
{{- fail (printf "replicaCount %d is more than the %d partitions of the reads topic: the extra replicas would match nothing (raise topics.partitions, or kafka.readsPartitions for an existing topic)" (int .Values.replicaCount) $partitions) -}}
{{- end -}}
{{- end -}}

{{/* The files of the config map: the config and the empty hotlist file. */}}
{{- define "hotlist-matcher.configData" -}}
config.toml: |
{{ include "hotlist-matcher.config" . | indent 2 }}
# The service reads a hotlist file at start; the lists themselves arrive
# through uploads and the hotlist topic, so the chart gives it an empty one.
hotlist.csv: |
  entry_id,list_id,plate,category
{{- end -}}

{{/*
The environment shared by serve and topics; called with (dict "root" .
"saslSecret" NAME): the Secret with the SCRAM username and password, which
differs for the topics Job (the ops user creates topics, the service user
cannot).
*/}}
{{- define "hotlist-matcher.env" -}}
{{- $sasl := .saslSecret }}
{{- with .root -}}
- name: HOTLIST_CONFIG
  value: {{ include "hotlist-matcher.configDir" . }}/config.toml
- name: HOTLIST_HOTLIST_PATH
  value: {{ include "hotlist-matcher.configDir" . }}/hotlist.csv
- name: HOTLIST_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: HOTLIST_GROUP_ID
  value: {{ .Values.kafka.groupId | quote }}
- name: HOTLIST_LOG
  value: {{ .Values.logLevel | quote }}
- name: HOTLIST_SERVICE_KEY_FILE
  value: {{ include "hotlist-matcher.secretDir" . }}/service-key
- name: HOTLIST_MASTER_KEY_FILE
  value: {{ include "hotlist-matcher.secretDir" . }}/master-key
{{- with .Values.kafka.securityProtocol }}
- name: HOTLIST_KAFKA_PROPERTY_SECURITY_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- if $sasl }}
- name: HOTLIST_KAFKA_PROPERTY_SASL_MECHANISMS
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: HOTLIST_KAFKA_PROPERTY_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $sasl }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $sasl }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- if .Values.kafka.caSecret.name }}
- name: HOTLIST_KAFKA_PROPERTY_SSL_CA_LOCATION
  value: {{ include "hotlist-matcher.secretDir" . }}/kafka-ca.crt
{{- end }}
{{- range $name, $value := .Values.kafka.properties }}
- name: HOTLIST_KAFKA_PROPERTY_{{ $name | upper | replace "." "_" }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "hotlist-matcher.envFrom" -}}
{{- if .Values.kafka.propertiesSecret -}}
envFrom:
  - secretRef:
      name: {{ .Values.kafka.propertiesSecret }}
{{- end -}}
{{- end -}}

{{/*
Every secret in one read-only directory (secretDir): the API's certificate,
the service key, the master key, the Kafka CA and the webhook secrets.
*/}}
{{- define "hotlist-matcher.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ .root.Values.tls.secretName }}
          items:
            - key: tls.crt
              path: tls.crt
            - key: tls.key
              path: tls.key
      - secret:
          name: {{ .root.Values.serviceKey.secretName }}
          items:
            - key: {{ .root.Values.serviceKey.key }}
              path: service-key
      - secret:
          name: {{ .root.Values.masterKey.secretName }}
          items:
            - key: {{ .root.Values.masterKey.key }}
              path: master-key
      {{- if .root.Values.kafka.caSecret.name }}
      - secret:
          name: {{ .root.Values.kafka.caSecret.name }}
          items:
            - key: {{ .root.Values.kafka.caSecret.key }}
              path: kafka-ca.crt
      {{- end }}
      {{- range .root.Values.webhookSecrets }}
      - secret:
          name: {{ .secretName }}
          items:
            - key: {{ .key }}
              path: webhook-{{ .name }}
      {{- end }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}

{{- define "hotlist-matcher.volumeMounts" -}}
- name: config
  mountPath: {{ include "hotlist-matcher.configDir" . }}
  readOnly: true
- name: secrets
  mountPath: {{ include "hotlist-matcher.secretDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "hotlist-matcher.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "hotlist-matcher.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
