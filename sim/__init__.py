"""fastscan subpackage."""
