"""Reusable constructs the stacks are made of (one construct per module)."""
