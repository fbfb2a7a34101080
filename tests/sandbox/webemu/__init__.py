"""Small HTTP emulators of the sandbox: the HaloBuzz API stand-in (healthz), the exporter endpoints
the real Prometheus scrapes, the payment/streaming providers' status endpoints, a Slack
incoming-webhook receiver and a PagerDuty Events API v2 stand-in.

`python -m webemu` runs them in one process, each on its own loopback port.
"""
