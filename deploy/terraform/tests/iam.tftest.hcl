# The IAM statements as rendered by the home region's apply: each principal gets its grant, narrowed to the bucket,
# secret, metric namespace or key, written in the tenancy's home region.

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
run "statements_by_default" {
  assert {
    condition = oci_identity_policy.forwarder[0].statements == tolist([
      "Allow dynamic-group logzio-from-bucket-fn to manage objects in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
      "Allow any-user to manage objects in compartment id ocid1.compartment.oc1..mockcompartment where all {request.principal.type = 'serviceconnector', request.principal.compartment.id = 'ocid1.compartment.oc1..mockcompartment', target.bucket.name = 'logfile_download_bucket'}",
      "Allow service objectstorage-eu-amsterdam-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
      "Allow service objectstorage-eu-frankfurt-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
      "Allow service objectstorage-eu-zurich-1 to manage object-family in compartment id ocid1.compartment.oc1..mockcompartment where target.bucket.name = 'logfile_download_bucket'",
      "Allow service cloudEvents to use functions-family in compartment id ocid1.compartment.oc1..mockcompartment",
      "Allow dynamic-group logzio-from-bucket-fn to use metrics in compartment id ocid1.compartment.oc1..mockcompartment where target.metrics.namespace = 'logzio_forwarder'",
    ])
    error_message = "The forwarder policy's statements are not the expected least-privilege set (each subscribed region's Object Storage runs its lifecycle rule)."
  }
  assert {
    condition     = oci_identity_policy.functions_network[0].statements == tolist(["Allow service faas to use virtual-network-family in compartment id ocid1.compartment.oc1..mocknetwork"])
    error_message = "The Functions service gets the network of the subnet's compartment only."
  }
  assert {
    condition     = oci_identity_dynamic_group.function[0].matching_rule == "ANY {resource.id = 'ocid1.fnfunc.oc1.eu-frankfurt-1.mockfunction'}"
    error_message = "The dynamic group must match this one function while no other region's is known."
  }
  assert {
    condition     = length(oci_identity_policy.bucket_key) == 0
    error_message = "Without bucket_kms_key_ocids, Object Storage gets no key grant."
  }
  assert {
    condition     = alltrue([for policy in concat(oci_identity_policy.forwarder, oci_identity_policy.functions_network) : policy.compartment_id == "ocid1.tenancy.oc1..mocktenancy"])
    error_message = "Policies are attached to the tenancy."
  }
}

run "network_compartment_can_be_given" {
  variables {
    network_compartment_ocid = "ocid1.compartment.oc1..mockgivennetwork"
  }
  assert {
    condition     = oci_identity_policy.functions_network[0].statements == tolist(["Allow service faas to use virtual-network-family in compartment id ocid1.compartment.oc1..mockgivennetwork"])
    error_message = "A given network_compartment_ocid (the compartment of every region's subnet) wins."
  }
}

run "home_region_is_derived_from_the_region_subscriptions" {
  variables {
    region = "eu-amsterdam-1"
  }
  assert {
    condition     = output.home_region == "eu-frankfurt-1"
    error_message = "With home_region empty, IAM must go to the tenancy's home region (the subscription marked is_home_region), not the stack's region."
  }
}

run "home_region_can_be_given" {
  variables {
    region      = "eu-zurich-1"
    home_region = "eu-zurich-1"
  }
  assert {
    condition     = output.home_region == "eu-zurich-1"
    error_message = "A given home_region wins."
  }
}

run "metrics_grant_follows_namespace_and_compartment" {
  variables {
    metrics_namespace        = "audit_forwarder_prod"
    metrics_compartment_ocid = "ocid1.compartment.oc1..mockmetrics"
  }
  assert {
    condition     = contains(oci_identity_policy.forwarder[0].statements, "Allow dynamic-group logzio-from-bucket-fn to use metrics in compartment id ocid1.compartment.oc1..mockmetrics where target.metrics.namespace = 'audit_forwarder_prod'")
    error_message = "The metrics grant must name the configured compartment and namespace."
  }
  assert {
    condition     = oci_functions_function.forwarder.config["metrics-namespace"] == "audit_forwarder_prod" && oci_functions_function.forwarder.config["metrics-compartment-id"] == "ocid1.compartment.oc1..mockmetrics"
    error_message = "The function must post where the grant allows."
  }
}

run "no_metrics_grant_with_metrics_off" {
  variables {
    metrics       = "off"
    create_alarms = false
  }
  assert {
    condition     = length([for s in oci_identity_policy.forwarder[0].statements : s if strcontains(s, "metrics")]) == 0
    error_message = "No metrics grant when the function posts none."
  }
  assert {
    condition     = oci_functions_function.forwarder.config["metrics"] == "off"
    error_message = "metrics = off must reach the function config."
  }
}

run "customer_managed_key_for_the_bucket" {
  variables {
    bucket_kms_key_ocids = {
      "eu-frankfurt-1" = "ocid1.key.oc1.eu-frankfurt-1.mockbucketkey"
      "eu-amsterdam-1" = "ocid1.key.oc1.eu-amsterdam-1.mockbucketkey"
    }
  }
  assert {
    condition     = oci_objectstorage_bucket.audit.kms_key_id == "ocid1.key.oc1.eu-frankfurt-1.mockbucketkey"
    error_message = "The bucket must be encrypted with its region's key."
  }
  assert {
    condition = oci_identity_policy.bucket_key[0].statements == tolist([
      "Allow service objectstorage-eu-amsterdam-1 to use keys in tenancy where target.key.id = 'ocid1.key.oc1.eu-amsterdam-1.mockbucketkey'",
      "Allow service objectstorage-eu-frankfurt-1 to use keys in tenancy where target.key.id = 'ocid1.key.oc1.eu-frankfurt-1.mockbucketkey'",
    ])
    error_message = "Each region's Object Storage may use its region's one key only."
  }
}
