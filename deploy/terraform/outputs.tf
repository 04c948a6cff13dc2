output "bucket_name" {
  description = "Bucket the connector writes audit objects to (function config input-bucket)."
  value       = oci_objectstorage_bucket.audit.name
}

output "bucket_namespace" {
  description = "Object Storage namespace of the bucket (function config namespace)."
  value       = local.namespace
}

output "bucket_id" {
  description = "OCID of the bucket."
  value       = oci_objectstorage_bucket.audit.bucket_id
}

output "service_connector_id" {
  description = "OCID of the Connector Hub that archives the _Audit logs."
  value       = oci_sch_service_connector.audit_archive.id
}

output "application_id" {
  description = "OCID of the Functions application."
  value       = oci_functions_application.logzio.id
}

output "function_id" {
  description = "OCID of the forwarder function."
  value       = oci_functions_function.forwarder.id
}

output "function_invoke_endpoint" {
  description = "Invoke endpoint of the function (fn invoke / oci fn function invoke use it)."
  value       = oci_functions_function.forwarder.invoke_endpoint
}

output "events_rule_id" {
  description = "OCID of the Events rule that invokes the function for each new object."
  value       = oci_events_rule.object_created.id
}

output "dynamic_group_name" {
  description = "Dynamic group that matches every region's forwarder function (null outside the home region, whose apply writes the IAM)."
  value       = one(oci_identity_dynamic_group.function[*].name)
}

output "region" {
  description = "The region this apply deployed to (each region has its own state)."
  value       = var.region
}

output "regions" {
  description = "Every region the forwarder runs in: the given regions, or every subscribed region. make apply applies each."
  value       = local.regions
}

output "is_home_region" {
  description = "Whether this apply is the home region's, which also writes the shared IAM (and the Vault secret)."
  value       = local.is_home
}

output "function_image" {
  description = "The image this region's function runs (function_image with {region} filled in)."
  value       = local.function_image
}

output "token_secret_id" {
  description = "OCID of the Vault secret holding the shipping token (null when the token is in the function config)."
  value       = local.token_secret_id
}

output "token_mode" {
  description = "Where the function gets the token: config, new-secret or existing-secret."
  value       = local.token_mode
}

output "replay_command" {
  description = "Re-forward everything still in this region's bucket (e.g. after a Logz.io outage), with the fn context of the region."
  value       = local.replay_command
}

output "home_region" {
  description = "The region the IAM resources were written in (the tenancy's home region)."
  value       = local.home_region
}

output "metrics_namespace" {
  description = "Monitoring namespace of the forwarder's metrics (function config metrics-namespace)."
  value       = var.metrics_namespace
}

output "alarm_topic_id" {
  description = "OCID of this region's Notifications topic the alarms publish to (null with create_alarms = false); subscribe more endpoints to it."
  value       = one(oci_ons_notification_topic.alarms[*].id)
}

output "function_log_id" {
  description = "OCID of the function's invocation log (one summary line per invocation)."
  value       = oci_logging_log.invocations.id
}
