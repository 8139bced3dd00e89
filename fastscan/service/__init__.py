"""Sampler as a ZMQ service (edge-device split)."""
