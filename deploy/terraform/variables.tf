# ---------------------------------------------------------------------------------------------------------------------
# Where: tenancy, region, compartment, network. Resource Manager fills tenancy_ocid, region and compartment_ocid itself.
# ---------------------------------------------------------------------------------------------------------------------

variable "tenancy_ocid" {
  type        = string
  description = "OCID of the tenancy. The connector reads the _Audit logs of this (root) compartment and, by default, all its subcompartments."

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.", var.tenancy_ocid))
    error_message = "The tenancy_ocid must be a tenancy OCID (ocid1.tenancy.…)."
  }
}

variable "region" {
  type        = string
  description = "The region this apply deploys to (bucket, connector, function, rule, log, alarms), e.g. eu-amsterdam-1. Every region has its own apply and state: make apply runs one per region of regions; Resource Manager fills it with the stack's region."

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be a region identifier such as eu-amsterdam-1 or us-ashburn-1 (not a region key such as AMS)."
  }
}

variable "regions" {
  type        = list(string)
  default     = []
  description = "The regions the forwarder runs in, each with its own apply. Empty: every region the tenancy is subscribed to. A list must include the tenancy's home region, where OCI records the audit events of IAM changes."

  validation {
    condition     = alltrue([for region in var.regions : can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", region))])
    error_message = "The regions must be region identifiers such as eu-frankfurt-1 (not region keys such as FRA)."
  }
}

variable "home_region" {
  type        = string
  default     = ""
  description = "The tenancy's home region, where IAM resources must be written. Empty: the home region of the tenancy's region subscriptions (the usual choice)."

  validation {
    condition     = var.home_region == "" || can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.home_region))
    error_message = "The home_region must be empty or a region identifier such as eu-frankfurt-1."
  }
}

variable "compartment_ocid" {
  type        = string
  description = "Compartment for the bucket, connector, Functions application, Events rule and Vault secret (the seed recommends a compartment for generic or maintenance resources). Not the root compartment: policies are scoped to it."

  validation {
    condition     = can(regex("^ocid1\\.compartment\\.", var.compartment_ocid))
    error_message = "The compartment_ocid must be a compartment OCID (ocid1.compartment.…); the root compartment is not supported, so that policies stay scoped."
  }
}

variable "subnet_ocid" {
  type        = string
  default     = ""
  description = "Subnet for this region's Functions application (the seed uses a private subnet), when subnet_ocids has no entry for the region. It needs egress to the Logz.io listener on port 8071 (NAT gateway) and to Object Storage, Vault and Monitoring (service gateway or NAT)."

  validation {
    condition     = var.subnet_ocid == "" || can(regex("^ocid1\\.subnet\\.", var.subnet_ocid))
    error_message = "The subnet_ocid must be empty or a subnet OCID (ocid1.subnet.…)."
  }
}

variable "subnet_ocids" {
  type        = map(string)
  default     = {}
  description = "Subnet of each region's Functions application, by region identifier (subnets are regional), e.g. { \"eu-frankfurt-1\" = \"ocid1.subnet.…\" }. A region without an entry uses subnet_ocid."

  validation {
    condition     = alltrue([for region, subnet in var.subnet_ocids : can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", region)) && can(regex("^ocid1\\.subnet\\.", subnet))])
    error_message = "The subnet_ocids must map region identifiers (eu-frankfurt-1) to subnet OCIDs (ocid1.subnet.…)."
  }
}

variable "network_compartment_ocid" {
  type        = string
  default     = ""
  description = "Compartment of the subnets (the Functions service is granted their network there). Empty: the compartment of the home region's subnet. The Resource Manager form also picks the VCN and subnet from it."

  validation {
    condition     = var.network_compartment_ocid == "" || can(regex("^ocid1\\.(compartment|tenancy)\\.", var.network_compartment_ocid))
    error_message = "The network_compartment_ocid must be empty or a compartment OCID (ocid1.compartment.…)."
  }
}

variable "vcn_ocid" {
  type        = string
  default     = ""
  description = "Only used by the Resource Manager form to pick the subnet; ignored by Terraform."
}

variable "freeform_tags" {
  type        = map(string)
  default     = {}
  description = "Free-form tags put on every taggable resource of the stack."
}

# ---------------------------------------------------------------------------------------------------------------------
# Names: default to the seed's console names.
# ---------------------------------------------------------------------------------------------------------------------

variable "bucket_name" {
  type        = string
  default     = "logfile_download_bucket"
  description = "Bucket that receives the connector's audit log objects (and the forwarder's progress records)."

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,256}$", var.bucket_name))
    error_message = "The bucket_name may hold only letters, digits, '.', '_' and '-' (1-256 characters)."
  }
}

variable "application_name" {
  type        = string
  default     = "logzio"
  description = "Display name of the Functions application (`make deploy APP=…`)."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,254}$", var.application_name))
    error_message = "The application_name must start with a letter and hold only letters, digits, '_' and '-'."
  }
}

variable "function_name" {
  type        = string
  default     = "logzio-from-bucket"
  description = "Display name of the function; keep it equal to `name` in func.yaml so `fn deploy` updates this function."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,254}$", var.function_name))
    error_message = "The function_name must start with a letter and hold only letters, digits, '_' and '-'."
  }
}

variable "connector_name" {
  type        = string
  default     = "Logfile_audit_archive_connector"
  description = "Display name of the Connector Hub (Service Connector) that archives audit logs to the bucket."

  validation {
    condition     = length(trimspace(var.connector_name)) > 0 && length(var.connector_name) <= 255
    error_message = "The connector_name must be 1-255 characters."
  }
}

variable "rule_name" {
  type        = string
  default     = "Process audit file from audit bucket"
  description = "Display name of the Events rule that invokes the function for each new object."

  validation {
    condition     = length(trimspace(var.rule_name)) > 0 && length(var.rule_name) <= 255
    error_message = "The rule_name must be 1-255 characters."
  }
}

variable "dynamic_group_name" {
  type        = string
  default     = "logzio-from-bucket-fn"
  description = "Name of the dynamic group that matches exactly the forwarder functions, one per region (their resource principals)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,100}$", var.dynamic_group_name))
    error_message = "The dynamic_group_name may hold only letters, digits, '.', '_' and '-' (1-100 characters)."
  }
}

variable "policy_name" {
  type        = string
  default     = "logzio-forwarder-policy"
  description = "Name of the IAM policy (attached to the tenancy, written by the home region's apply) holding the least-privilege statements of the flow in every region."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,100}$", var.policy_name))
    error_message = "The policy_name may hold only letters, digits, '.', '_' and '-' (1-100 characters)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Bucket and connector.
# ---------------------------------------------------------------------------------------------------------------------

variable "retention_days" {
  type        = number
  default     = 3
  description = "Lifecycle rule: delete audit objects (input prefix) and progress records (state prefix) after this many days."

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 3650 && floor(var.retention_days) == var.retention_days
    error_message = "The retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "input_prefix" {
  type        = string
  default     = "audit"
  description = "Object name prefix the connector writes under; also the function's input-prefix (they must match)."

  validation {
    condition     = can(regex("^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,199}$", var.input_prefix))
    error_message = "The input_prefix must be 1-200 characters of letters, digits, '.', '_', '-' and '/', not starting with '/'."
  }
}

variable "state_prefix" {
  type        = string
  default     = "forwarder-state/"
  description = "Prefix of the forwarder's per-object progress records; must lie outside input_prefix."

  validation {
    condition     = can(regex("^[A-Za-z0-9._-][A-Za-z0-9._/-]{0,199}/$", var.state_prefix))
    error_message = "The state_prefix must end with '/' and hold only letters, digits, '.', '_', '-' and '/'."
  }
}

variable "audit_include_subcompartments" {
  type        = bool
  default     = true
  description = "Read the _Audit log group of the tenancy with all subcompartments (the seed's 'Include _Audit in subcompartments')."
}

variable "connector_batch_rollover_size_mbs" {
  type        = number
  default     = 100
  description = "Connector target: start a new object after this many MB. Smaller objects mean shorter function runs."

  validation {
    condition     = var.connector_batch_rollover_size_mbs >= 1 && var.connector_batch_rollover_size_mbs <= 100 && floor(var.connector_batch_rollover_size_mbs) == var.connector_batch_rollover_size_mbs
    error_message = "The connector_batch_rollover_size_mbs must be a whole number of MB between 1 and 100."
  }
}

variable "connector_batch_rollover_time_ms" {
  type        = number
  default     = 60000
  description = "Connector target: start a new object after this many milliseconds. 60000 (OCI's minimum) makes a record searchable in Logz.io within about two minutes, at one object and one invocation per minute; up to 420000 (7 minutes) for fewer."

  validation {
    condition     = var.connector_batch_rollover_time_ms >= 60000 && var.connector_batch_rollover_time_ms <= 420000 && floor(var.connector_batch_rollover_time_ms) == var.connector_batch_rollover_time_ms
    error_message = "The connector_batch_rollover_time_ms must be a whole number between 60000 (1 minute) and 420000 (7 minutes)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Function.
# ---------------------------------------------------------------------------------------------------------------------

variable "function_image" {
  type        = string
  description = "Function image in this region's OCIR, e.g. {region}.ocir.io/<namespace>/logzio/logzio-from-bucket:0.1.0, where {region} stands for the apply's region (OCI Functions pulls only from the function's own region; make deploy pushes the image to every region). Build and push it first; see docs/deployment.md."

  validation {
    condition     = can(regex("^([a-z0-9.-]+|\\{region\\}\\.ocir)\\.[a-z]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$", var.function_image))
    error_message = "The function_image must be a registry image reference with a tag or digest, e.g. {region}.ocir.io/<namespace>/logzio/logzio-from-bucket:0.1.0."
  }
}

variable "application_shape" {
  type        = string
  default     = "GENERIC_X86"
  description = "Processor architecture of the Functions application; the image must be built for it (fn build on Apple silicon builds arm64)."

  validation {
    condition     = contains(["GENERIC_X86", "GENERIC_ARM", "GENERIC_X86_ARM"], var.application_shape)
    error_message = "The application_shape must be GENERIC_X86, GENERIC_ARM or GENERIC_X86_ARM."
  }
}

variable "function_memory_mb" {
  type        = number
  default     = 256
  description = "Function memory in MB. The pipeline streams each object, so memory stays flat; 256 MB matches func.yaml."

  validation {
    condition     = contains([128, 256, 512, 1024, 2048, 3072], var.function_memory_mb)
    error_message = "The function_memory_mb must be one of 128, 256, 512, 1024, 2048, 3072."
  }
}

variable "function_timeout_seconds" {
  type        = number
  default     = 300
  description = "Function timeout in seconds (OCI maximum 300, as in func.yaml). The forwarder stops starting batches deadline_margin_seconds before it."

  validation {
    condition     = var.function_timeout_seconds >= 30 && var.function_timeout_seconds <= 300 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "The function_timeout_seconds must be a whole number between 30 and 300."
  }
}

variable "deadline_margin_seconds" {
  type        = number
  default     = 10
  description = "Config deadline-margin-seconds: stop starting new batches this long before the invocation deadline."

  validation {
    condition     = var.deadline_margin_seconds >= 0 && var.deadline_margin_seconds <= 290
    error_message = "The deadline_margin_seconds must be between 0 and 290."
  }
}

variable "batch_max_bytes" {
  type        = number
  default     = null
  description = "Config batch-max-bytes: cap on one uncompressed request body to Logz.io. Null: the forwarder's default."

  validation {
    condition     = var.batch_max_bytes == null ? true : (var.batch_max_bytes >= 1024 && var.batch_max_bytes <= 10485760 && floor(var.batch_max_bytes) == var.batch_max_bytes)
    error_message = "The batch_max_bytes must be null or a whole number of bytes between 1024 and 10485760."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Logz.io listener and token.
# ---------------------------------------------------------------------------------------------------------------------

variable "logzio_region" {
  type        = string
  default     = ""
  description = "Logz.io account region (us, eu, uk, ca, au, nl, wa), a shortcut for the listener host. Set exactly one of logzio_region and logzio_url."

  validation {
    condition     = contains(["", "us", "eu", "uk", "ca", "au", "nl", "wa"], var.logzio_region)
    error_message = "The logzio_region must be empty or one of us, eu, uk, ca, au, nl, wa."
  }
}

variable "logzio_url" {
  type        = string
  default     = ""
  description = "Logz.io listener as host:port (e.g. listener-eu.logz.io:8071) or https URL, without the token. Set exactly one of logzio_region and logzio_url."

  validation {
    condition     = var.logzio_url == "" || can(regex("^(https://)?[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.logzio_url))
    error_message = "The logzio_url must be host[:port] or https://host[:port]/, with no query string and no token."
  }
}

variable "logzio_type" {
  type        = string
  default     = "oci-audit"
  description = "Logz.io log type (config logzio-type) every line is filed under; no spaces. oci-audit: one type for OCI audit records, which parsing rules and SIEM content can key on."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.@:-]+$", var.logzio_type))
    error_message = "The logzio_type may contain only letters, digits and _ . @ : - (no spaces)."
  }
}

variable "logzio_token" {
  type        = string
  default     = ""
  sensitive   = true
  description = "Logz.io shipping token. With create_vault_secret = false it becomes the function's logzio-token config (visible to anyone who may read the function); with create_vault_secret = true it is stored in a Vault secret instead. Leave empty when logzio_token_secret_ocid is set. It is kept in the Terraform state either way."

  validation {
    condition     = var.logzio_token == "" || can(regex("^[^\\s&?#=/]+$", var.logzio_token))
    error_message = "The logzio_token must be the bare shipping token (no whitespace, no URL syntax)."
  }
}

variable "logzio_token_secret_ocid" {
  type        = string
  default     = ""
  description = "OCID of an existing Vault secret that holds the shipping token (config logzio-token-secret-id). Leave empty to pass logzio_token instead."

  validation {
    condition     = var.logzio_token_secret_ocid == "" || can(regex("^ocid1\\.vaultsecret\\.", var.logzio_token_secret_ocid))
    error_message = "The logzio_token_secret_ocid must be empty or a Vault secret OCID (ocid1.vaultsecret.…)."
  }
}

variable "logzio_token_secret_region" {
  type        = string
  default     = ""
  description = "Region of the vault holding logzio_token_secret_ocid. Empty: the home region. Functions in other regions read the secret at that region's Secrets endpoint."

  validation {
    condition     = var.logzio_token_secret_region == "" || can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.logzio_token_secret_region))
    error_message = "The logzio_token_secret_region must be empty or a region identifier such as eu-frankfurt-1."
  }
}

variable "create_vault_secret" {
  type        = bool
  default     = false
  description = "Store logzio_token in a new Vault secret (in vault_ocid, encrypted with vault_key_ocid; the home region's apply creates it) and give every region's function only its OCID."
}

variable "vault_ocid" {
  type        = string
  default     = ""
  description = "Vault for the secret created when create_vault_secret = true: a vault in the home region."

  validation {
    condition     = var.vault_ocid == "" || can(regex("^ocid1\\.vault\\.", var.vault_ocid))
    error_message = "The vault_ocid must be empty or a Vault OCID (ocid1.vault.…)."
  }
}

variable "vault_key_ocid" {
  type        = string
  default     = ""
  description = "Master encryption key (AES) in vault_ocid for the secret created when create_vault_secret = true."

  validation {
    condition     = var.vault_key_ocid == "" || can(regex("^ocid1\\.key\\.", var.vault_key_ocid))
    error_message = "The vault_key_ocid must be empty or a key OCID (ocid1.key.…)."
  }
}

variable "vault_secret_name" {
  type        = string
  default     = "logzio-shipping-token"
  description = "Name of the secret created when create_vault_secret = true (unique in the vault, including secrets pending deletion)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.vault_secret_name))
    error_message = "The vault_secret_name may hold only letters, digits, '.', '_' and '-'."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Optional IAM parts.
# ---------------------------------------------------------------------------------------------------------------------

variable "create_functions_service_policy" {
  type        = bool
  default     = true
  description = "Add 'Allow service faas to use virtual-network-family' in the subnet's compartment, which the Functions service needs to attach the application to the subnet. Disable if the tenancy already grants it."
}

variable "bucket_kms_key_ocids" {
  type        = map(string)
  default     = {}
  description = "Optional customer-managed Vault keys (AES) that encrypt the buckets, by region identifier (keys are regional); the home region's apply lets each region's Object Storage use its key. A region without an entry: an Oracle-managed key."

  validation {
    condition     = alltrue([for region, key in var.bucket_kms_key_ocids : can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", region)) && can(regex("^ocid1\\.key\\.", key))])
    error_message = "The bucket_kms_key_ocids must map region identifiers (eu-frankfurt-1) to key OCIDs (ocid1.key.…)."
  }
}

variable "forwarder_function_ids" {
  type        = list(string)
  default     = []
  description = "OCIDs of the forwarder functions of the other regions (their applies' function_id output), for the home region's dynamic group. make apply fills it; with Resource Manager, paste them into the home region's stack and apply it again."

  validation {
    condition     = alltrue([for id in var.forwarder_function_ids : can(regex("^ocid1\\.fnfunc\\.", id))])
    error_message = "The forwarder_function_ids must be function OCIDs (ocid1.fnfunc.…)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Catch-up and metrics (function config); alarms on the metrics (monitoring.tf).
# ---------------------------------------------------------------------------------------------------------------------

variable "catch_up" {
  type        = string
  default     = ""
  description = "Config catch-up: on or off (after its own work, every invocation finishes unfinished objects of the bucket). Empty: the forwarder's default (on)."

  validation {
    condition     = contains(["", "on", "off"], var.catch_up)
    error_message = "The catch_up must be empty, on or off."
  }
}

variable "catch_up_after_seconds" {
  type        = number
  default     = null
  description = "Config catch-up-after-seconds: an object with no progress at all is caught up once it is this old. Null: the forwarder's default (600)."

  validation {
    condition     = var.catch_up_after_seconds == null ? true : (var.catch_up_after_seconds >= 1 && var.catch_up_after_seconds <= 2592000 && floor(var.catch_up_after_seconds) == var.catch_up_after_seconds)
    error_message = "The catch_up_after_seconds must be null or a whole number of seconds between 1 and 2592000 (30 days)."
  }
}

variable "reshape" {
  type        = string
  default     = ""
  description = "Config reshape: on or off (on: every line is made to satisfy Logz.io's rules and the record's type moves to eventType; off: records are shipped as decoded). Empty: the forwarder's default (on)."

  validation {
    condition     = contains(["", "on", "off"], var.reshape)
    error_message = "The reshape must be empty, on or off."
  }
}

variable "unwrap" {
  type        = string
  default     = ""
  description = "Config unwrap: on or off (on: a Logging entry {\"datetime\": …, \"logContent\": {record}} is shipped as its inner record; off: whole). Empty: the forwarder's default (on)."

  validation {
    condition     = contains(["", "on", "off"], var.unwrap)
    error_message = "The unwrap must be empty, on or off."
  }
}

variable "metrics" {
  type        = string
  default     = ""
  description = "Config metrics: on or off (post each invocation's numbers to OCI Monitoring). Empty: the forwarder's default (on). The alarms need it on."

  validation {
    condition     = contains(["", "on", "off"], var.metrics)
    error_message = "The metrics must be empty, on or off."
  }
}

variable "metrics_namespace" {
  type        = string
  default     = "logzio_forwarder"
  description = "Config metrics-namespace: the Monitoring namespace the function posts to, the alarms query and the IAM statement is narrowed to."

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,255}$", var.metrics_namespace)) && !can(regex("(?i)^(oci_|oracle_)", var.metrics_namespace))
    error_message = "The metrics_namespace must start with a letter, hold only letters, digits and _, and not start with oci_ or oracle_ (reserved)."
  }
}

variable "metrics_compartment_ocid" {
  type        = string
  default     = ""
  description = "Config metrics-compartment-id: the compartment the metrics are posted in (and the alarms read). Empty: the function's own compartment (compartment_ocid)."

  validation {
    condition     = var.metrics_compartment_ocid == "" || can(regex("^ocid1\\.compartment\\.", var.metrics_compartment_ocid))
    error_message = "The metrics_compartment_ocid must be empty or a compartment OCID (ocid1.compartment.…)."
  }
}

variable "monitoring_endpoint" {
  type        = string
  default     = ""
  description = "Config monitoring-endpoint: overrides the Monitoring ingestion endpoint (https://telemetry-ingestion.<region>.oraclecloud.com). Empty: the region's."

  validation {
    condition     = var.monitoring_endpoint == "" || can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.monitoring_endpoint))
    error_message = "The monitoring_endpoint must be empty or an https URL such as https://telemetry-ingestion.eu-amsterdam-1.oraclecloud.com."
  }
}

variable "create_alarms" {
  type        = bool
  default     = true
  description = "Create, in each region, a Notifications topic and the four alarms on the forwarder's metrics and on the function's errors (monitoring.tf)."
}

variable "alarm_email" {
  type        = string
  default     = ""
  description = "E-mail address subscribed to each region's alarm topic (the address must confirm each subscription from the mail it receives). Empty: no subscription; add your own to the topics."

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "The alarm_email must be empty or an e-mail address."
  }
}

variable "alarm_topic_name" {
  type        = string
  default     = "logzio-forwarder-alarms"
  description = "Name of the Notifications topics the alarms publish to; each region's topic is this name followed by -<region>."

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.alarm_topic_name))
    error_message = "The alarm_topic_name may hold only letters, digits, '_' and '-' (1-200 characters; the region is appended)."
  }
}

variable "silence_alarm_minutes" {
  type        = number
  default     = 60
  description = "Alarm when the function has posted no RecordsForwarded for this many minutes (the connector, the rule or the function has stopped). Up to 60, or whole hours up to 1440; fit it to the tenancy's quietest hours."

  validation {
    condition     = floor(var.silence_alarm_minutes) == var.silence_alarm_minutes && var.silence_alarm_minutes >= 5 && (var.silence_alarm_minutes <= 60 || (var.silence_alarm_minutes <= 1440 && var.silence_alarm_minutes % 60 == 0))
    error_message = "The silence_alarm_minutes must be a whole number of minutes from 5 to 60, or whole hours up to 1440 (MQL intervals are 1m-60m and 1h-24h)."
  }
}

variable "delivery_lag_alarm_seconds" {
  type        = number
  default     = 1800
  description = "Alarm when the forwarder's delivery lag (metric DeliveryLagSeconds, its maximum over 5 minutes) exceeds this many seconds."

  validation {
    condition     = var.delivery_lag_alarm_seconds >= 60 && floor(var.delivery_lag_alarm_seconds) == var.delivery_lag_alarm_seconds
    error_message = "The delivery_lag_alarm_seconds must be a whole number of seconds, at least 60."
  }
}

variable "log_group_name" {
  type        = string
  default     = "logzio-forwarder"
  description = "Display name of the log group holding the function's invocation log (unique in the compartment)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.log_group_name))
    error_message = "The log_group_name may hold only letters, digits, '.', '_' and '-' (1-255 characters)."
  }
}

variable "function_log_retention_days" {
  type        = number
  default     = 30
  description = "How long Logging keeps the function's invocation log: 30, 60, 90, 120, 150 or 180 days."

  validation {
    condition     = contains([30, 60, 90, 120, 150, 180], var.function_log_retention_days)
    error_message = "The function_log_retention_days must be one of 30, 60, 90, 120, 150, 180."
  }
}
