"""The Glue test environment: its requirements, the ``awsglue`` stand-in and the helpers that switch it on."""
