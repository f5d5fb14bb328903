"""netsocket."""
