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
  description = "Region identifier for the bucket, connector, function and rule, e.g. eu-amsterdam-1."

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be a region identifier such as eu-amsterdam-1 or us-ashburn-1 (not a region key such as AMS)."
  }
}

variable "home_region" {
  type        = string
  default     = ""
  description = "The tenancy's home region, where IAM resources must be written. Empty: same as region."

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
  description = "Subnet for the Functions application (the seed uses a private subnet). It needs egress to the Logz.io listener on port 8071 (NAT gateway) and to Object Storage and Vault (service gateway or NAT)."

  validation {
    condition     = can(regex("^ocid1\\.subnet\\.", var.subnet_ocid))
    error_message = "The subnet_ocid must be a subnet OCID (ocid1.subnet.…)."
  }
}

variable "network_compartment_ocid" {
  type        = string
  default     = ""
  description = "Only used by the Resource Manager form to pick the VCN and subnet; ignored by Terraform."
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
  description = "Name of the dynamic group that matches only this function (its resource principal)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,100}$", var.dynamic_group_name))
    error_message = "The dynamic_group_name may hold only letters, digits, '.', '_' and '-' (1-100 characters)."
  }
}

variable "policy_name" {
  type        = string
  default     = "logzio-forwarder-policy"
  description = "Name of the IAM policy (attached to the tenancy) holding the least-privilege statements of the flow."

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
  default     = 420000
  description = "Connector target: start a new object after this many milliseconds (420000 = 7 minutes)."

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
  description = "Function image in OCIR, e.g. eu-amsterdam-1.ocir.io/<namespace>/logzio/logzio-from-bucket:0.1.0 (build and push it first; see docs/deployment.md)."

  validation {
    condition     = can(regex("^[a-z0-9.-]+\\.[a-z]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9_.-]+|@sha256:[a-f0-9]{64})$", var.function_image))
    error_message = "The function_image must be a registry image reference with a tag or digest, e.g. eu-amsterdam-1.ocir.io/<namespace>/logzio/logzio-from-bucket:0.1.0."
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
  default     = "http-bulk"
  description = "Logz.io log type (config logzio-type); no spaces."

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

variable "create_vault_secret" {
  type        = bool
  default     = false
  description = "Store logzio_token in a new Vault secret (in vault_ocid, encrypted with vault_key_ocid) and give the function only its OCID."
}

variable "vault_ocid" {
  type        = string
  default     = ""
  description = "Vault for the secret created when create_vault_secret = true."

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

variable "create_ocir_push_user" {
  type        = bool
  default     = false
  description = "Create the seed's OCIR push identity: a user that may only use auth tokens, its group, the image repository, and a policy that lets the group push to that repository only. Generate the auth token in the console afterwards."
}

variable "ocir_user_name" {
  type        = string
  default     = "logzio_user"
  description = "Name of the OCIR push user (create_ocir_push_user = true)."
}

variable "ocir_user_email" {
  type        = string
  default     = ""
  description = "Email of the OCIR push user; tenancies with identity domains may require one."
}

variable "ocir_group_name" {
  type        = string
  default     = "function_admins"
  description = "Name of the OCIR push group (create_ocir_push_user = true)."
}

variable "ocir_policy_name" {
  type        = string
  default     = "Functions_Repo_Policy"
  description = "Name of the OCIR push policy (create_ocir_push_user = true)."
}

variable "ocir_repository_name" {
  type        = string
  default     = "logzio/logzio-from-bucket"
  description = "OCIR repository the image is pushed to: the fn context's registry path after the namespace, plus the function name."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]*$", var.ocir_repository_name))
    error_message = "The ocir_repository_name must be lower case letters, digits, '.', '_', '-' and '/'."
  }
}
