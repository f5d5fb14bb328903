"""netsocket.drivers."""
