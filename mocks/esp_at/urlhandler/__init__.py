"""pyserial URL handlers of the emulators; importing `netsocket.mocks.esp_at` appends this package to
``serial.protocol_handler_packages`` so that ``serial.serial_for_url("espemu://...")`` finds
`protocol_espemu`.
"""
