# Alarms as code, in each region: a Notifications topic (with an optional e-mail subscription) and four alarms, on the
# metrics the region's function posts (logzio_forwarder.metrics.METRIC_NAMES, namespace var.metrics_namespace,
# dimensions bucket, resourceId = the function's OCID and region) and on the function's own oci_faas metrics. A topic
# per region: alarms and topics are regional, and one region's alarms keep paging while another region (the home
# region too) is down or half-applied. Each alarm names its region, so a page says which region went quiet. Alarms on
# metrics in the stack's compartment need no IAM policy; the functions' `use metrics` grant is in iam.tf.

locals {
  alarm_count = var.create_alarms ? 1 : 0
  # Every datapoint the forwarder posts, and every oci_faas datapoint of the function, carries its OCID as resourceId.
  function_dimension = "resourceId = \"${oci_functions_function.forwarder.id}\""
  # MQL intervals are 1m-60m or 1h-24h.
  silence_interval = var.silence_alarm_minutes <= 60 ? "${var.silence_alarm_minutes}m" : "${var.silence_alarm_minutes / 60}h"
  replay_command   = "make replay APP=${oci_functions_application.logzio.display_name} FN=${oci_functions_function.forwarder.display_name} PREFIX=${var.input_prefix}/"
  replay_in_region = "with the fn context of ${var.region}: ${local.replay_command}"
  read_logs        = "Read the function's invocation log in ${var.region} (log group ${var.log_group_name}, log ${var.application_name}-invoke) for the {\"summary\": …} line of each invocation."
  alarm_prefix     = "${var.function_name} (${var.region})"
}

resource "oci_ons_notification_topic" "alarms" {
  count          = local.alarm_count
  compartment_id = var.compartment_ocid
  name           = "${var.alarm_topic_name}-${var.region}"
  description    = "Alarms of the ${var.function_name} Logz.io audit forwarder in ${var.region}."
  freeform_tags  = var.freeform_tags
}

# Notifications mails a confirmation link first; alarms reach the address only after it is followed.
resource "oci_ons_subscription" "alarm_email" {
  count          = var.create_alarms && var.alarm_email != "" ? 1 : 0
  compartment_id = var.compartment_ocid
  topic_id       = oci_ons_notification_topic.alarms[0].id
  protocol       = "EMAIL"
  endpoint       = var.alarm_email
  freeform_tags  = var.freeform_tags
}

# (1) Records the listener refused or that could not be sent: they are not in Logz.io.
resource "oci_monitoring_alarm" "records_not_delivered" {
  count                 = local.alarm_count
  compartment_id        = var.compartment_ocid
  display_name          = "${local.alarm_prefix}: records not delivered"
  severity              = "CRITICAL"
  is_enabled            = true
  namespace             = var.metrics_namespace
  metric_compartment_id = local.metrics_compartment
  query                 = "RecordsNotDelivered[5m]{${local.function_dimension}}.grouping().sum() > 0"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  message_format        = "ONS_OPTIMIZED"
  freeform_tags         = var.freeform_tags
  body = join("\n", [
    "${local.alarm_prefix} could not deliver some audit records to Logz.io (RecordsNotDelivered > 0): they are missing there.",
    "First: ${local.read_logs} It names the listener's answer (401 token, 400 malformed lines, 413, timeouts).",
    "Then, with the cause fixed, ${local.replay_in_region} (objects already delivered are skipped; the bucket keeps objects ${var.retention_days} days).",
  ])
}

# (2) Invocations that failed or were throttled: their objects wait for catch-up or a replay.
resource "oci_monitoring_alarm" "function_errors" {
  count                 = local.alarm_count
  compartment_id        = var.compartment_ocid
  display_name          = "${local.alarm_prefix}: function errors or throttling"
  severity              = "ERROR"
  is_enabled            = true
  namespace             = "oci_faas"
  metric_compartment_id = var.compartment_ocid
  query                 = "FunctionResponseCount[5m]{${local.function_dimension}, responseType =~ \"Error|Throttled\"}.grouping().sum() > 0"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  message_format        = "ONS_OPTIMIZED"
  freeform_tags         = var.freeform_tags
  body = join("\n", [
    "${local.alarm_prefix} failed or was throttled (oci_faas FunctionResponseCount, responseType Error or Throttled).",
    "First: ${local.read_logs} A config error names the key; timeouts point at the subnet's route to Object Storage or Logz.io.",
    "Throttling means the tenancy's Functions limits were reached. Objects of failed invocations are caught up later; to be sure, ${local.replay_in_region}",
  ])
}

# (3) Silence: no RecordsForwarded datapoint at all for silence_alarm_minutes. absent() is 1 when the metric is absent
# for the whole interval; absent(72h), the longest absence detection period, keeps the alarm firing for 3 days.
resource "oci_monitoring_alarm" "forwarding_silent" {
  count                 = local.alarm_count
  compartment_id        = var.compartment_ocid
  display_name          = "${local.alarm_prefix}: no records forwarded"
  severity              = "ERROR"
  is_enabled            = true
  namespace             = var.metrics_namespace
  metric_compartment_id = local.metrics_compartment
  query                 = "RecordsForwarded[${local.silence_interval}]{${local.function_dimension}}.groupBy(resourceId).absent(72h)"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  message_format        = "ONS_OPTIMIZED"
  freeform_tags         = var.freeform_tags
  body = join("\n", [
    "${local.alarm_prefix} has posted no RecordsForwarded for ${var.silence_alarm_minutes} minutes: in ${var.region}, the connector, the Events rule or the function has stopped (or the region was that quiet).",
    "First: check that new objects arrive in bucket ${var.bucket_name} under ${var.input_prefix} (connector ${var.connector_name}) and that rule '${var.rule_name}' is enabled. ${local.read_logs}",
    "Objects that arrived but were not forwarded, ${local.replay_in_region}",
  ])
}

# (4) Delivery lag above the threshold: records reach Logz.io late.
resource "oci_monitoring_alarm" "delivery_lag" {
  count                 = local.alarm_count
  compartment_id        = var.compartment_ocid
  display_name          = "${local.alarm_prefix}: delivery lag"
  severity              = "WARNING"
  is_enabled            = true
  namespace             = var.metrics_namespace
  metric_compartment_id = local.metrics_compartment
  query                 = "DeliveryLagSeconds[5m]{${local.function_dimension}}.grouping().max() > ${var.delivery_lag_alarm_seconds}"
  destinations          = [oci_ons_notification_topic.alarms[0].id]
  message_format        = "ONS_OPTIMIZED"
  freeform_tags         = var.freeform_tags
  body = join("\n", [
    "${local.alarm_prefix} delivers records to Logz.io more than ${var.delivery_lag_alarm_seconds} s late (DeliveryLagSeconds).",
    "First: ${local.read_logs} Look for invocations stopped at their deadline, listener retries (ListenerRetries) and failed objects.",
    "Catch-up finishes unfinished objects on later invocations; a lag that stays wants smaller connector objects or a look at the listener.",
  ])
}
