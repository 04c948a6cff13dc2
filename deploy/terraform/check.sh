#!/usr/bin/env bash
# `make check-iac` (docs/deployment.md, "Checking the stack"): checkov and `terraform fmt -check` on deploy/terraform;
# with TF_PROVIDER_MIRROR naming a Terraform filesystem mirror that holds registry.terraform.io/oracle/oci, also
# `terraform init`, `validate` and `test` of both stacks (this one and registry/) on a fresh copy, offline. A warning
# from validate or test fails the check like an error.
#
# Usage: check.sh CHECKOV   (the checkov executable; the Makefile installs it into its own virtualenv)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
checkov=$1
stacks=(. registry)

echo "== checkov $("$checkov" --version)"
"$checkov" --directory "$here" --framework terraform --skip-download --compact

if ! command -v terraform >/dev/null 2>&1; then
    echo "terraform is not on PATH: terraform fmt, validate and test were not run"
    exit 0
fi

export TF_CLI_CONFIG_FILE=/dev/null # fmt and version need no CLI configuration (nor a warning when there is none)
echo "== $(terraform version | head -n 1): fmt -check"
terraform fmt -check -recursive "$here"

if [ -z "${TF_PROVIDER_MIRROR:-}" ]; then
    echo "TF_PROVIDER_MIRROR is not set: terraform init, validate and test were not run (docs/deployment.md, \"Checking the stack\")"
    exit 0
fi

provider="registry.terraform.io/oracle/oci"
mirror=$(cd "$TF_PROVIDER_MIRROR" 2>/dev/null && pwd) || { echo "TF_PROVIDER_MIRROR=$TF_PROVIDER_MIRROR is not a directory"; exit 1; }
# Unpacked (<version>/<os>_<arch>/terraform-provider-oci_v<version>) or packed (terraform providers mirror: zips).
if ! compgen -G "$mirror/$provider/*/*_*/terraform-provider-oci*" >/dev/null &&
    ! compgen -G "$mirror/$provider/terraform-provider-oci_*.zip" >/dev/null; then
    echo "TF_PROVIDER_MIRROR=$mirror holds no $provider/<version>/<os>_<arch>/terraform-provider-oci_v<version> (nor its zip)"
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/terraform.rc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["$provider"]
  }
  direct {
    exclude = ["$provider"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$work/terraform.rc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1

# A fresh copy: no .terraform, lock file or state of earlier runs, no tfvars that terraform would load by itself.
mkdir "$work/terraform"
tar -C "$here" --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate' --exclude='*.tfstate.*' \
    --exclude=terraform.tfvars --exclude='*.auto.tfvars' -cf - . | tar -C "$work/terraform" -xf -

for stack in "${stacks[@]}"; do
    dir="$work/terraform/$stack"
    echo "== deploy/terraform/$stack: terraform init, validate, test (provider from $mirror)"
    terraform -chdir="$dir" init -input=false -no-color >"$work/init.log" || { cat "$work/init.log"; exit 1; }
    grep -E '^- (Installed|Using) ' "$work/init.log" || true
    terraform -chdir="$dir" validate -json -no-color >"$work/validate.json" || true
    python3 - "$work/validate.json" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
for diagnostic in result["diagnostics"]:
    where = diagnostic.get("range", {})
    print(f"{diagnostic['severity']}: {diagnostic['summary']} ({where.get('filename')}:{where.get('start', {}).get('line')})")
    print(f"  {diagnostic.get('detail', '')}")
print(f"validate: valid={str(result['valid']).lower()}, {result['error_count']} errors, {result['warning_count']} warnings")
sys.exit(0 if result["valid"] and result["error_count"] == 0 and result["warning_count"] == 0 else 1)
EOF
    status=0
    terraform -chdir="$dir" test -no-color >"$work/test.log" 2>&1 || status=$?
    grep -vE '^  run ".*"\.\.\. pass$' "$work/test.log" | grep -v '^$' || true
    if [ "$status" -ne 0 ]; then
        exit "$status"
    fi
    if grep -q '^Warning:' "$work/test.log"; then
        echo "terraform test printed warnings"
        exit 1
    fi
done
