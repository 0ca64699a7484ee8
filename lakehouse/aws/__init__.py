"""AWS access shared by every part: client factory, embedded emulator, provisioning."""
