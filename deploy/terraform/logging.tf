# The function's invocation log (its stdout/stderr: one JSON summary line per invocation), which the alarm bodies
# send operators to first.

resource "oci_logging_log_group" "forwarder" {
  compartment_id = var.compartment_ocid
  display_name   = var.log_group_name
  description    = "Logs of the ${var.function_name} Logz.io audit forwarder."
  freeform_tags  = var.freeform_tags
}

resource "oci_logging_log" "invocations" {
  display_name       = "${var.application_name}-invoke"
  log_group_id       = oci_logging_log_group.forwarder.id
  log_type           = "SERVICE"
  is_enabled         = true
  retention_duration = var.function_log_retention_days
  freeform_tags      = var.freeform_tags

  configuration {
    compartment_id = var.compartment_ocid

    source {
      category    = "invoke"
      resource    = oci_functions_application.logzio.id
      service     = "functions"
      source_type = "OCISERVICE"
    }
  }
}
