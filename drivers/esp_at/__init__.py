"""drivers/esp_at."""
