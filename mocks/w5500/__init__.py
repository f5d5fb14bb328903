"""mocks/w5500."""
