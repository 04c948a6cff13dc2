# Copy to terraform.tfvars (git-ignored) and fill in; `terraform apply` reads it. Names default to the seed's.
tenancy_ocid     = "ocid1.tenancy.oc1..aaaaaaaaexampletenancy"
region           = "eu-amsterdam-1"
compartment_ocid = "ocid1.compartment.oc1..aaaaaaaaexamplemaintenance"
subnet_ocid      = "ocid1.subnet.oc1.eu-amsterdam-1.aaaaaaaaexampleprivatesubnet"
function_image   = "eu-amsterdam-1.ocir.io/examplens/logzio/logzio-from-bucket:0.1.0"
# IAM goes to the tenancy's home region, found from its region subscriptions; set home_region only to override.

# The Logz.io account region (or logzio_url = "listener-eu.logz.io:8071", not both).
logzio_region = "eu"

# Token: one of the three ways.
# 1. A new Vault secret made from the token (recommended): the function config holds only the secret OCID.
logzio_token        = "replace-with-the-shipping-token" # or: export TF_VAR_logzio_token=...
create_vault_secret = true
vault_ocid          = "ocid1.vault.oc1.eu-amsterdam-1.aaaaaaaaexamplevault"
vault_key_ocid      = "ocid1.key.oc1.eu-amsterdam-1.aaaaaaaaexamplekey"
# 2. An existing secret: drop the four lines above and set
# logzio_token_secret_ocid = "ocid1.vaultsecret.oc1.eu-amsterdam-1.aaaaaaaaexamplesecret"
# 3. The token in the function config (like the seed): set logzio_token only.

retention_days = 3

# Alarms (on by default) mail here once the address has confirmed the subscription.
alarm_email           = "oncall@example.com"
silence_alarm_minutes = 60

freeform_tags = {
  "project" = "logzio-audit-forwarder"
}
