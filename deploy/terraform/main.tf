# The seed's flow: Connector Hub (_Audit, POST/PUT/DELETE) -> bucket -> Events (Object - Create) -> function -> Logz.io,
# in var.region. One apply per subscribed region (docs/deployment.md, "Every region of the tenancy").

data "oci_objectstorage_namespace" "this" {
  compartment_id = var.tenancy_ocid
}

# The tenancy's regions; exactly one is its home region, where IAM resources must be written and where OCI records the
# audit events of IAM changes.
data "oci_identity_region_subscriptions" "this" {
  tenancy_id = var.tenancy_ocid
}

locals {
  subscribed = [
    for subscription in data.oci_identity_region_subscriptions.this.region_subscriptions :
    subscription.region_name if subscription.state == "READY"
  ]
  home_region = var.home_region != "" ? var.home_region : one([
    for subscription in data.oci_identity_region_subscriptions.this.region_subscriptions :
    subscription.region_name if subscription.is_home_region
  ])
  # The regions the forwarder runs in: the listed ones, or every subscribed region. Each has its own apply and state;
  # this one is var.region.
  regions = length(var.regions) > 0 ? distinct(var.regions) : local.subscribed
  is_home = var.region == local.home_region
  # OCI Functions pulls the image from its own region's registry, which answers as <region>.ocir.io and <key>.ocir.io.
  own_registries = concat(["${var.region}.ocir.io"], [
    for subscription in data.oci_identity_region_subscriptions.this.region_subscriptions :
    "${lower(subscription.region_key)}.ocir.io" if subscription.region_name == var.region
  ])
  namespace = data.oci_objectstorage_namespace.this.namespace
  subnet_id = lookup(var.subnet_ocids, var.region, var.subnet_ocid)
  # "{region}" in function_image stands for this apply's region: one value serves every region's registry.
  function_image = replace(var.function_image, "{region}", var.region)

  # How the function gets the shipping token. Derived from non-sensitive variables only, so it can drive `count`:
  #   config          -> function config logzio-token = var.logzio_token
  #   new-secret      -> a Vault secret is created from var.logzio_token (in the home region's apply, in vault_ocid,
  #                      a vault of the home region); config logzio-token-secret-id = its OCID in every region
  #   existing-secret -> config logzio-token-secret-id = var.logzio_token_secret_ocid
  token_mode = var.logzio_token_secret_ocid != "" ? "existing-secret" : (var.create_vault_secret ? "new-secret" : "config")
  token_secret_id = (
    local.token_mode == "existing-secret" ? var.logzio_token_secret_ocid :
    local.token_mode == "config" ? null :
    local.is_home ? one(oci_vault_secret.logzio_token[*].id) : one(data.oci_vault_secrets.shared[0].secrets[*].id)
  )
  # One secret serves every region: a function outside the secret's region reads it at that region's Secrets endpoint.
  secret_region = local.token_mode == "existing-secret" && var.logzio_token_secret_region != "" ? var.logzio_token_secret_region : local.home_region
  secrets_endpoint = (
    local.token_mode != "config" && local.secret_region != var.region ?
    "https://secrets.vaults.${local.secret_region}.oci.oraclecloud.com" : null
  )

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
    "secrets-endpoint"        = local.secrets_endpoint
    "batch-max-bytes"         = var.batch_max_bytes != null ? tostring(var.batch_max_bytes) : null
    "deadline-margin-seconds" = tostring(var.deadline_margin_seconds)
    "catch-up"                = var.catch_up != "" ? var.catch_up : null
    "catch-up-after-seconds"  = var.catch_up_after_seconds != null ? tostring(var.catch_up_after_seconds) : null
    "metrics"                 = var.metrics != "" ? var.metrics : null
    # Always set, so that the alarms and the IAM where-clause name the namespace the function posts to.
    "metrics-namespace"      = var.metrics_namespace
    "metrics-compartment-id" = var.metrics_compartment_ocid != "" ? var.metrics_compartment_ocid : null
    "monitoring-endpoint"    = var.monitoring_endpoint != "" ? var.monitoring_endpoint : null
    "reshape"                = var.reshape != "" ? var.reshape : null
    "unwrap"                 = var.unwrap != "" ? var.unwrap : null
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

# The deployment's shape, checked before anything is created: the home region is always deployed, and this apply's
# region is one of the deployed regions. It holds nothing, so a change of the list changes nothing here.
resource "terraform_data" "regions" {
  lifecycle {
    precondition {
      condition     = contains(local.regions, local.home_region)
      error_message = "The regions list leaves out the tenancy's home region ${local.home_region}: OCI records the audit events of IAM changes (users, groups, policies, dynamic groups) only in the home region, and the forwarder's IAM can only be written there. Add ${local.home_region} to regions, or leave regions empty for every subscribed region."
    }
    precondition {
      condition     = length(setsubtract(local.regions, local.subscribed)) == 0
      error_message = "The regions list names regions the tenancy is not subscribed to (${join(", ", setsubtract(local.regions, local.subscribed))}); subscribed: ${join(", ", local.subscribed)}."
    }
    precondition {
      condition     = contains(local.regions, var.region)
      error_message = "This apply's region ${var.region} is not in regions (${join(", ", local.regions)}): apply only the listed regions. A region taken off the list is removed with terraform destroy in its own workspace (docs/deployment.md)."
    }
  }
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
  kms_key_id            = lookup(var.bucket_kms_key_ocids, var.region, null)
  freeform_tags         = var.freeform_tags

  # Object Storage checks, when the bucket is created, that its service principal may use the key (the grant is
  # written by the home region's apply, which make apply runs first).
  depends_on = [terraform_data.regions, oci_identity_policy.bucket_key]
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
  subnet_ids     = [local.subnet_id]
  shape          = var.application_shape
  freeform_tags  = var.freeform_tags

  depends_on = [oci_identity_policy.functions_network]
}

resource "oci_functions_function" "forwarder" {
  application_id     = oci_functions_application.logzio.id
  display_name       = var.function_name
  image              = local.function_image
  memory_in_mbs      = var.function_memory_mb
  timeout_in_seconds = var.function_timeout_seconds
  config             = local.function_config
  freeform_tags      = var.freeform_tags

  lifecycle {
    precondition {
      condition     = local.subnet_id != ""
      error_message = "Give the subnet of ${var.region}: subnet_ocids[\"${var.region}\"], or subnet_ocid (subnets are regional, so each region needs its own)."
    }
    precondition {
      condition     = contains(local.own_registries, split("/", local.function_image)[0])
      error_message = "The function_image ${local.function_image} is not in ${var.region}'s registry (${join(" or ", local.own_registries)}): OCI Functions pulls only from the function's own region. Push the image there (make deploy pushes to every region) and write function_image with {region} as the host's region."
    }
    precondition {
      condition     = local.token_mode != "new-secret" || local.token_secret_id != null
      error_message = "No Vault secret ${var.vault_secret_name} in vault_ocid yet: the home region's apply (${local.home_region}) creates it, so apply the home region first (make apply does)."
    }
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
