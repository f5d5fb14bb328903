"""netsocket.drivers.esp_at: ESP8266/ESP32 modules running Espressif AT firmware, as netsocket ``WiFiInterface``s.

Layers, one module each: ``parser`` (sans-IO AT tokenizer), ``dialects`` (firmware differences as data),
``commands`` (commands as data), ``links`` (link table and buffers), ``core`` (the sans-IO protocol core, the only
owner of protocol state), ``runner`` (the reader thread on pyserial), ``worker`` (the one worker thread),
``socket_jobs`` (the AT work behind the primitives), ``stack`` (``ESPATStack``, netsocket's primitives),
``module_dns`` (look-ups on the module), ``ssl_link`` and ``module_tls`` (TLS run by the module,
``ModuleTLSSocket``), ``enterprise`` (WPA2-Enterprise joins), ``startup`` (bringing the module up),
``module_services`` (ping, mDNS, power saving, country, SNTP), ``interface`` (``ESP8266Interface``, the Wi-Fi API),
``softap`` (``ESPSoftAP``, the module as an access point).
"""

from .dialects import SleepMode
from .enterprise import EapMethod
from .interface import ESP32Interface, ESP8266Interface
from .module_tls import ModuleTLSSocket, ModuleTLSVerify
from .softap import ESPSoftAP, SoftAPEvent, SoftAPEventKind, SoftAPStation
from .stack import ESPATStack

__all__ = [
    "ESP32Interface",
    "ESP8266Interface",
    "ESPATStack",
    "ESPSoftAP",
    "EapMethod",
    "ModuleTLSSocket",
    "ModuleTLSVerify",
    "SleepMode",
    "SoftAPEvent",
    "SoftAPEventKind",
    "SoftAPStation",
]
