"""netsocket.mocks."""
