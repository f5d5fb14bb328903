"""pyserial URL handlers of the ESP-AT driver (``record://``), found through the ``netsocket.serial_url_handlers``
entry point like the emulator's ``espemu://``."""
