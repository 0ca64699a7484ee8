"""AWS access shared by every part: the client factory and the specs of the resources the stacks define."""
