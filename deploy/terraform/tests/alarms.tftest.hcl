# The alarms as rendered in one region: its topic, four alarms on the metrics the code posts and on oci_faas, named
# after the region, bodies that say what to do first.

mock_provider "oci" {
  source = "./tests/mocks"
}

mock_provider "oci" {
  alias  = "home"
  source = "./tests/mocks"
}

variables {
  tenancy_ocid     = "ocid1.tenancy.oc1..mocktenancy"
  region           = "eu-frankfurt-1"
  compartment_ocid = "ocid1.compartment.oc1..mockcompartment"
  subnet_ocid      = "ocid1.subnet.oc1.eu-frankfurt-1.mocksubnet"
  function_image   = "{region}.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
  logzio_region    = "eu"
  logzio_token     = "mockTOKEN0123456789"
}
run "four_alarms_on_one_topic" {
  assert {
    condition     = length(oci_ons_notification_topic.alarms) == 1 && oci_ons_notification_topic.alarms[0].name == "logzio-forwarder-alarms-eu-frankfurt-1" && length(oci_ons_subscription.alarm_email) == 0
    error_message = "One topic in the region, named after it, and no subscription without alarm_email."
  }
  assert {
    condition = [for alarm in [oci_monitoring_alarm.records_not_delivered[0], oci_monitoring_alarm.function_errors[0], oci_monitoring_alarm.forwarding_silent[0], oci_monitoring_alarm.delivery_lag[0]] : alarm.display_name] == [
      "logzio-from-bucket (eu-frankfurt-1): records not delivered",
      "logzio-from-bucket (eu-frankfurt-1): function errors or throttling",
      "logzio-from-bucket (eu-frankfurt-1): no records forwarded",
      "logzio-from-bucket (eu-frankfurt-1): delivery lag",
    ]
    error_message = "The alarms' display names are the documented ones."
  }
  assert {
    condition     = alltrue([for alarm in [oci_monitoring_alarm.records_not_delivered[0], oci_monitoring_alarm.function_errors[0], oci_monitoring_alarm.forwarding_silent[0], oci_monitoring_alarm.delivery_lag[0]] : alarm.destinations == tolist(["ocid1.onstopic.oc1.eu-frankfurt-1.mocktopic"]) && alarm.is_enabled])
    error_message = "Every alarm is enabled and publishes to the topic."
  }
  assert {
    condition     = oci_monitoring_alarm.records_not_delivered[0].query == "RecordsNotDelivered[5m]{resourceId = \"ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction\"}.grouping().sum() > 0" && oci_monitoring_alarm.records_not_delivered[0].severity == "CRITICAL" && oci_monitoring_alarm.records_not_delivered[0].namespace == "logzio_forwarder"
    error_message = "records_not_delivered: CRITICAL on any RecordsNotDelivered of this function."
  }
  assert {
    condition     = oci_monitoring_alarm.function_errors[0].query == "FunctionResponseCount[5m]{resourceId = \"ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction\", responseType =~ \"Error|Throttled\"}.grouping().sum() > 0" && oci_monitoring_alarm.function_errors[0].namespace == "oci_faas" && oci_monitoring_alarm.function_errors[0].metric_compartment_id == "ocid1.compartment.oc1..mockcompartment"
    error_message = "function_errors: oci_faas error and throttled responses of this function."
  }
  assert {
    condition     = oci_monitoring_alarm.forwarding_silent[0].query == "RecordsForwarded[60m]{resourceId = \"ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction\"}.groupBy(resourceId).absent(72h)"
    error_message = "forwarding_silent: no RecordsForwarded for 60 minutes."
  }
  assert {
    condition     = oci_monitoring_alarm.delivery_lag[0].query == "DeliveryLagSeconds[5m]{resourceId = \"ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction\"}.grouping().max() > 1800"
    error_message = "delivery_lag: DeliveryLagSeconds above 1800 s."
  }
  assert {
    condition     = alltrue([for alarm in [oci_monitoring_alarm.records_not_delivered[0], oci_monitoring_alarm.function_errors[0], oci_monitoring_alarm.forwarding_silent[0], oci_monitoring_alarm.delivery_lag[0]] : strcontains(alarm.body, "First: ") && strcontains(alarm.body, "invocation log")])
    error_message = "Every body says what to do first, starting from the function's invocation log."
  }
  assert {
    condition     = strcontains(oci_monitoring_alarm.records_not_delivered[0].body, "with the fn context of eu-frankfurt-1: make replay APP=logzio FN=logzio-from-bucket PREFIX=audit/")
    error_message = "The not-delivered body gives the replay command and the region to run it in."
  }
}

run "email_subscription_and_custom_thresholds" {
  variables {
    alarm_email                = "ops@example.com"
    silence_alarm_minutes      = 180
    delivery_lag_alarm_seconds = 900
    metrics_namespace          = "audit_forwarder_prod"
    metrics_compartment_ocid   = "ocid1.compartment.oc1..mockmetrics"
  }
  assert {
    condition     = oci_ons_subscription.alarm_email[0].protocol == "EMAIL" && oci_ons_subscription.alarm_email[0].endpoint == "ops@example.com" && oci_ons_subscription.alarm_email[0].topic_id == "ocid1.onstopic.oc1.eu-frankfurt-1.mocktopic"
    error_message = "alarm_email subscribes by e-mail to the topic."
  }
  assert {
    condition     = startswith(oci_monitoring_alarm.forwarding_silent[0].query, "RecordsForwarded[3h]{") && strcontains(oci_monitoring_alarm.forwarding_silent[0].body, "180 minutes")
    error_message = "A silence of 180 minutes is the MQL interval 3h."
  }
  assert {
    condition     = endswith(oci_monitoring_alarm.delivery_lag[0].query, ".max() > 900")
    error_message = "delivery_lag follows delivery_lag_alarm_seconds."
  }
  assert {
    condition     = alltrue([for alarm in [oci_monitoring_alarm.records_not_delivered[0], oci_monitoring_alarm.forwarding_silent[0], oci_monitoring_alarm.delivery_lag[0]] : alarm.namespace == "audit_forwarder_prod" && alarm.metric_compartment_id == "ocid1.compartment.oc1..mockmetrics"])
    error_message = "The alarms on the forwarder's metrics read the namespace and compartment the function posts to."
  }
  assert {
    condition     = oci_monitoring_alarm.function_errors[0].metric_compartment_id == "ocid1.compartment.oc1..mockcompartment"
    error_message = "oci_faas metrics stay in the function's compartment."
  }
}

run "no_alarms" {
  variables {
    create_alarms = false
    alarm_email   = "ops@example.com"
  }
  assert {
    condition     = length(oci_ons_notification_topic.alarms) + length(oci_ons_subscription.alarm_email) + length(oci_monitoring_alarm.records_not_delivered) + length(oci_monitoring_alarm.function_errors) + length(oci_monitoring_alarm.forwarding_silent) + length(oci_monitoring_alarm.delivery_lag) == 0
    error_message = "create_alarms = false creates no topic, subscription or alarm."
  }
  assert {
    condition     = output.alarm_topic_id == null
    error_message = "No topic id without alarms."
  }
}
