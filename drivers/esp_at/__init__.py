"""netsocket.drivers.esp_at: ESP8266/ESP32 modules running Espressif AT firmware, as netsocket ``WiFiInterface``s.

Layers, one module each: ``parser`` (sans-IO AT tokenizer), ``dialects`` (firmware differences as data),
``engine`` (sans-IO pending command, link table, buffers, command building), ``runner`` (the reader thread on
pyserial), ``stack`` (``ESPATStack``, netsocket's primitives), ``interface`` (``ESP8266Interface``).
"""

from .interface import ESP32Interface, ESP8266Interface
from .stack import ESPATStack

__all__ = ["ESP32Interface", "ESP8266Interface", "ESPATStack"]
