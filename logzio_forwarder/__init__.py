"""Forward OCI Audit log objects from Object Storage to the Logz.io bulk listener."""

__version__ = "0.1.0"
USER_AGENT = f"oci-logzio-forwarder/{__version__}"
