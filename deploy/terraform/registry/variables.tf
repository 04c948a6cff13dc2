variable "tenancy_ocid" {
  type        = string
  description = "OCID of the tenancy (the user, group and policy are attached to it)."

  validation {
    condition     = can(regex("^ocid1\\.tenancy\\.", var.tenancy_ocid))
    error_message = "The tenancy_ocid must be a tenancy OCID (ocid1.tenancy.…)."
  }
}

variable "region" {
  type        = string
  description = "Region of this apply's repository, e.g. eu-amsterdam-1: one apply per region the forwarder runs in."

  validation {
    condition     = can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must be a region identifier such as eu-amsterdam-1 (not a region key such as AMS)."
  }
}

variable "home_region" {
  type        = string
  default     = ""
  description = "The tenancy's home region, where the user, group and policy must be written. Empty: the home region of the tenancy's region subscriptions."

  validation {
    condition     = var.home_region == "" || can(regex("^[a-z]+(-[a-z]+)+-[0-9]+$", var.home_region))
    error_message = "The home_region must be empty or a region identifier such as eu-frankfurt-1."
  }
}

variable "compartment_ocid" {
  type        = string
  description = "Compartment of the repository: the forwarder stack's compartment_ocid. The push policy is scoped to it."

  validation {
    condition     = can(regex("^ocid1\\.compartment\\.", var.compartment_ocid))
    error_message = "The compartment_ocid must be a compartment OCID (ocid1.compartment.…), not the root compartment."
  }
}

variable "freeform_tags" {
  type        = map(string)
  default     = {}
  description = "Free-form tags put on every taggable resource of the stack."
}

variable "ocir_user_name" {
  type        = string
  default     = "logzio_user"
  description = "Name of the push user (auth tokens only)."
}

variable "ocir_user_email" {
  type        = string
  default     = ""
  description = "E-mail of the push user; tenancies with identity domains may require one."
}

variable "ocir_group_name" {
  type        = string
  default     = "function_admins"
  description = "Name of the group that may push the image."
}

variable "ocir_policy_name" {
  type        = string
  default     = "Functions_Repo_Policy"
  description = "Name of the policy that lets the group push to the repository."
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
