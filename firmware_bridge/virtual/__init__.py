"""Virtual BLE peripherals that run on the in-process bumble radio (see ``firmware_bridge.backends.bumble_link``)."""
