"""mocks/esp_at."""
