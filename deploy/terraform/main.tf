# The seed's flow: Connector Hub (_Audit, POST/PUT/DELETE) -> bucket -> Events (Object - Create) -> function -> Logz.io.

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

# The tenancy's regions; exactly one is its home region, where IAM resources must be written.
data "oci_identity_region_subscriptions" "this" {
  tenancy_id = var.tenancy_ocid
}

locals {
  home_region = var.home_region != "" ? var.home_region : one([
    for subscription in data.oci_identity_region_subscriptions.this.region_subscriptions :
    subscription.region_name if subscription.is_home_region
  ])
  namespace = data.oci_objectstorage_namespace.this.namespace

  # How the function gets the shipping token. Derived from non-sensitive variables only, so it can drive `count`:
  #   config          -> function config logzio-token = var.logzio_token
  #   new-secret      -> a Vault secret is created from var.logzio_token; config logzio-token-secret-id = its OCID
  #   existing-secret -> config logzio-token-secret-id = var.logzio_token_secret_ocid
  token_mode      = var.logzio_token_secret_ocid != "" ? "existing-secret" : (var.create_vault_secret ? "new-secret" : "config")
  token_secret_id = local.token_mode == "existing-secret" ? var.logzio_token_secret_ocid : one(oci_vault_secret.logzio_token[*].id)

  # The seed's query: search "<tenancy>/_Audit_Include_Subcompartment" | (data.request.action='POST' or ...='PUT' or ...='DELETE')
  audit_log_group = var.audit_include_subcompartments ? "_Audit_Include_Subcompartment" : "_Audit"
  audit_filter    = "data.request.action='POST' or data.request.action='PUT' or data.request.action='DELETE'"

  # What the handler forwards: an Object Storage createobject event for this bucket (and compartment) whose object
  # name starts with the input prefix. Events matches "*" as a wildcard; the forwarder's own progress objects under
  # state_prefix (outside input_prefix) therefore cost no invocation.
  event_condition = {
    eventType = ["com.oraclecloud.objectstorage.createobject"]
    data = {
      compartmentId = [var.compartment_ocid]
      resourceName  = ["${var.input_prefix}*"]
      additionalDetails = {
        bucketName = [oci_objectstorage_bucket.audit.name]
      }
    }
  }

  # Function config: every key is one that logzio_forwarder/config.py reads (KEYS); null values are left out.
  function_config_candidates = {
    "input-bucket"            = oci_objectstorage_bucket.audit.name
    "namespace"               = local.namespace
    "input-prefix"            = var.input_prefix
    "state-prefix"            = var.state_prefix
    "logzio-region"           = var.logzio_region != "" ? var.logzio_region : null
    "logzio-url"              = var.logzio_url != "" ? var.logzio_url : null
    "logzio-type"             = var.logzio_type
    "logzio-token-secret-id"  = local.token_secret_id
    "batch-max-bytes"         = var.batch_max_bytes != null ? tostring(var.batch_max_bytes) : null
    "deadline-margin-seconds" = tostring(var.deadline_margin_seconds)
    "catch-up"                = var.catch_up != "" ? var.catch_up : null
    "catch-up-after-seconds"  = var.catch_up_after_seconds != null ? tostring(var.catch_up_after_seconds) : null
    "metrics"                 = var.metrics != "" ? var.metrics : null
    # Always set, so that the alarms and the IAM where-clause name the namespace the function posts to.
    "metrics-namespace"      = var.metrics_namespace
    "metrics-compartment-id" = var.metrics_compartment_ocid != "" ? var.metrics_compartment_ocid : null
    "monitoring-endpoint"    = var.monitoring_endpoint != "" ? var.monitoring_endpoint : null
  }
  # The token itself only in "config" mode (the filter tests the mode, never the sensitive value).
  function_config_token = {
    for key, value in { "logzio-token" = var.logzio_token } : key => value if local.token_mode == "config"
  }
  function_config = merge(
    { for key, value in local.function_config_candidates : key => value if value != null },
    local.function_config_token,
  )
}

# ---------------------------------------------------------------------------------------------------------------------
# Bucket: private, Standard tier, object events on, objects deleted after retention_days.
# ---------------------------------------------------------------------------------------------------------------------

resource "oci_objectstorage_bucket" "audit" {
  #checkov:skip=CKV_OCI_8:A staging buffer: objects are deleted after retention_days by design, the audit records stay in OCI Audit, and versions of the progress objects rewritten on every batch would only pile up.
  compartment_id        = var.compartment_ocid
  namespace             = local.namespace
  name                  = var.bucket_name
  access_type           = "NoPublicAccess"
  storage_tier          = "Standard"
  object_events_enabled = true
  versioning            = "Disabled"
  kms_key_id            = var.bucket_kms_key_ocid != "" ? var.bucket_kms_key_ocid : null
  freeform_tags         = var.freeform_tags

  # Object Storage checks, when the bucket is created, that its service principal may use the key.
  depends_on = [oci_identity_policy.bucket_key]
}

resource "oci_objectstorage_object_lifecycle_policy" "retention" {
  namespace = local.namespace
  bucket    = oci_objectstorage_bucket.audit.name

  rules {
    name        = "delete-after-${var.retention_days}-days"
    action      = "DELETE"
    target      = "objects"
    is_enabled  = true
    time_amount = var.retention_days
    time_unit   = "DAYS"

    object_name_filter {
      inclusion_prefixes = [var.input_prefix, var.state_prefix]
    }
  }

  # Object Storage checks, when the rule is written, that its service principal may delete in this bucket.
  depends_on = [oci_identity_policy.forwarder]
}

# ---------------------------------------------------------------------------------------------------------------------
# Connector Hub: Logging source _Audit (with subcompartments), the seed's POST/PUT/DELETE filter, Object Storage target.
# ---------------------------------------------------------------------------------------------------------------------

resource "oci_sch_service_connector" "audit_archive" {
  compartment_id = var.compartment_ocid
  display_name   = var.connector_name
  description    = "Archives OCI Audit records with request action POST, PUT or DELETE to ${var.bucket_name}/${var.input_prefix} for ${var.function_name}."
  freeform_tags  = var.freeform_tags

  source {
    kind = "logging"

    log_sources {
      compartment_id = var.tenancy_ocid
      log_group_id   = local.audit_log_group
    }
  }

  tasks {
    kind      = "logRule"
    condition = local.audit_filter
  }

  target {
    kind                       = "objectStorage"
    namespace                  = local.namespace
    bucket                     = oci_objectstorage_bucket.audit.name
    object_name_prefix         = var.input_prefix
    batch_rollover_size_in_mbs = var.connector_batch_rollover_size_mbs
    batch_rollover_time_in_ms  = var.connector_batch_rollover_time_ms
  }

  # The connector writes with its own principal; the policy must exist or the first objects are refused.
  depends_on = [oci_identity_policy.forwarder]
}

# ---------------------------------------------------------------------------------------------------------------------
# Functions application and function.
# ---------------------------------------------------------------------------------------------------------------------

resource "oci_functions_application" "logzio" {
  compartment_id = var.compartment_ocid
  display_name   = var.application_name
  subnet_ids     = [var.subnet_ocid]
  shape          = var.application_shape
  freeform_tags  = var.freeform_tags

  depends_on = [oci_identity_policy.functions_network]
}

resource "oci_functions_function" "forwarder" {
  application_id     = oci_functions_application.logzio.id
  display_name       = var.function_name
  image              = var.function_image
  memory_in_mbs      = var.function_memory_mb
  timeout_in_seconds = var.function_timeout_seconds
  config             = local.function_config
  freeform_tags      = var.freeform_tags

  lifecycle {
    precondition {
      condition     = (var.logzio_region != "") != (var.logzio_url != "")
      error_message = "Set exactly one of logzio_region and logzio_url."
    }
    precondition {
      condition     = !(var.create_vault_secret && var.logzio_token_secret_ocid != "")
      error_message = "Set either create_vault_secret = true (a new secret from logzio_token) or logzio_token_secret_ocid (an existing secret), not both."
    }
    precondition {
      condition     = local.token_mode == "existing-secret" ? var.logzio_token == "" : var.logzio_token != ""
      error_message = "Exactly one of logzio-token / logzio-token-secret-id must be set: give logzio_token (optionally with create_vault_secret = true), or logzio_token_secret_ocid, not both."
    }
    precondition {
      condition     = local.token_mode != "new-secret" || (var.vault_ocid != "" && var.vault_key_ocid != "")
      error_message = "With create_vault_secret = true, set vault_ocid and vault_key_ocid."
    }
    precondition {
      condition     = var.deadline_margin_seconds < var.function_timeout_seconds
      error_message = "The deadline_margin_seconds must be smaller than function_timeout_seconds."
    }
    precondition {
      condition     = substr(var.state_prefix, 0, length(var.input_prefix)) != var.input_prefix
      error_message = "The state_prefix must lie outside input_prefix, or the forwarder would ship its own progress records."
    }
    precondition {
      condition     = !(var.create_alarms && var.metrics == "off")
      error_message = "The alarms watch the forwarder's metrics: with metrics = \"off\" set create_alarms = false too."
    }
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Events rule: Object - Create in this bucket (and compartment) -> the function.
# ---------------------------------------------------------------------------------------------------------------------

resource "oci_events_rule" "object_created" {
  compartment_id = var.compartment_ocid
  display_name   = var.rule_name
  description    = "Invokes ${var.function_name} for every object the connector writes to ${var.bucket_name} under ${var.input_prefix}."
  is_enabled     = true
  condition      = jsonencode(local.event_condition)
  freeform_tags  = var.freeform_tags

  actions {
    action {
      action_type = "FAAS"
      is_enabled  = true
      function_id = oci_functions_function.forwarder.id
      description = "Forward the new audit object to Logz.io."
    }
  }

  depends_on = [oci_identity_policy.forwarder]
}
