"""drivers/w5500."""
