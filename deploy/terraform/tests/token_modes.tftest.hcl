# The three ways the function gets the shipping token, as Terraform renders them.

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
}

run "token_in_function_config" {
  variables {
    logzio_token = "mockTOKEN0123456789"
  }

  assert {
    condition = oci_functions_function.forwarder.config == tomap({
      "input-bucket"            = "logfile_download_bucket"
      "namespace"               = "mockns"
      "input-prefix"            = "audit"
      "state-prefix"            = "forwarder-state/"
      "logzio-region"           = "eu"
      "logzio-type"             = "oci-audit"
      "deadline-margin-seconds" = "10"
      "metrics-namespace"       = "logzio_forwarder"
      "logzio-token"            = "mockTOKEN0123456789"
    })
    error_message = "The function config in config mode is not the expected set of keys."
  }
  assert {
    condition     = length(oci_vault_secret.logzio_token) == 0 && length(oci_identity_policy.secret) == 0
    error_message = "No Vault secret and no secret grant when the token is in the function config."
  }
  assert {
    condition     = output.token_mode == "config" && output.token_secret_id == null
    error_message = "token_mode/token_secret_id outputs are wrong in config mode."
  }
}

run "token_in_new_vault_secret" {
  variables {
    logzio_token        = "mockTOKEN0123456789"
    create_vault_secret = true
    vault_ocid          = "ocid1.vault.oc1.eu-amsterdam-1.mockvault"
    vault_key_ocid      = "ocid1.key.oc1.eu-amsterdam-1.mockkey"
  }

  assert {
    condition     = oci_functions_function.forwarder.config["logzio-token-secret-id"] == "ocid1.vaultsecret.oc1.eu-frankfurt-1.mockcreatedsecret"
    error_message = "The function must get the new secret's OCID."
  }
  assert {
    condition     = !contains(keys(oci_functions_function.forwarder.config), "logzio-token")
    error_message = "The token itself must not reach the function config in a Vault mode."
  }
  assert {
    condition     = length(oci_vault_secret.logzio_token) == 1 && base64decode(oci_vault_secret.logzio_token[0].secret_content[0].content) == "mockTOKEN0123456789"
    error_message = "The new secret must hold the token (BASE64)."
  }
  assert {
    condition     = oci_identity_policy.secret[0].statements == tolist(["Allow dynamic-group logzio-from-bucket-fn to read secret-bundles in compartment id ocid1.compartment.oc1..mockcompartment where target.secret.id = 'ocid1.vaultsecret.oc1.eu-frankfurt-1.mockcreatedsecret'"])
    error_message = "The secret grant must be narrowed to the new secret."
  }
  assert {
    condition     = output.token_mode == "new-secret"
    error_message = "token_mode output is wrong in new-secret mode."
  }
}

run "token_in_existing_vault_secret" {
  variables {
    logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret"
  }

  assert {
    condition     = oci_functions_function.forwarder.config["logzio-token-secret-id"] == "ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret"
    error_message = "The function must get the given secret's OCID."
  }
  assert {
    condition     = !contains(keys(oci_functions_function.forwarder.config), "logzio-token")
    error_message = "No token in the function config when an existing secret is given."
  }
  assert {
    condition     = length(oci_vault_secret.logzio_token) == 0
    error_message = "No secret is created when one is given."
  }
  assert {
    condition     = oci_identity_policy.secret[0].statements == tolist(["Allow dynamic-group logzio-from-bucket-fn to read secret-bundles in compartment id ocid1.compartment.oc1..mocksecrets where target.secret.id = 'ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret'"])
    error_message = "The secret grant must be in the given secret's own compartment and narrowed to it."
  }
}

# One secret serves every region: outside the secret's region the function reads it at that region's Secrets endpoint.
run "new_secret_read_from_another_region" {
  variables {
    region              = "eu-amsterdam-1"
    subnet_ocid         = "ocid1.subnet.oc1.eu-amsterdam-1.mocksubnet"
    logzio_token        = "mockTOKEN0123456789"
    create_vault_secret = true
    vault_ocid          = "ocid1.vault.oc1.eu-frankfurt-1.mockvault"
    vault_key_ocid      = "ocid1.key.oc1.eu-frankfurt-1.mockkey"
  }
  assert {
    condition     = length(oci_vault_secret.logzio_token) == 0 && length(oci_identity_policy.secret) == 0
    error_message = "Only the home region's apply creates the secret and its grant."
  }
  assert {
    condition     = oci_functions_function.forwarder.config["logzio-token-secret-id"] == "ocid1.vaultsecret.oc1.eu-frankfurt-1.mockcreatedsecret" && oci_functions_function.forwarder.config["secrets-endpoint"] == "https://secrets.vaults.eu-frankfurt-1.oci.oraclecloud.com"
    error_message = "The function reads the home region's secret at the home region's Secrets endpoint."
  }
  assert {
    condition     = !contains(keys(oci_functions_function.forwarder.config), "logzio-token")
    error_message = "The token itself must not reach the function config in a Vault mode."
  }
}

run "existing_secret_in_the_functions_own_region" {
  variables {
    region                     = "eu-amsterdam-1"
    subnet_ocid                = "ocid1.subnet.oc1.eu-amsterdam-1.mocksubnet"
    logzio_token_secret_ocid   = "ocid1.vaultsecret.oc1.eu-amsterdam-1.mockgivensecret"
    logzio_token_secret_region = "eu-amsterdam-1"
  }
  assert {
    condition     = !contains(keys(oci_functions_function.forwarder.config), "secrets-endpoint")
    error_message = "A secret in the function's own region is read at the default endpoint."
  }
}
