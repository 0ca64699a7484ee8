"""The embedded AWS emulator (a moto server in its own process), its patches, and resource provisioning."""
