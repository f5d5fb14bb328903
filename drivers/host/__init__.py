"""drivers/host."""
