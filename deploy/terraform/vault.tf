# Optional: the shipping token in an OCI Vault secret, so the function config holds only the secret's OCID.
# One secret serves every region: the home region's apply creates it (in vault_ocid, a vault of the home region) and
# the other regions' applies look it up by name there; their functions read it at the home region's Secrets endpoint
# (config secrets-endpoint). Rotate the token by adding a secret version (console, CLI or this stack); the function
# re-reads the secret once when Logz.io answers 401 and otherwise caches it for the container's life.

resource "oci_vault_secret" "logzio_token" {
  count          = local.token_mode == "new-secret" && local.is_home ? 1 : 0
  compartment_id = var.compartment_ocid
  vault_id       = var.vault_ocid
  key_id         = var.vault_key_ocid
  secret_name    = var.vault_secret_name
  description    = "Logz.io shipping token for the ${var.function_name} functions."
  freeform_tags  = var.freeform_tags

  secret_content {
    content_type = "BASE64"
    content      = base64encode(var.logzio_token)
  }
}

# The other regions: the secret the home region's apply created.
data "oci_vault_secrets" "shared" {
  count          = local.token_mode == "new-secret" && !local.is_home ? 1 : 0
  provider       = oci.home
  compartment_id = var.compartment_ocid
  vault_id       = var.vault_ocid
  name           = var.vault_secret_name
  state          = "ACTIVE"
}
