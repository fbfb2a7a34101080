"""Small HTTP emulators of the sandbox: Prometheus, the HaloBuzz API stand-in (healthz),
the payment/streaming providers' status endpoints and a Slack incoming-webhook receiver.

`python -m webemu` runs them in one process, each on its own loopback port.
"""
