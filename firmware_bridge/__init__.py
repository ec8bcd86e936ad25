"""BLE transport, device protocols, virtual devices, recording and replay (issue: firmware_bridge)."""
