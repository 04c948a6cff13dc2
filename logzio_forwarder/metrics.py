"""The forwarder's numbers in OCI Monitoring (custom metrics), posted once per invocation after delivery.

The metric names are a contract: the alarms in ``deploy/terraform`` query them (``tests/test_terraform.py`` holds
them to this tuple).
"""

from __future__ import annotations

METRIC_NAMES = (
    "RecordsForwarded",
    "RecordsNotDelivered",
    "UndecodableFragments",
    "RecordsShortened",
    "BytesShipped",
    "ObjectsForwarded",
    "ObjectsFailed",
    "ListenerRetries",
    "DeliveryLagSeconds",
)
"""Every metric the forwarder posts, by its exact name."""

DIMENSIONS = ("bucket", "resourceId")
"""Every datapoint carries these: the input bucket's name and the function's OCID."""
