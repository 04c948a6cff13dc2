# Every precondition on the function refuses the combination it guards (one run per way to break it).

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

run "listener_both_region_and_url" {
  command = plan
  variables {
    logzio_url = "listener-eu.logz.io:8071"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "listener_neither_region_nor_url" {
  command = plan
  variables {
    logzio_region = ""
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "new_secret_and_existing_secret" {
  command = plan
  variables {
    logzio_token             = ""
    create_vault_secret      = true
    logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret"
    vault_ocid               = "ocid1.vault.oc1.eu-amsterdam-1.mockvault"
    vault_key_ocid           = "ocid1.key.oc1.eu-amsterdam-1.mockkey"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "token_and_existing_secret" {
  command = plan
  variables {
    logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "no_token_at_all" {
  command = plan
  variables {
    logzio_token = ""
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "new_secret_without_vault_key" {
  command = plan
  variables {
    create_vault_secret = true
    vault_ocid          = "ocid1.vault.oc1.eu-amsterdam-1.mockvault"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "deadline_margin_not_below_timeout" {
  command = plan
  variables {
    function_timeout_seconds = 60
    deadline_margin_seconds  = 60
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "state_prefix_inside_input_prefix" {
  command = plan
  variables {
    state_prefix = "audit/state/"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "alarms_without_metrics" {
  command = plan
  variables {
    metrics = "off"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "metrics_off_without_alarms_is_fine" {
  command = plan
  variables {
    metrics       = "off"
    create_alarms = false
  }
}

run "no_subnet_for_the_region" {
  command = plan
  variables {
    subnet_ocid  = ""
    subnet_ocids = { "eu-amsterdam-1" = "ocid1.subnet.oc1.eu-amsterdam-1.mocksubnet" }
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "image_in_another_regions_registry" {
  command = plan
  variables {
    function_image = "eu-amsterdam-1.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
  }
  expect_failures = [oci_functions_function.forwarder]
}

run "image_under_the_region_key_is_fine" {
  command = plan
  variables {
    function_image = "fra.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
  }
  assert {
    condition     = oci_functions_function.forwarder.image == "fra.ocir.io/mockns/logzio/logzio-from-bucket:0.1.0"
    error_message = "OCIR answers under the region key too."
  }
}

# Outside the home region, a new secret is looked up where the home region's apply created it; before that apply it
# is not there, and the function is not created without its token.
run "new_secret_before_the_home_region_applied" {
  command = plan
  variables {
    region              = "eu-amsterdam-1"
    create_vault_secret = true
    vault_ocid          = "ocid1.vault.oc1.eu-frankfurt-1.mockvault"
    vault_key_ocid      = "ocid1.key.oc1.eu-frankfurt-1.mockkey"
  }
  override_data {
    target = data.oci_vault_secrets.shared[0]
    values = {
      secrets = []
    }
  }
  expect_failures = [oci_functions_function.forwarder]
}
